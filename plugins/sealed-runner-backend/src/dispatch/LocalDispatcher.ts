import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { closeSync, openSync } from 'node:fs';
import { mkdir, open, readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { LoggerService } from '@backstage/backend-plugin-api';
import { JsonObject } from '@backstage/types';
import {
  DispatchPoll,
  RunDispatcher,
} from '@sealed-runner/backstage-plugin-sealed-runner-node';
import {
  SealedRunnerJob,
  SYSTEM_PATH,
} from '@sealed-runner/backstage-plugin-sealed-runner-common';
import { RUNNER_CONFIG_ENV } from '@sealed-runner/backstage-plugin-sealed-runner-common/runner';
import {
  RUNNER_ENTRY_POINT,
  RUNNER_PROBE_ENTRY_POINT,
} from '@sealed-runner/runner';
import { localRunnerConfig, LocalRunnerOptions } from './localRunnerConfig';

/** Larger than the largest event a runner writes (a result with 10,000 changes). */
const MAX_READ_BYTES = 32 * 1024 * 1024;
const KILL_GRACE_MS = 30_000;
/** bubblewrap starts in milliseconds; a probe still running after this is stuck. */
const PROBE_TIMEOUT_MS = 60_000;

/** The runner programs' whole environment: nothing of the backend's is inherited. */
function runnerEnvironment(dir: string, runnerConfigJson: string) {
  return {
    PATH: SYSTEM_PATH,
    HOME: dir,
    LANG: 'C.UTF-8',
    TMPDIR: dir,
    [RUNNER_CONFIG_ENV]: runnerConfigJson,
  };
}

/**
 * Whether the runner's sandbox can start here and reach the local runner's
 * directory, asked of the runner's own probe program started as runs are:
 * the reason if it cannot.
 */
export function probeLocalSandbox(
  config: LocalRunnerOptions,
): Promise<string | undefined> {
  const env = runnerEnvironment(
    config.directory,
    JSON.stringify(localRunnerConfig(config)),
  );
  return new Promise(resolve => {
    execFile(
      process.execPath,
      [RUNNER_PROBE_ENTRY_POINT, config.directory],
      {
        cwd: config.directory,
        env,
        timeout: PROBE_TIMEOUT_MS,
        maxBuffer: 1024 * 1024,
        encoding: 'utf8',
      },
      (error, stdout) => {
        if (!error) {
          resolve(undefined);
          return;
        }
        const reason = stdout.trim().slice(0, 2000);
        resolve(reason || `the sandbox probe failed: ${error.message}`);
      },
    );
  });
}

interface LocalHandle {
  type: 'local';
  pid: number;
  /** Process start time from /proc, so a reused pid is not mistaken for the runner. */
  startTime: string | null;
  dir: string;
}

function parseHandle(handle: JsonObject): LocalHandle {
  if (
    handle.type !== 'local' ||
    typeof handle.pid !== 'number' ||
    typeof handle.dir !== 'string' ||
    !(typeof handle.startTime === 'string' || handle.startTime === null)
  ) {
    throw new Error(`not a local runner handle: ${JSON.stringify(handle)}`);
  }
  return handle as unknown as LocalHandle;
}

/** Field 22 of /proc/<pid>/stat, or null where /proc does not exist. */
async function processStartTime(
  pid: number,
): Promise<string | null | undefined> {
  let procStat: string;
  try {
    procStat = await readFile(`/proc/${pid}/stat`, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      return (await procMounted()) ? undefined : null;
    }
    throw error;
  }
  // The command name may contain spaces and parentheses: fields after the last ')'.
  const fields = procStat.slice(procStat.lastIndexOf(')') + 2).split(' ');
  if (fields[0] === 'Z' || fields[0] === 'X') {
    return undefined;
  }
  return fields[19];
}

async function procMounted(): Promise<boolean> {
  return stat('/proc/self').then(
    () => true,
    () => false,
  );
}

async function isAlive(handle: LocalHandle): Promise<boolean> {
  const startTime = await processStartTime(handle.pid);
  if (startTime === undefined) {
    return false;
  }
  if (startTime === null || handle.startTime === null) {
    // No /proc: fall back to signal 0.
    try {
      process.kill(handle.pid, 0);
      return true;
    } catch {
      return false;
    }
  }
  return startTime === handle.startTime;
}

/**
 * The embedded default: each run is a separate local process running the
 * sealed runner program, detached from the backend with a scrubbed
 * environment, its own directory and the job on stdin. Its events go to a
 * file, so it outlives a backend restart and any replica on the same host
 * can re-attach to it.
 */
export class LocalDispatcher implements RunDispatcher {
  private readonly runnerConfigJson: string;
  readonly sandboxed: boolean;

  constructor(
    private readonly options: {
      config: LocalRunnerOptions;
      logger: LoggerService;
      /** False when git and Terraform run unsandboxed (`runner.local.sandbox: false`). */
      sandboxed?: boolean;
    },
  ) {
    this.runnerConfigJson = JSON.stringify(localRunnerConfig(options.config));
    this.sandboxed = options.sandboxed ?? true;
  }

  private get runsDir() {
    return join(this.options.config.directory, 'runs');
  }

  async dispatch(job: SealedRunnerJob, document: string): Promise<JsonObject> {
    const dir = join(this.runsDir, job.runId);
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const events = openSync(join(dir, 'events.ndjson'), 'a', 0o600);
    const stderr = openSync(join(dir, 'stderr.log'), 'a', 0o600);
    try {
      const child = spawn(process.execPath, [RUNNER_ENTRY_POINT], {
        cwd: dir,
        detached: true,
        stdio: ['pipe', events, stderr],
        env: runnerEnvironment(dir, this.runnerConfigJson),
      });
      await Promise.race([
        once(child, 'spawn'),
        once(child, 'error').then(([error]) => Promise.reject(error)),
      ]);
      child.stdin!.end(document);
      child.unref();
      const handle: LocalHandle = {
        type: 'local',
        pid: child.pid!,
        startTime: (await processStartTime(child.pid!)) ?? null,
        dir,
      };
      return handle as unknown as JsonObject;
    } finally {
      closeSync(events);
      closeSync(stderr);
    }
  }

  async poll(
    rawHandle: JsonObject,
    cursor: string | undefined,
  ): Promise<DispatchPoll> {
    const handle = parseHandle(rawHandle);
    const offset = Number(cursor ?? 0);
    // Liveness first: if the runner was already gone, the file is complete.
    const alive = await isAlive(handle);
    let file;
    try {
      file = await open(join(handle.dir, 'events.ndjson'), 'r');
    } catch {
      return {
        lines: [],
        cursor: String(offset),
        state: 'lost',
        detail: `the runner's output (${handle.dir}) is gone`,
      };
    }
    try {
      const { size } = await file.stat();
      const length = Math.min(size - offset, MAX_READ_BYTES);
      const buffer = Buffer.alloc(Math.max(length, 0));
      if (length > 0) {
        await file.read(buffer, 0, length, offset);
      }
      let consumed = buffer.lastIndexOf(0x0a) + 1;
      if (!alive && offset + length === size && consumed < length) {
        // A dead runner will never finish its last line.
        consumed = length;
      }
      const text = buffer.subarray(0, consumed).toString('utf8');
      const lines = text.split('\n').filter(line => line.length > 0);
      const next = offset + consumed;
      if (alive || next < size) {
        return { lines, cursor: String(next), state: 'running' };
      }
      return {
        lines,
        cursor: String(next),
        state: 'exited',
        detail: await this.stderrTail(handle),
      };
    } finally {
      await file.close();
    }
  }

  private async stderrTail(handle: LocalHandle): Promise<string | undefined> {
    const text = await readFile(join(handle.dir, 'stderr.log'), 'utf8').catch(
      () => '',
    );
    const tail = text.trim().split('\n').slice(-3).join(' | ');
    return tail ? `runner stderr: ${tail.slice(0, 1000)}` : undefined;
  }

  async cancel(rawHandle: JsonObject): Promise<void> {
    const handle = parseHandle(rawHandle);
    if (!(await isAlive(handle))) {
      return;
    }
    // The runner turns SIGTERM into a graceful Terraform interrupt.
    process.kill(handle.pid, 'SIGTERM');
    setTimeout(async () => {
      if (await isAlive(handle)) {
        this.options.logger.warn(
          `Runner ${handle.pid} ignored SIGTERM; killing its process group`,
        );
        try {
          process.kill(-handle.pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
    }, KILL_GRACE_MS).unref();
  }

  async release(rawHandle: JsonObject): Promise<void> {
    const handle = parseHandle(rawHandle);
    await rm(handle.dir, { recursive: true, force: true });
  }
}
