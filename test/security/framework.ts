import { createHash } from 'node:crypto';
import {
  chmod,
  chown,
  lstat,
  mkdir,
  readdir,
  readFile,
  writeFile,
} from 'node:fs/promises';
import { join, relative } from 'node:path';

/**
 * The adversarial suite's small framework: every hostile input is a case
 * (`{ boundary, name, input, expect }`), every case is run against the real
 * backend or the real runner program, and every outcome is judged the same
 * way — refused (4xx, or `rejected`/`failed` with a reason), no 5xx, no
 * crash, no side effect — and counted per trust boundary.
 */

export const BOUNDARIES = {
  api: 'API bodies and query strings',
  annotations: 'Entity annotations',
  config: 'Config values',
  jobs: 'Job documents',
  'git-refs-urls': 'Git refs and repository URLs',
  hcl: 'Module sources and HCL constructs',
  'reach-outside': 'Code that reaches outside',
  signatures: 'Signatures',
} as const;

export type Boundary = keyof typeof BOUNDARIES;

export interface Case<I, E> {
  boundary: Boundary;
  name: string;
  input: I;
  expect: E;
}

/** What running one case showed. */
export interface Outcome {
  /** Refused as the case expects (4xx, or a rejected/failed result with a reason). */
  refused: boolean;
  /** The case expects the input to be harmless rather than refused, and it was. */
  inert?: boolean;
  /** A process crashed, hung, or printed a stack trace. */
  crash?: string;
  /** An HTTP answer of 500 or more. */
  fiveXX?: boolean;
  /** A file appeared or changed outside the runner's own directories, or a command ran that must not. */
  sideEffect?: string;
  /** Other expectations that did not hold (wrong reason, wrong status). */
  problems: string[];
  /** What was observed, for the failure list. */
  observed: string;
}

export interface CaseFailure {
  boundary: Boundary;
  name: string;
  observed: string;
  why: string[];
}

interface Counts {
  cases: number;
  refused: number;
  inert: number;
  crashes: number;
  sideEffects: number;
  fiveXX: number;
  failures: number;
}

const zero = (): Counts => ({
  cases: 0,
  refused: 0,
  inert: 0,
  crashes: 0,
  sideEffects: 0,
  fiveXX: 0,
  failures: 0,
});

/** Counts per boundary and the failing cases, across the whole suite. */
export class Tally {
  readonly counts = new Map<Boundary, Counts>(
    (Object.keys(BOUNDARIES) as Boundary[]).map(b => [b, zero()]),
  );
  readonly failures: CaseFailure[] = [];
  /** Every case's verdict and what was observed, for the artifact. */
  readonly results: Array<{
    boundary: Boundary;
    name: string;
    verdict: 'refused' | 'inert' | 'FAILED';
    observed: string;
  }> = [];
  /** Side effects found by suite-wide checks (canaries, the root listing). */
  readonly globalSideEffects: string[] = [];

  record(
    boundary: Boundary,
    name: string,
    outcome: Outcome,
  ): CaseFailure | undefined {
    const c = this.counts.get(boundary)!;
    c.cases += 1;
    if (outcome.refused) c.refused += 1;
    if (outcome.inert) c.inert += 1;
    if (outcome.crash) c.crashes += 1;
    if (outcome.sideEffect) c.sideEffects += 1;
    if (outcome.fiveXX) c.fiveXX += 1;
    const why = [
      ...(!outcome.refused && !outcome.inert ? ['not refused'] : []),
      ...(outcome.crash ? [`crash: ${outcome.crash}`] : []),
      ...(outcome.fiveXX ? ['5xx'] : []),
      ...(outcome.sideEffect ? [`side effect: ${outcome.sideEffect}`] : []),
      ...outcome.problems,
    ];
    let verdict: 'refused' | 'inert' | 'FAILED' = outcome.refused
      ? 'refused'
      : 'inert';
    if (why.length > 0) verdict = 'FAILED';
    this.results.push({
      boundary,
      name,
      verdict,
      observed: outcome.observed.slice(0, 300),
    });
    if (why.length === 0) {
      return undefined;
    }
    c.failures += 1;
    const failure = {
      boundary,
      name,
      observed: outcome.observed.slice(0, 400),
      why,
    };
    this.failures.push(failure);
    return failure;
  }

  /** A crash or 5xx seen outside any one case (a health check after a batch). */
  recordBatchProblem(
    boundary: Boundary,
    what: 'crash' | '5xx',
    detail: string,
  ) {
    const c = this.counts.get(boundary)!;
    if (what === 'crash') c.crashes += 1;
    else c.fiveXX += 1;
    c.failures += 1;
    this.failures.push({
      boundary,
      name: `(batch check)`,
      observed: detail,
      why: [what],
    });
  }

  recordGlobalSideEffect(detail: string) {
    this.globalSideEffects.push(detail);
  }

  total(): Counts {
    const t = zero();
    for (const c of this.counts.values()) {
      for (const key of Object.keys(t) as Array<keyof Counts>) {
        t[key] += c[key];
      }
    }
    t.sideEffects += this.globalSideEffects.length;
    return t;
  }

  failuresOf(boundary: Boundary): CaseFailure[] {
    return this.failures.filter(f => f.boundary === boundary);
  }

  toJSON() {
    return {
      boundaries: Object.fromEntries(
        [...this.counts].map(([b, c]) => [b, { title: BOUNDARIES[b], ...c }]),
      ),
      total: this.total(),
      globalSideEffects: this.globalSideEffects,
      failures: this.failures,
      cases: this.results,
    };
  }

  format(): string {
    const line = (label: string, c: Counts) =>
      `${label.padEnd(36)} cases ${String(c.cases).padStart(
        4,
      )}, refused ${String(c.refused).padStart(4)}, crashes ${
        c.crashes
      }, side effects ${c.sideEffects}, 5xx ${c.fiveXX}${
        c.inert ? ` (inert ${c.inert})` : ''
      }${c.failures ? ` — ${c.failures} FAILED` : ''}`;
    return [
      'Adversarial suite tally',
      ...[...this.counts].map(([b, c]) =>
        line(`${b} (${BOUNDARIES[b]})`.slice(0, 36), c),
      ),
      line('TOTAL', this.total()),
      ...this.globalSideEffects.map(s => `  suite-wide side effect: ${s}`),
    ].join('\n');
  }
}

/**
 * Runs cases with bounded concurrency, records each outcome, and returns
 * the failures of this batch. An executor that throws is a crash of the
 * test harness, recorded as a failure rather than lost.
 */
export async function runCases<I, E>(
  tally: Tally,
  cases: ReadonlyArray<Case<I, E>>,
  execute: (c: Case<I, E>, lane: number) => Promise<Outcome>,
  concurrency = 1,
): Promise<CaseFailure[]> {
  const failures: CaseFailure[] = [];
  let next = 0;
  const worker = async (lane: number) => {
    while (next < cases.length) {
      const c = cases[next++];
      let outcome: Outcome;
      try {
        outcome = await execute(c, lane);
      } catch (error) {
        outcome = {
          refused: false,
          problems: [`harness error: ${(error as Error).stack ?? error}`],
          observed: 'the case could not be run',
        };
      }
      const failure = tally.record(c.boundary, c.name, outcome);
      if (failure) failures.push(failure);
    }
  };
  await Promise.all(
    Array.from({ length: Math.min(concurrency, cases.length) }, (_, i) =>
      worker(i),
    ),
  );
  return failures;
}

/** Case names must be unique within a boundary, so a failure points at one input. */
export function assertUniqueNames(
  cases: ReadonlyArray<Case<unknown, unknown>>,
): void {
  const seen = new Set<string>();
  for (const c of cases) {
    const key = `${c.boundary}/${c.name}`;
    if (seen.has(key)) {
      throw new Error(`duplicate case name ${key}`);
    }
    seen.add(key);
  }
}

/** Short, printable rendering of a hostile value for failure messages. */
export function show(value: unknown, max = 120): string {
  const text =
    typeof value === 'string' ? value : JSON.stringify(value) ?? String(value);
  const cut =
    text.length > max ? `${text.slice(0, max)}…(${text.length} chars)` : text;
  return JSON.stringify(cut).replace(
    /[^\x20-\x7e]/g,
    ch => `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

// eslint-disable-next-line no-control-regex
const ANSI_COLOUR = /\x1b\[[0-9;]*m/g;

/** A log as text, without terminal colours. */
export function stripAnsi(text: string): string {
  return text.replace(ANSI_COLOUR, '');
}

/** A stack trace in a process's output: what "no uncaught exception" rules out. */
export function hasStackTrace(text: string): boolean {
  return (
    /^\s+at .+(:\d+:\d+\)?|\(native\))$/m.test(text) ||
    /crashed|uncaught|unhandled/i.test(text)
  );
}

// ---------------------------------------------------------------------------
// Side effects: canaries and the isolated root's listing

function kindOf(info: {
  isFile(): boolean;
  isDirectory(): boolean;
  isSymbolicLink(): boolean;
}): FileState['kind'] {
  if (info.isFile()) return 'file';
  if (info.isDirectory()) return 'dir';
  return info.isSymbolicLink() ? 'symlink' : 'other';
}

interface FileState {
  kind: 'file' | 'dir' | 'symlink' | 'other';
  size: number;
  mtimeMs: number;
  sha256?: string;
}

export type TreeSnapshot = Map<string, FileState>;

/**
 * Every entry below `dir` (relative paths), with size, mtime and — for files
 * up to 1 MB — a content hash. `exclude` gets the relative path and skips
 * the entry and everything below it.
 */
export async function snapshotTree(
  dir: string,
  exclude: (path: string) => boolean = () => false,
): Promise<TreeSnapshot> {
  const snapshot: TreeSnapshot = new Map();
  const walk = async (current: string) => {
    let entries;
    try {
      entries = await readdir(current, { withFileTypes: true });
    } catch {
      return;
    }
    for (const entry of entries) {
      const path = join(current, entry.name);
      const rel = relative(dir, path);
      if (exclude(rel)) continue;
      const info = await lstat(path).catch(() => undefined);
      if (!info) continue;
      const kind = kindOf(info);
      const state: FileState = {
        kind,
        size: kind === 'dir' ? 0 : info.size,
        mtimeMs: info.mtimeMs,
      };
      if (kind === 'file' && info.size <= 1024 * 1024) {
        state.sha256 = createHash('sha256')
          .update(await readFile(path))
          .digest('hex');
      }
      snapshot.set(rel, state);
      if (kind === 'dir') await walk(path);
    }
  };
  const top = await lstat(dir).catch(() => undefined);
  if (top) snapshot.set('.', { kind: 'dir', size: 0, mtimeMs: top.mtimeMs });
  await walk(dir);
  return snapshot;
}

/**
 * What changed between two snapshots: new, removed and modified entries. A
 * directory's own mtime changes whenever an entry is created in it, even if
 * it is deleted again, so it is compared too when `directoryMtimes` is set.
 */
export function diffTrees(
  before: TreeSnapshot,
  after: TreeSnapshot,
  options: { directoryMtimes: boolean },
): string[] {
  const changes: string[] = [];
  for (const [path, state] of after) {
    const old = before.get(path);
    if (!old) {
      changes.push(`new ${state.kind} ${path}`);
    } else if (old.kind !== state.kind) {
      changes.push(`${path} changed from ${old.kind} to ${state.kind}`);
    } else if (state.kind === 'dir') {
      if (options.directoryMtimes && old.mtimeMs !== state.mtimeMs) {
        changes.push(
          `directory ${path} was modified (an entry was created or removed)`,
        );
      }
    } else if (
      old.size !== state.size ||
      old.sha256 !== state.sha256 ||
      old.mtimeMs !== state.mtimeMs
    ) {
      changes.push(`modified ${state.kind} ${path}`);
    }
  }
  for (const path of before.keys()) {
    if (!after.has(path)) changes.push(`removed ${path}`);
  }
  return changes;
}

// ---------------------------------------------------------------------------
// Command wrappers: prove that git and Terraform did (not) run

/**
 * A wrapper script standing in for git or terraform: it runs the real
 * binary with the same arguments, and its log gets one line per start
 * (working directory, TF_CLI_CONFIG_FILE, arguments). Outside a sandbox the
 * wrapper writes the line itself; inside one (where its log is not
 * mounted) the sandbox wrapper of {@link createSandboxWrapper} writes it,
 * with the paths mapped back to the host.
 */
export interface ToolWrapper {
  path: string;
  log: string;
}

const shellQuote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

export async function createToolWrapper(
  dir: string,
  name: string,
  real: string,
): Promise<ToolWrapper> {
  await mkdir(dir, { recursive: true });
  const path = join(dir, name);
  const log = join(dir, `${name}.log`);
  await writeFile(log, '');
  await writeFile(
    path,
    [
      '#!/bin/sh',
      // In a sandbox the log is not there: the sandbox wrapper logged this start.
      `if [ -w ${shellQuote(log)} ]; then`,
      `  printf '%s\\t%s\\t%s\\n' "$PWD" "\${TF_CLI_CONFIG_FILE:-}" "$*" >> ${shellQuote(
        log,
      )}`,
      'fi',
      `exec ${shellQuote(real)} "$@"`,
      '',
    ].join('\n'),
  );
  await chmod(path, 0o755);
  return { path, log };
}

/**
 * The sandbox wrapper's logger (awk): reads bubblewrap's NUL-separated
 * options (the runner passes them on fd 3) and the command after `--`, and
 * appends one line to the log of the tool the command starts — its working
 * directory and TF_CLI_CONFIG_FILE mapped back through the mounts to where
 * they are outside the sandbox, then its arguments. Any other command goes
 * to `other`, with its program.
 */
const SANDBOX_LOGGER = String.raw`
function host(p,   k, best, longest) {
  if (p == "") return ""
  best = p; longest = -1
  for (k = 1; k <= m; k++) {
    if ((p == dst[k] || index(p, dst[k] "/") == 1) && length(dst[k]) > longest) {
      longest = length(dst[k]); best = src[k] substr(p, length(dst[k]) + 1)
    }
  }
  return best
}
BEGIN {
  RS = "\0"
  n = 0
  while ((getline token < options) > 0) t[++n] = token
  close(options)
  m = 0; cwd = ""; cli = ""
  for (i = 1; i <= n; i++) {
    o = t[i]
    if (o == "--bind" || o == "--ro-bind" || o == "--bind-try" || o == "--ro-bind-try" || o == "--dev-bind") {
      m++; src[m] = t[i + 1]; dst[m] = t[i + 2]; i += 2
    } else if (o == "--setenv") {
      if (t[i + 1] == "TF_CLI_CONFIG_FILE") cli = t[i + 2]
      i += 2
    } else if (o == "--symlink") {
      i += 2
    } else if (o == "--chdir") {
      cwd = t[i + 1]; i++
    } else if (o == "--uid" || o == "--gid" || o == "--cap-drop" || o == "--cap-add" || o == "--proc" || o == "--dev" || o == "--tmpfs" || o == "--dir" || o == "--remount-ro" || o == "--hostname" || o == "--unsetenv") {
      i++
    }
  }
  for (a = 1; a < ARGC; a++) if (ARGV[a] == "--") break
  program = ARGV[a + 1]
  args = ""
  for (b = a + 2; b < ARGC; b++) args = args (b > a + 2 ? " " : "") ARGV[b]
  out = other
  split(tools, pair, "\n")
  for (k = 1; pair[k] != ""; k += 2) if (program == pair[k]) out = pair[k + 1]
  if (out == other) args = program " " args
  printf "%s\t%s\t%s\n", host(cwd), host(cli), args >> out
  exit
}
`;

/**
 * A wrapper standing in for bubblewrap (the runner's `sandbox.bwrapPath`).
 * Git and Terraform run inside the sandbox, where their own wrappers cannot
 * reach their logs; bubblewrap starts outside it. So this logs every
 * sandboxed start of one of `tools` in that tool's log, then runs the real
 * bubblewrap with the same arguments and the same options on fd 3.
 *
 * A runner that is root starts bubblewrap as the sandbox user (`uid`): the
 * logs and the wrapper's scratch folder are that user's to write. Nothing
 * inside a sandbox sees them (they are not mounted).
 */
export async function createSandboxWrapper(
  dir: string,
  realBwrap: string,
  tools: ToolWrapper[],
  uid: number,
): Promise<string> {
  await mkdir(dir, { recursive: true });
  const path = join(dir, 'bwrap');
  const logger = join(dir, 'bwrap-log.awk');
  const other = join(dir, 'bwrap.log');
  const scratch = join(dir, 'bwrap-scratch');
  await mkdir(scratch, { recursive: true, mode: 0o700 });
  await writeFile(other, '');
  await writeFile(logger, SANDBOX_LOGGER);
  if (process.getuid?.() === 0) {
    for (const file of [scratch, other, ...tools.map(t => t.log)]) {
      await chown(file, uid, uid);
    }
  }
  const toolList = tools.map(t => `${t.path}\n${t.log}\n`).join('');
  await writeFile(
    path,
    [
      '#!/bin/sh',
      'PATH=/usr/bin:/bin',
      'if [ "$1" = --args ] && [ "$2" = 3 ]; then',
      `  options=$(mktemp ${shellQuote(
        join(scratch, 'options.XXXXXX'),
      )}) || exit 71`,
      '  cat <&3 > "$options"',
      `  awk -v options="$options" -v other=${shellQuote(
        other,
      )} -v tools=${shellQuote(toolList.replace(/\n/g, '\\n'))} -f ${shellQuote(
        logger,
      )} -- "$@"`,
      '  exec 3< "$options"',
      '  rm -f "$options"',
      'fi',
      `exec ${shellQuote(realBwrap)} "$@"`,
      '',
    ].join('\n'),
  );
  await chmod(path, 0o755);
  return path;
}

export interface ToolInvocation {
  cwd: string;
  cliConfigFile: string;
  args: string;
}

export async function readToolLog(
  wrapper: ToolWrapper,
): Promise<ToolInvocation[]> {
  const text = await readFile(wrapper.log, 'utf8');
  return text
    .split('\n')
    .filter(Boolean)
    .map(line => {
      const [cwd, cliConfigFile, ...args] = line.split('\t');
      return { cwd, cliConfigFile, args: args.join('\t') };
    });
}

/** Resolves a program on the fixed PATH the runner uses. */
export async function findProgram(name: string): Promise<string> {
  for (const dir of ['/usr/local/bin', '/usr/bin', '/bin']) {
    const candidate = join(dir, name);
    if (
      await lstat(candidate).then(
        () => true,
        () => false,
      )
    ) {
      return candidate;
    }
  }
  throw new Error(`${name} is not on /usr/local/bin:/usr/bin:/bin`);
}
