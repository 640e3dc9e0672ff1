// The real tasklens stack for the end-to-end test: a fresh database, `tasklens collector` and
// `tasklens api` on free ports, and their teardown (also when the test fails or is interrupted).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const uiDir = join(dirname(fileURLToPath(import.meta.url)), '..');
export const repoDir = join(uiDir, '..');
export const artifactsDir = join(uiDir, 'e2e', 'artifacts');
const binary = join(repoDir, 'target', 'debug', 'tasklens');
const PG_SERVER = process.env.E2E_PG_SERVER ?? 'postgres://postgres@127.0.0.1:5432';

export function runOrThrow(command: string, args: string[], options: { cwd: string; env?: NodeJS.ProcessEnv }) {
  const result = spawnSync(command, args, { cwd: options.cwd, env: options.env ?? process.env, encoding: 'utf8', maxBuffer: 64 << 20 });
  if (result.status !== 0) {
    throw new Error(`${command} ${args.join(' ')} failed (${result.status ?? result.signal}):\n${result.stdout}\n${result.stderr}`);
  }
  return result.stdout;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

/** Stops `waitUntil` at once instead of retrying until the timeout. */
export class GiveUp extends Error {}

export async function waitUntil<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (error) {
      if (error instanceof GiveUp) throw error;
      lastError = error;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`timed out waiting for ${what}${lastError ? `: ${String(lastError)}` : ''}`);
}

async function httpOk(url: string, service: ChildProcess): Promise<true | undefined> {
  if (service.exitCode !== null || service.signalCode !== null) {
    throw new GiveUp(`${service.spawnargs.slice(1, 2).join(' ')} exited (${service.exitCode ?? service.signalCode}); see e2e/artifacts/*.log`);
  }
  const response = await fetch(url);
  return response.ok ? true : undefined;
}

export class Stack {
  readonly database = `tasklens_e2e_${randomBytes(6).toString('hex')}`;
  readonly databaseUrl = `${PG_SERVER}/${this.database}`;
  private readonly children: ChildProcess[] = [];
  private databaseCreated = false;
  /** The API runs with a token, so the page's token handling is part of the test. */
  readonly apiToken = randomBytes(12).toString('hex');
  apiBase = '';
  otlpHttpBase = '';

  /** Builds the binary and the page, prepares the database and starts both services. */
  async start(): Promise<void> {
    mkdirSync(artifactsDir, { recursive: true });
    process.once('exit', this.killAllNow);
    for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => void this.stop().finally(() => process.exit(1)));

    runOrThrow('cargo', ['build', '-p', 'tasklens'], { cwd: repoDir });
    runOrThrow('npm', ['run', 'build'], { cwd: uiDir });

    const env = { ...process.env, TASKLENS_DATABASE_URL: this.databaseUrl, RUST_LOG: process.env.RUST_LOG ?? 'info' };
    this.databaseCreated = true; // migrate creates it; dropping a missing one is harmless
    runOrThrow(binary, ['migrate'], { cwd: repoDir, env });

    const [grpc, otlpHttp, admin, apiPort] = await Promise.all([freePort(), freePort(), freePort(), freePort()]);
    this.otlpHttpBase = `http://127.0.0.1:${otlpHttp}`;
    this.apiBase = `http://127.0.0.1:${apiPort}`;
    const collector = this.spawnService('collector', [
      'collector',
      `--otlp-grpc-addr=127.0.0.1:${grpc}`,
      `--otlp-http-addr=127.0.0.1:${otlpHttp}`,
      `--admin-addr=127.0.0.1:${admin}`,
    ], env);
    const api = this.spawnService('api', [
      'api',
      `--http-addr=127.0.0.1:${apiPort}`,
      `--ui-dir=${join(uiDir, 'dist')}`,
      // The stuck-runs test's task type is stuck after 5 s, not the default 5 minutes.
      '--stuck-threshold=e2e_stuck_*=5s',
    ], {
      ...env,
      TASKLENS_API_TOKEN: this.apiToken,
    });
    await waitUntil('the collector to be ready', () => httpOk(`http://127.0.0.1:${admin}/readyz`, collector));
    await waitUntil('the API to be ready', () => httpOk(`${this.apiBase}/readyz`, api));
  }

  private spawnService(name: string, args: string[], env: NodeJS.ProcessEnv) {
    const log = createWriteStream(join(artifactsDir, `${name}.log`));
    const child = spawn(binary, args, { cwd: repoDir, env, stdio: ['ignore', 'pipe', 'pipe'] });
    // Both streams go to one file: neither may end it; the process's close does.
    child.stdout?.pipe(log, { end: false });
    child.stderr?.pipe(log, { end: false });
    child.on('close', () => log.end());
    child.on('exit', (code, signal) => {
      if (code !== null && code !== 0) console.error(`tasklens ${name} exited with ${code} (log: e2e/artifacts/${name}.log)`);
      else if (signal && signal !== 'SIGTERM' && signal !== 'SIGKILL') console.error(`tasklens ${name} died of ${signal}`);
    });
    this.children.push(child);
    return child;
  }

  /** Stops the services (SIGTERM, then SIGKILL) and drops the database. */
  async stop(): Promise<void> {
    await Promise.all(
      this.children.map(
        (child) =>
          new Promise<void>((resolve) => {
            if (child.exitCode !== null || child.signalCode !== null) return resolve();
            const force = setTimeout(() => child.kill('SIGKILL'), 5000);
            child.once('exit', () => {
              clearTimeout(force);
              resolve();
            });
            child.kill('SIGTERM');
          }),
      ),
    );
    this.children.length = 0;
    process.removeListener('exit', this.killAllNow);
    if (this.databaseCreated) {
      this.databaseCreated = false;
      runOrThrow('psql', [`${PG_SERVER}/postgres`, '-v', 'ON_ERROR_STOP=1', '-c', `DROP DATABASE IF EXISTS "${this.database}" WITH (FORCE)`], {
        cwd: repoDir,
      });
    }
  }

  private readonly killAllNow = () => {
    for (const child of this.children) child.kill('SIGKILL');
    if (this.databaseCreated) {
      spawnSync('psql', [`${PG_SERVER}/postgres`, '-c', `DROP DATABASE IF EXISTS "${this.database}" WITH (FORCE)`]);
    }
  };
}
