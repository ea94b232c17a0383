import { ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { constants } from 'node:os';

/**
 * CloudWatch's event limit (256 KiB) minus its 26 bytes of per-event
 * overhead: the awslogs driver splits a longer line into several events.
 */
const MAX_EVENT_BYTES = 262_144 - 26;

/** How long stdout/stderr may stay open after the process exited (a stray daemon holding them). */
const PIPE_DRAIN_MS = 2_000;

/** How a container ended: an exit code, or it never started. */
export type ContainerExit = { exitCode: number } | { startError: string };

export interface ContainerOptions {
  command: string[];
  cwd: string;
  /** The whole environment: nothing of the test process's leaks in. */
  env: Record<string, string>;
  /** A log event: a line of stdout or stderr, without its newline. */
  onLogLine(line: string): void;
  onStart(pid: number): void;
  onExit(exit: ContainerExit): void;
  /** SIGKILLs the container once it wrote this many stdout lines (the dieMidRun fault). */
  killAfterStdoutLines?: number;
  onKilledMidRun?(): void;
}

/**
 * Cuts a byte stream into log events as the awslogs driver does: one event
 * per line without its newline, empty lines dropped (CloudWatch refuses
 * empty events), over-long lines split at a UTF-8 boundary, and a partial
 * last line sent when the stream ends.
 */
class LineSplitter {
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private discarding = false;

  constructor(private readonly emit: (line: string) => void) {}

  push(chunk: Buffer): void {
    let start = 0;
    while (!this.discarding) {
      const newline = chunk.indexOf(0x0a, start);
      if (newline < 0) {
        this.buffer(chunk.subarray(start));
        return;
      }
      this.buffer(chunk.subarray(start, newline));
      this.flush();
      start = newline + 1;
    }
  }

  end(): void {
    if (!this.discarding) this.flush();
  }

  /** Drops everything from now on (the process died mid-write). */
  discard(): void {
    this.discarding = true;
    this.pending = [];
    this.pendingBytes = 0;
  }

  private buffer(bytes: Buffer): void {
    if (bytes.length === 0) return;
    this.pending.push(bytes);
    this.pendingBytes += bytes.length;
    while (this.pendingBytes > MAX_EVENT_BYTES && !this.discarding) {
      const line = Buffer.concat(this.pending);
      let cut = MAX_EVENT_BYTES;
      while (cut > 0 && (line[cut] & 0xc0) === 0x80) cut -= 1; // inside a UTF-8 sequence
      this.pending = [line.subarray(cut)];
      this.pendingBytes = line.length - cut;
      this.emit(line.toString('utf8', 0, cut));
    }
  }

  private flush(): void {
    if (this.pendingBytes === 0) {
      this.pending = [];
      return;
    }
    const line = Buffer.concat(this.pending).toString('utf8');
    this.pending = [];
    this.pendingBytes = 0;
    this.emit(line);
  }
}

/**
 * A task's essential container, as a real process in its own process group
 * (the container's PID namespace): stdin closed, stdout and stderr sent line
 * by line to CloudWatch Logs as the awslogs driver sends them, everything
 * left in the group killed when the main process exits.
 */
export class ContainerProcess {
  private readonly child: ChildProcess;
  private exited = false;
  /** Settles when the container has stopped and its output is flushed. */
  readonly finished: Promise<void>;

  constructor(private readonly options: ContainerOptions) {
    const [executable, ...args] = options.command;
    this.child = spawn(executable, args, {
      cwd: options.cwd,
      env: options.env,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    let finish!: () => void;
    this.finished = new Promise(resolve => {
      finish = resolve;
    });
    let done = false;
    const end = (exit: ContainerExit) => {
      if (done) return;
      done = true;
      options.onExit(exit);
      finish();
    };

    let stdoutLines = 0;
    const stdout = new LineSplitter(line => {
      options.onLogLine(line);
      stdoutLines += 1;
      if (stdoutLines === options.killAfterStdoutLines) this.killMidRun(stdout);
    });
    const stderr = new LineSplitter(line => options.onLogLine(line));
    this.child.stdout!.on('data', (chunk: Buffer) => stdout.push(chunk));
    this.child.stderr!.on('data', (chunk: Buffer) => stderr.push(chunk));

    this.child.once('spawn', () => {
      options.onStart(this.child.pid!);
      if (
        options.killAfterStdoutLines !== undefined &&
        options.killAfterStdoutLines <= 0
      ) {
        this.killMidRun(stdout);
      }
    });
    this.child.once('error', error => {
      // Only a failed spawn (ENOENT, EACCES, a missing cwd) reaches here.
      this.exited = true;
      end({ startError: `CannotStartContainerError: ${error.message}` });
    });
    this.child.once('exit', () => {
      this.exited = true;
      // The container goes with its main process: nothing it left behind
      // survives, and a grandchild holding the pipes must not hold the task.
      this.signal('SIGKILL');
      const drain = setTimeout(() => {
        this.child.stdout?.destroy();
        this.child.stderr?.destroy();
      }, PIPE_DRAIN_MS);
      void once(this.child, 'close').finally(() => clearTimeout(drain));
    });
    this.child.once(
      'close',
      (code: number | null, signal: NodeJS.Signals | null) => {
        stdout.end();
        stderr.end();
        // Docker reports a process killed by signal N as exit code 128 + N.
        const exitCode = code ?? 128 + (signal ? constants.signals[signal] : 0);
        end({ exitCode });
      },
    );
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get running(): boolean {
    return this.child.pid !== undefined && !this.exited;
  }

  /** Signals the whole process group, as `docker stop`/`kill` signal the container. */
  signal(signal: NodeJS.Signals): void {
    if (this.child.pid === undefined) return;
    try {
      process.kill(-this.child.pid, signal);
    } catch {
      // ESRCH: the group is already gone.
    }
  }

  private killMidRun(stdout: LineSplitter): void {
    // Killed between two writes: whatever follows the Nth line is lost.
    stdout.discard();
    this.signal('SIGKILL');
    this.options.onKilledMidRun?.();
  }
}
