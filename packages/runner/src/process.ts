import { ChildProcess, ChildProcessByStdio, spawn } from 'node:child_process';
import { Readable } from 'node:stream';
import { readdir, readFile } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { EventSink, log } from './events';

export interface CommandOptions {
  cwd: string;
  /** The complete environment of the child: nothing is inherited. */
  env: Record<string, string>;
  /** Aborting sends SIGINT (Terraform stops gracefully), then SIGKILL. */
  signal: AbortSignal;
  /** Stream stdout and stderr lines into the run log. */
  sink?: EventSink;
  /** Capture stdout instead of logging it (it may hold sensitive data). */
  captureStdout?: boolean;
  /** Run as this user and group (the runner is root). */
  uid?: number;
  gid?: number;
  /**
   * How an abort reaches the program gracefully: by default SIGINT to the
   * child itself; a sandbox whose child is a launcher delivers it inside.
   */
  interrupt?: (child: ChildProcess) => void;
  /** Data the child reads from file descriptor 3 (bubblewrap's `--args 3`). */
  fd3?: string;
}

export interface CommandResult {
  code: number | null;
  stdout: string;
}

const MAX_CAPTURE_BYTES = 64 * 1024 * 1024;
const KILL_GRACE_MS = 30_000;

/**
 * Runs one program with a fixed argument vector — never through a shell —
 * and an explicit environment.
 */
export function runCommand(
  file: string,
  args: readonly string[],
  options: CommandOptions,
): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    if (options.signal.aborted) {
      reject(new Error('aborted'));
      return;
    }
    // A fourth pipe only when the child reads from it.
    const stdio: Array<'ignore' | 'pipe'> = [
      'ignore',
      'pipe',
      'pipe',
      ...(options.fd3 === undefined ? [] : ['pipe' as const]),
    ];
    const child = spawn(file, args, {
      cwd: options.cwd,
      env: options.env,
      stdio,
      shell: false,
      ...(options.uid !== undefined
        ? { uid: options.uid, gid: options.gid }
        : {}),
    }) as ChildProcessByStdio<null, Readable, Readable>;
    if (options.fd3 !== undefined) {
      const fd3 = child.stdio[3] as NodeJS.WritableStream;
      fd3.on('error', () => undefined);
      fd3.end(options.fd3);
    }
    let stdout = '';
    let captured = 0;
    let killTimer: NodeJS.Timeout | undefined;
    const onAbort = () => {
      (options.interrupt ?? (c => c.kill('SIGINT')))(child);
      killTimer = setTimeout(() => child.kill('SIGKILL'), KILL_GRACE_MS);
    };
    options.signal.addEventListener('abort', onAbort, { once: true });

    if (options.captureStdout) {
      child.stdout.setEncoding('utf8');
      child.stdout.on('data', (chunk: string) => {
        captured += chunk.length;
        if (captured <= MAX_CAPTURE_BYTES) {
          stdout += chunk;
        }
      });
    } else if (options.sink) {
      const sink = options.sink;
      createInterface({ input: child.stdout }).on('line', l => log(sink, l));
    } else {
      child.stdout.resume();
    }
    if (options.sink) {
      const sink = options.sink;
      createInterface({ input: child.stderr }).on('line', l => log(sink, l));
    } else {
      child.stderr.resume();
    }

    child.on('error', error => {
      options.signal.removeEventListener('abort', onAbort);
      reject(error);
    });
    child.on('close', code => {
      options.signal.removeEventListener('abort', onAbort);
      if (killTimer) {
        clearTimeout(killTimer);
      }
      if (captured > MAX_CAPTURE_BYTES) {
        reject(new Error(`${file} wrote more than ${MAX_CAPTURE_BYTES} bytes`));
        return;
      }
      resolve({ code, stdout });
    });
  });
}

/** Fields of /proc/<pid>/stat after the command name: state, ppid, pgrp, session, … */
async function procStat(pid: string): Promise<string[] | undefined> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(
    () => undefined,
  );
  return stat?.slice(stat.lastIndexOf(')') + 2).split(' ');
}

/**
 * Kills every process left in the runner's session: anything a provisioner
 * started that outlived Terraform. Only when the runner leads its own
 * session — as the dispatcher starts it — so it never touches a caller's
 * processes. Returns how many processes it killed.
 */
export async function sweepSession(): Promise<number> {
  const self = await procStat('self');
  if (!self || Number(self[3]) !== process.pid) {
    return 0;
  }
  let killed = 0;
  for (const entry of await readdir('/proc')) {
    if (!/^[0-9]+$/.test(entry) || Number(entry) === process.pid) {
      continue;
    }
    const stat = await procStat(entry);
    if (stat && Number(stat[3]) === process.pid) {
      try {
        process.kill(Number(entry), 'SIGKILL');
        killed += 1;
      } catch {
        // already gone
      }
    }
  }
  return killed;
}
