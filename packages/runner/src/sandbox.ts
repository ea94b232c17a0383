import { ChildProcess } from 'node:child_process';
import { accessSync, constants, lstatSync, readlinkSync } from 'node:fs';
import {
  chmod,
  chown,
  lchown,
  lstat,
  readdir,
  readFile,
  stat,
} from 'node:fs/promises';
import { join } from 'node:path';
import { RunnerEvent } from '@sealed-runner/backstage-plugin-sealed-runner-common';
import { RunnerConfig } from '@sealed-runner/backstage-plugin-sealed-runner-common/runner';
import {
  CommandOptions,
  CommandResult,
  runCommand,
  sweepSession,
} from './process';

/**
 * A host path the sandboxed command may see, and where. Nothing else of the
 * machine is there: in a bubblewrap sandbox the root is an empty tmpfs with
 * the system (`/usr`, the few `/etc` files a program needs) read-only and
 * exactly these mounts added.
 */
export interface SandboxMount {
  source: string;
  target: string;
  writable?: boolean;
}

/** One command to run isolated: a fixed argument vector, never a shell. */
export interface SandboxCommand {
  /** The program, as the command sees the file system. */
  file: string;
  args: readonly string[];
  /** Working directory, as the command sees it. */
  cwd: string;
  /** The complete environment: nothing is inherited. */
  env: Record<string, string>;
  mounts: readonly SandboxMount[];
  /** Whether the command may use the network at all. */
  network: boolean;
}

/**
 * Where git and Terraform run. Code in a target runs in there whatever the
 * inspection decided (an allowlisted provider, `allowCodeExecution`), so
 * what it can reach is only what a command was given: never the runner's
 * key, config, event stream or plan store, other runs, or other targets'
 * state.
 */
export interface Sandbox {
  /** How the run log describes it. */
  readonly description: string;
  /** False only for `sandbox: false`. */
  readonly isolated: boolean;
  /**
   * Whether each command gets a fresh, private `/tmp` (bubblewrap). Where
   * it does not, commands get the run's own temporary folder instead: a
   * shared `/tmp` is a place to plant files for someone else.
   */
  readonly privateTmp: boolean;
  /** Where a mount is, as commands see it: its target in a mount namespace, else its source. */
  pathOf(mount: SandboxMount): string;
  /** Hands a directory the runner created to the sandbox user, for a writable mount. */
  prepareWritable(dir: string): Promise<void>;
  /**
   * Takes a directory the sandbox wrote back: from now on commands may read
   * it but not change it (a read-only mount does that for bubblewrap; for
   * `uid`, the runner owns it again).
   */
  seal(dir: string): Promise<void>;
  /**
   * Runs a command; when it returns, nothing the command started is left
   * (bubblewrap: the PID namespace dies with it; uid: every process of the
   * sandbox user is killed).
   */
  run(
    command: SandboxCommand,
    options: Pick<CommandOptions, 'signal' | 'sink' | 'captureStdout'>,
  ): Promise<CommandResult>;
}

/** Where a bubblewrap sandbox's own directories are. */
export const SANDBOX_ROOT = '/sealed';

/**
 * What of `/etc` a sandboxed git or Terraform needs: name lookups, TLS
 * roots, the user database (ssh and git ask for the current user). Nothing
 * else — `/etc` may hold an application's secrets.
 */
const ETC_FILES = [
  '/etc/passwd',
  '/etc/group',
  '/etc/hosts',
  '/etc/resolv.conf',
  '/etc/nsswitch.conf',
  '/etc/host.conf',
  '/etc/localtime',
  '/etc/ssl',
  '/etc/ca-certificates',
  '/etc/pki',
];

/** `/bin`, `/lib` and friends: a symlink into `/usr` on merged-usr systems, else a folder. */
const SYSTEM_LINKS = ['/bin', '/sbin', '/lib', '/lib32', '/lib64', '/libx32'];

function systemMounts(): string[] {
  const args = ['--ro-bind', '/usr', '/usr'];
  for (const path of SYSTEM_LINKS) {
    let info;
    try {
      info = lstatSync(path);
    } catch {
      continue;
    }
    if (info.isSymbolicLink()) {
      args.push('--symlink', readlinkSync(path), path);
    } else if (info.isDirectory()) {
      args.push('--ro-bind', path, path);
    }
  }
  for (const path of ETC_FILES) {
    args.push('--ro-bind-try', path, path);
  }
  return args;
}

/**
 * The bubblewrap argument vector for one command: every namespace unshared
 * (the network kept only when the command may use it), no further user
 * namespaces inside, no capabilities, a new session (no terminal
 * injection), killed with the runner, an empty environment but the
 * command's, and a file system of the system read-only plus the mounts.
 */
export function bwrapArguments(
  command: SandboxCommand,
  ids: { uid: number; gid: number },
): { options: string[]; command: string[] } {
  const args = [
    '--unshare-all',
    '--unshare-user',
    ...(command.network ? ['--share-net'] : []),
    '--disable-userns',
    '--die-with-parent',
    '--new-session',
    '--cap-drop',
    'ALL',
    '--uid',
    String(ids.uid),
    '--gid',
    String(ids.gid),
    '--clearenv',
    ...Object.entries(command.env).flatMap(([name, value]) => [
      '--setenv',
      name,
      value,
    ]),
    ...systemMounts(),
    '--proc',
    '/proc',
    '--dev',
    '/dev',
    '--tmpfs',
    '/tmp',
  ];
  if (command.file.startsWith('/') && !command.file.startsWith('/usr/')) {
    args.push('--ro-bind', command.file, command.file);
  }
  for (const mount of command.mounts) {
    args.push(
      mount.writable ? '--bind' : '--ro-bind',
      mount.source,
      mount.target,
    );
  }
  args.push('--chdir', command.cwd);
  return { options: args, command: ['--', command.file, ...command.args] };
}

/** Children of a process, from /proc. */
async function childrenOf(pid: number): Promise<number[]> {
  const text = await readFile(
    `/proc/${pid}/task/${pid}/children`,
    'utf8',
  ).catch(() => '');
  return text.split(/\s+/).filter(Boolean).map(Number);
}

/**
 * bubblewrap does not forward signals: an interrupt goes to the command
 * itself (bwrap → its PID 1 → the command), so Terraform stops gracefully.
 */
function interruptInside(child: ChildProcess): void {
  void (async () => {
    const inner = (
      await Promise.all((await childrenOf(child.pid!)).map(childrenOf))
    ).flat();
    if (inner.length === 0) {
      child.kill('SIGINT');
      return;
    }
    for (const pid of inner) {
      try {
        process.kill(pid, 'SIGINT');
      } catch {
        // already gone
      }
    }
  })();
}

/** Pids of every process whose real uid is `uid`. */
async function processesOf(uid: number): Promise<number[]> {
  const pids: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^[0-9]+$/.test(entry)) {
      continue;
    }
    const status = await readFile(`/proc/${entry}/status`, 'utf8').catch(
      () => '',
    );
    const real = /^Uid:\s+(\d+)/m.exec(status)?.[1];
    if (real !== undefined && Number(real) === uid) {
      pids.push(Number(entry));
    }
  }
  return pids;
}

/**
 * Kills every process of the sandbox user, until none is left (a process
 * that forks while it is killed shows up in the next round).
 */
export async function killUser(uid: number): Promise<number> {
  let killed = 0;
  for (let round = 0; round < 100; round++) {
    const pids = await processesOf(uid);
    if (pids.length === 0) {
      return killed;
    }
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
        killed += 1;
      } catch {
        // already gone
      }
    }
    await new Promise(resolve => setTimeout(resolve, 10));
  }
  throw new Error(
    `processes of uid ${uid} keep appearing; the sandbox could not be cleaned up`,
  );
}

const isRoot = () => process.getuid?.() === 0;

/**
 * The first folder on the way to `path` that the sandbox user may not
 * pass through. bubblewrap sets up the mounts as that user, so it must be
 * able to reach each source (it can never list or read the runner's own
 * folders: those stay 0700; only the way through is needed).
 */
export async function unreachableAncestor(
  path: string,
  ids: { uid: number; gid: number },
): Promise<string | undefined> {
  const parts = path.split('/').filter(Boolean);
  for (let i = 0; i < parts.length; i++) {
    const dir = `/${parts.slice(0, i).join('/')}`;
    const info = await stat(dir).catch(() => undefined);
    if (!info) {
      return undefined;
    }
    // The owner's, the group's or everyone's execute bit, as the kernel picks.
    let bit = 0o001;
    if (info.uid === ids.uid) {
      bit = 0o100;
    } else if (info.gid === ids.gid) {
      bit = 0o010;
    }
    const searchable = info.mode & bit;
    if (!searchable) {
      return dir;
    }
  }
  return undefined;
}

/** Makes a tree the runner's own again, readable but not writable by anyone else. */
async function takeBack(dir: string): Promise<void> {
  const uid = process.getuid!();
  const gid = process.getgid!();
  const walk = async (path: string): Promise<void> => {
    const info = await lstat(path);
    await lchown(path, uid, gid);
    if (info.isSymbolicLink()) {
      return;
    }
    // Readable (and, where it was executable, executable) by the sandbox user, writable by nobody but the runner.
    await chmod(path, info.isDirectory() || info.mode & 0o100 ? 0o755 : 0o644);
    if (info.isDirectory()) {
      for (const entry of await readdir(path)) {
        await walk(join(path, entry));
      }
    }
  };
  await walk(dir);
}

/**
 * The sandbox the runner's configuration names. Refuses to create one that
 * cannot work (bubblewrap missing, `uid` mode without root), so a
 * misconfigured runner fails before any command instead of running it
 * unsandboxed.
 */
export function createSandbox(config: RunnerConfig['sandbox']): Sandbox {
  if (config === false) {
    return {
      description:
        'UNSANDBOXED (sandbox: false): git and Terraform run as the runner, and can reach what it can',
      isolated: false,
      privateTmp: false,
      pathOf: mount => mount.source,
      prepareWritable: async () => undefined,
      seal: async () => undefined,
      run: async (command, options) => {
        const result = await runCommand(command.file, command.args, {
          ...options,
          cwd: command.cwd,
          env: command.env,
        });
        // Provisioners can start processes that outlive Terraform.
        await sweepSession();
        return result;
      },
    };
  }
  const root = isRoot();
  const { uid, gid } = config;
  const owner = root ? { uid, gid } : {};
  const prepareWritable = async (dir: string) => {
    if (root) {
      await chown(dir, uid, gid);
    }
    await chmod(dir, 0o700);
  };
  if (config.type === 'uid') {
    if (!root) {
      throw new Error(
        'sandbox type "uid" needs a runner running as root (it runs git and Terraform as another user)',
      );
    }
    return {
      description: `as the unprivileged user ${uid}:${gid}, every process of that user killed after each command`,
      isolated: true,
      privateTmp: false,
      pathOf: mount => mount.source,
      prepareWritable,
      seal: takeBack,
      run: async (command, options) => {
        try {
          return await runCommand(command.file, command.args, {
            ...options,
            cwd: command.cwd,
            env: command.env,
            uid,
            gid,
          });
        } finally {
          await killUser(uid);
        }
      },
    };
  }
  try {
    accessSync(config.bwrapPath, constants.X_OK);
  } catch {
    throw new Error(
      `bubblewrap is not installed at ${config.bwrapPath} (Debian/Ubuntu: apt-get install bubblewrap)`,
    );
  }
  return {
    description: `in a bubblewrap sandbox (${config.bwrapPath}) as ${
      root
        ? `the unprivileged user ${uid}:${gid}`
        : "the runner's user in its own user namespace"
    }`,
    isolated: true,
    privateTmp: true,
    pathOf: mount => mount.target,
    prepareWritable,
    seal: async () => undefined,
    run: async (command, options) => {
      if (root) {
        for (const mount of command.mounts) {
          const blocked = await unreachableAncestor(mount.source, { uid, gid });
          if (blocked) {
            throw new Error(
              `the sandbox user ${uid} cannot reach ${mount.source}: ${blocked} is not traversable (chmod o+x ${blocked}, or a+x for its group)`,
            );
          }
        }
      }
      // The options (mounts, environment) travel on a pipe, so the
      // sandbox's own PID 1 shows none of them in /proc/1/cmdline.
      const bwrap = bwrapArguments(command, { uid, gid });
      return runCommand(config.bwrapPath, ['--args', '3', ...bwrap.command], {
        ...options,
        cwd: '/',
        env: {},
        ...owner,
        interrupt: interruptInside,
        fd3: `${bwrap.options.join('\0')}\0`,
      });
    },
  };
}

/**
 * Whether bubblewrap can start a sandbox here (installed, user namespaces
 * allowed): the reason if it cannot. Run at startup by the backend and
 * before every job by the runner.
 */
export async function probeSandbox(
  config: RunnerConfig['sandbox'],
  /** Folders the sandbox will mount from (they must be reachable for its user). */
  mountedFrom: readonly string[] = [],
): Promise<string | undefined> {
  if (config === false) {
    return undefined;
  }
  let sandbox: Sandbox;
  try {
    sandbox = createSandbox(config);
  } catch (error) {
    return (error as Error).message;
  }
  if (config.type === 'uid') {
    return undefined;
  }
  const output: string[] = [];
  const sink = {
    emit: (event: RunnerEvent) =>
      event.type === 'log' && output.push(event.line),
  };
  const result = await sandbox
    .run(
      {
        file: '/usr/bin/env',
        args: ['true'],
        cwd: '/',
        env: {},
        mounts: mountedFrom.map((source, i) => ({
          source,
          target: `${SANDBOX_ROOT}/probe-${i}`,
        })),
        network: false,
      },
      { signal: new AbortController().signal, sink },
    )
    .catch((error: Error) => ({ code: -1, stdout: '', error: error.message }));
  if ('error' in result) {
    return result.error;
  }
  return result.code === 0
    ? undefined
    : `bubblewrap at ${
        config.bwrapPath
      } could not start a sandbox (are unprivileged user namespaces allowed?): ${
        output.join(' ').slice(0, 500) || `exit ${result.code}`
      }`;
}
