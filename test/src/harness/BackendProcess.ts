import { ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { IsolatedRoot, REPO_ROOT } from './isolatedRoot';

export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  server.close();
  await once(server, 'close');
  return port;
}

/**
 * A `backend.auth.externalAccess` entry: a static token with `subject`,
 * restricted to the sealed-runner plugin and, when given, to `permission`
 * (without a list Backstage allows the token every permission).
 */
export function staticToken(
  token: string,
  subject: string,
  permission?: string[],
): object {
  return {
    type: 'static',
    options: { token, subject },
    accessRestrictions: [
      { plugin: 'sealed-runner', ...(permission ? { permission } : {}) },
    ],
  };
}

/**
 * A real backend (packages/backend, from its TypeScript sources, as
 * `yarn workspace backend start` runs it) in an isolated root.
 */
export class BackendProcess {
  static async start(options: {
    root: IsolatedRoot;
    /** Deep-merged over app-config.yaml (JSON is YAML). */
    config?: object;
    name?: string;
  }): Promise<BackendProcess> {
    const port = await freePort();
    const name = options.name ?? `backend-${port}`;
    const baseUrl = `http://localhost:${port}`;
    // Two files: Backstage deep-merges config files in order. The backend
    // also serves the built frontend (app-backend), so the app lives there too.
    const listen = join(options.root.root, `${name}.listen.yaml`);
    await writeFile(
      listen,
      JSON.stringify({
        app: { baseUrl },
        backend: { baseUrl, listen: { port } },
      }),
    );
    const extra = join(options.root.root, `${name}.config.yaml`);
    await writeFile(extra, JSON.stringify(options.config ?? {}));
    const log = createWriteStream(join(options.root.root, `${name}.log`), {
      flags: 'a',
    });
    const child = spawn(
      process.execPath,
      [
        '--require',
        require.resolve('@backstage/cli/config/nodeTransform.cjs'),
        join(REPO_ROOT, 'packages/backend/src/index.ts'),
        '--config',
        join(options.root.root, 'app-config.yaml'),
        '--config',
        extra,
        '--config',
        listen,
      ],
      {
        cwd: join(options.root.root, 'packages/backend'),
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
    const backend = new BackendProcess(
      child,
      baseUrl,
      join(options.root.root, `${name}.log`),
    );
    try {
      await backend.waitUntilHealthy();
    } catch (error) {
      await backend.stop('SIGKILL');
      throw error;
    }
    return backend;
  }

  private constructor(
    private readonly child: ChildProcess,
    readonly baseUrl: string,
    readonly logFile: string,
  ) {}

  private async waitUntilHealthy(timeoutMs = 90_000) {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (this.child.exitCode !== null) {
        throw new Error(
          `backend exited with ${this.child.exitCode}; see ${this.logFile}`,
        );
      }
      const ok = await fetch(`${this.baseUrl}/api/sealed-runner/health`)
        .then(r => r.ok)
        .catch(() => false);
      if (ok) {
        return;
      }
      await new Promise(r => setTimeout(r, 250));
    }
    throw new Error(`backend did not become healthy; see ${this.logFile}`);
  }

  /** The backend's process id (its RSS is in /proc/<pid>/status). */
  get pid(): number {
    return this.child.pid!;
  }

  /** Stops the process; SIGKILL simulates a crash. */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) {
      return;
    }
    const exited = once(this.child, 'exit');
    this.child.kill(signal);
    await exited;
  }
}
