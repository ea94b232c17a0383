import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { freePort, IsolatedRoot, REPO_ROOT } from '../../src';
import { stripAnsi } from '../framework';

export interface ConfigStartResult {
  /** Exit code, or null if it had not exited when we stopped watching. */
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  /** Whether /health ever answered 200. */
  healthy: boolean;
  /** The backend's log, ANSI colours removed. */
  log: string;
  /** Milliseconds from the startup failure in the log to the exit (if both happened). */
  exitAfterFailureMs?: number;
}

const STARTUP_FAILED =
  /BackendStartupError|startup failed|threw an error during startup/;
const INITIALIZATION_COMPLETE = /Plugin initialization complete/;

/**
 * Starts the real backend (as BackendProcess does) with a hostile config
 * merged over app-config.yaml, and watches it: a backend must refuse to
 * start, say why, and exit. It gets its own database and runner
 * directories so it cannot disturb the suite's backend. Stopped (SIGKILL)
 * if it is still running `graceMs` after its log reports both the failure
 * and that plugin initialization is complete: Backstage lets every other
 * plugin finish starting before it shuts down (seconds when many backends
 * start at once), and only a backend still up after that lingers. One that
 * never completes is stopped at `timeoutMs`, and fails the same way.
 */
export async function startBackendWithConfig(
  root: IsolatedRoot,
  name: string,
  config: object,
  options: { timeoutMs?: number; graceMs?: number } = {},
): Promise<ConfigStartResult> {
  const port = await freePort();
  const baseUrl = `http://localhost:${port}`;
  const dir = join(root.root, 'security/config-starts', name);
  await mkdir(dir, { recursive: true });
  const isolation = {
    app: { baseUrl },
    backend: {
      baseUrl,
      listen: { port },
      database: {
        client: 'better-sqlite3',
        connection: { directory: join(dir, 'db') },
      },
    },
  };
  const files = [join(dir, 'isolation.yaml'), join(dir, 'hostile.yaml')];
  await writeFile(files[0], JSON.stringify(isolation));
  await writeFile(files[1], JSON.stringify(config));
  const logFile = join(dir, 'backend.log');
  const log = createWriteStream(logFile);
  const child = spawn(
    process.execPath,
    [
      '--require',
      require.resolve('@backstage/cli/config/nodeTransform.cjs'),
      join(REPO_ROOT, 'packages/backend/src/index.ts'),
      '--config',
      join(root.root, 'app-config.yaml'),
      '--config',
      files[0],
      '--config',
      files[1],
    ],
    {
      cwd: join(root.root, 'packages/backend'),
      env: {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        NODE_ENV: 'development',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  child.stdout!.pipe(log);
  child.stderr!.pipe(log);
  const exited = once(child, 'exit');
  const timeoutMs = options.timeoutMs ?? 60_000;
  const graceMs = options.graceMs ?? 3_000;
  const started = Date.now();
  let healthy = false;
  let failedAt: number | undefined;
  let completeAt: number | undefined;
  let exitedAt: number | undefined;
  exited.then(() => {
    exitedAt = Date.now();
  });
  while (Date.now() - started < timeoutMs && exitedAt === undefined) {
    const text = await readFile(logFile, 'utf8').catch(() => '');
    if (failedAt === undefined && STARTUP_FAILED.test(text)) {
      failedAt = Date.now();
    }
    if (failedAt !== undefined && completeAt === undefined) {
      if (INITIALIZATION_COMPLETE.test(text)) {
        completeAt = Date.now();
      }
    }
    if (completeAt !== undefined && Date.now() - completeAt > graceMs) {
      break;
    }
    healthy ||= await fetch(`${baseUrl}/api/sealed-runner/health`)
      .then(r => r.ok)
      .catch(() => false);
    if (healthy) break;
    await new Promise(r => setTimeout(r, 250));
  }
  if (exitedAt === undefined) {
    child.kill('SIGKILL');
    await exited;
  }
  await new Promise(r => log.end(r));
  const text = stripAnsi(await readFile(logFile, 'utf8'));
  const normalExit = exitedAt !== undefined && child.signalCode === null;
  return {
    exitCode: normalExit ? child.exitCode : null,
    signal: normalExit ? null : child.signalCode,
    healthy,
    log: text,
    exitAfterFailureMs:
      normalExit && failedAt !== undefined ? exitedAt! - failedAt : undefined,
  };
}
