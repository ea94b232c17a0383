import { spawn } from 'node:child_process';
import { KeyObject, sign } from 'node:crypto';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { jobSigningMessage } from '@sealed-runner/backstage-plugin-sealed-runner-common/runner';
import {
  RunnerEvent,
  SYSTEM_PATH,
  runnerEventSchema,
} from '@sealed-runner/backstage-plugin-sealed-runner-common';
import { REPO_ROOT } from '../../src';
import { hasStackTrace } from '../framework';

/** The real runner program, as the local dispatcher starts it. */
export const RUNNER_PROGRAM = join(
  REPO_ROOT,
  'packages/runner/bin/sealed-runner',
);

/** The fixed PATH the dispatcher gives the runner. */
export const RUNNER_PATH = SYSTEM_PATH;

/** A job signature exactly as the gate makes one (see jobSigningMessage). */
export function jobSignature(payload: string, key: KeyObject): Buffer {
  return sign(null, jobSigningMessage(payload), key);
}

/** A signed job document exactly as the gate hands one to a runner. */
export function signedDocument(payload: string, key: KeyObject): string {
  return JSON.stringify({
    payload,
    signature: jobSignature(payload, key).toString('base64'),
  });
}

export interface RunnerRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  events: RunnerEvent[];
  /** stdout lines that are not valid runner events. */
  invalidLines: string[];
  stderr: string;
  timedOut: boolean;
  result?: Extract<RunnerEvent, { type: 'result' }>;
}

/**
 * Starts the real runner program once: `node bin/sealed-runner`, in its own
 * session like the dispatcher starts it, with exactly `env` as its
 * environment and `stdin` as its job document.
 */
export function runRunnerProgram(options: {
  stdin: string | Buffer;
  env: Record<string, string>;
  args?: string[];
  cwd: string;
  timeoutMs?: number;
}): Promise<RunnerRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [RUNNER_PROGRAM, ...(options.args ?? [])],
      {
        cwd: options.cwd,
        env: options.env,
        stdio: ['pipe', 'pipe', 'pipe'],
        detached: true,
      },
    );
    const events: RunnerEvent[] = [];
    const invalidLines: string[] = [];
    let stderr = '';
    let timedOut = false;
    child.stderr.setEncoding('utf8').on('data', chunk => {
      if (stderr.length < 64 * 1024) stderr += chunk;
    });
    const lines = createInterface({ input: child.stdout });
    lines.on('line', line => {
      let parsed;
      try {
        parsed = runnerEventSchema.safeParse(JSON.parse(line));
      } catch {
        parsed = undefined;
      }
      if (parsed?.success) {
        events.push(parsed.data);
      } else {
        invalidLines.push(line.slice(0, 300));
      }
    });
    // The runner stops reading an oversized document: that is not our error.
    child.stdin.on('error', () => undefined);
    child.stdin.end(options.stdin);
    const timer = setTimeout(() => {
      timedOut = true;
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        // gone
      }
    }, options.timeoutMs ?? 60_000);
    child.on('error', error => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const results = events.filter(e => e.type === 'result');
      resolve({
        code,
        signal,
        events,
        invalidLines,
        stderr,
        timedOut,
        result:
          results.length === 1 && events[events.length - 1] === results[0]
            ? (results[0] as RunnerRun['result'])
            : undefined,
      });
    });
  });
}

/**
 * Why a runner run counts as a crash, if it does: killed by a signal, hung,
 * an exit code no result maps to, output that is not runner events, no
 * single final result line, or a stack trace on stderr.
 */
export function runnerCrash(run: RunnerRun): string | undefined {
  if (run.timedOut) return 'hung (killed after the timeout)';
  if (run.signal) return `killed by ${run.signal}`;
  if (run.invalidLines.length > 0)
    return `printed non-event output: ${run.invalidLines[0]}`;
  if (!run.result) return `no single final result line (exit ${run.code})`;
  if (![0, 1, 2, 3].includes(run.code ?? -1)) return `exit code ${run.code}`;
  if (hasStackTrace(run.stderr))
    return `stack trace on stderr: ${run.stderr.slice(0, 300)}`;
  return undefined;
}
