// Fails when the built page's JavaScript exceeds the budget (250 KB gzipped, all chunks together).
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const BUDGET_BYTES = 250 * 1024;
const assets = join(dirname(fileURLToPath(import.meta.url)), '..', 'dist', 'assets');
let total = 0;
for (const name of readdirSync(assets)) {
  if (!name.endsWith('.js')) continue;
  const size = gzipSync(readFileSync(join(assets, name)), { level: 9 }).length;
  total += size;
  console.log(`${name}: ${(size / 1024).toFixed(1)} KB gzipped`);
}
console.log(`JavaScript total: ${(total / 1024).toFixed(1)} KB gzipped (budget ${BUDGET_BYTES / 1024} KB)`);
if (total > BUDGET_BYTES) process.exit(1);
