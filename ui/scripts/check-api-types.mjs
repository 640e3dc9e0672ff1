// Fails when src/api/schema.ts is not what openapi-typescript makes of dashboard-api/openapi.json
// (the API changed and the page's types were not regenerated: run `npm run gen:api-types`).
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const uiDir = join(dirname(fileURLToPath(import.meta.url)), '..');
const spec = join(uiDir, '..', 'dashboard-api', 'openapi.json');
const committed = join(uiDir, 'src', 'api', 'schema.ts');

if (!existsSync(spec)) {
  console.error(`check:api-types: ${spec} does not exist`);
  process.exit(1);
}
const tempDir = mkdtempSync(join(tmpdir(), 'tasklens-api-types-'));
try {
  const generated = join(tempDir, 'schema.ts');
  execFileSync(join(uiDir, 'node_modules', '.bin', 'openapi-typescript'), [spec, '-o', generated], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  if (readFileSync(generated, 'utf8') !== readFileSync(committed, 'utf8')) {
    console.error('check:api-types: src/api/schema.ts differs from dashboard-api/openapi.json; run `npm run gen:api-types`');
    process.exitCode = 1;
  } else {
    console.log('check:api-types: src/api/schema.ts matches dashboard-api/openapi.json');
  }
} finally {
  rmSync(tempDir, { recursive: true, force: true });
}
