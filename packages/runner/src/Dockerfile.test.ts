import { generateKeyPairSync, createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parse } from '@cdktf/hcl2json';
import {
  RUNNER_ENVIRONMENT,
  runnerConfigSchema,
} from '@sealed-runner/backstage-plugin-sealed-runner-common/runner';

// A checklist for the runner image, standing in for hadolint (not
// installable on these machines): packages/runner/Dockerfile and its entry
// point are parsed and held to the rules below, each rule is shown to fire on
// a small bad Dockerfile, and the entry point's shell logic is executed.
// Docker itself has no daemon here, so the image is never built in CI.

const PACKAGE_DIR = resolve(__dirname, '..');
const DOCKERFILE = readFileSync(join(PACKAGE_DIR, 'Dockerfile'), 'utf8');
const ENTRYPOINT = readFileSync(
  join(PACKAGE_DIR, 'docker/entrypoint.sh'),
  'utf8',
);
const TASK_DEFINITION_DIR = resolve(PACKAGE_DIR, '../../deploy/terraform');

// ---------------------------------------------------------------------------
// Reading a Dockerfile

interface Instruction {
  keyword: string;
  args: string;
  /** Index of the build stage (FROM) it belongs to. */
  stage: number;
}

/** Instructions with comments dropped and continuation lines joined. */
function parseDockerfile(text: string): Instruction[] {
  const instructions: Instruction[] = [];
  let pending = '';
  let stage = -1;
  for (const line of text.split('\n')) {
    if (/^\s*#/.test(line)) continue;
    pending += `${line.replace(/\\\s*$/, '')} `;
    if (/\\\s*$/.test(line)) continue;
    const match = /^\s*([A-Za-z]+)\s+(.*?)\s*$/.exec(pending);
    pending = '';
    if (!match) continue;
    const keyword = match[1].toUpperCase();
    if (keyword === 'FROM') stage++;
    instructions.push({ keyword, args: match[2].replace(/\s+/g, ' '), stage });
  }
  return instructions;
}

function finalStage(instructions: Instruction[]): Instruction[] {
  const last = Math.max(...instructions.map(i => i.stage));
  return instructions.filter(i => i.stage === last);
}

function jsonArray(args: string): string[] | undefined {
  try {
    const value = JSON.parse(args);
    return Array.isArray(value) && value.every(v => typeof v === 'string')
      ? value
      : undefined;
  } catch {
    return undefined;
  }
}

/** Packages an `apt-get install` names (its arguments that are not options). */
function aptPackages(run: string): string[][] {
  return [...run.matchAll(/apt-get install ((?:[^&;|]|&(?!&))*)/g)].map(m =>
    m[1].split(/\s+/).filter(word => word && !word.startsWith('-')),
  );
}

// ---------------------------------------------------------------------------
// The rules

interface Rule {
  id: string;
  why: string;
  /** Problems found, empty when the Dockerfile keeps the rule. */
  check(instructions: Instruction[]): string[];
}

const DIGEST = /@sha256:[0-9a-f]{64}$/;

/** Removes every setuid and setgid bit from the image's filesystem. */
const STRIP_SETUID = 'find / -xdev -perm /6000 -type f -exec chmod a-s {} +';

/** The uid and gid a `useradd` gives the user it creates. */
function sandboxUser(run: string): { uid?: string; gid?: string } | undefined {
  const useradd = /\buseradd\b[^&;|]*/.exec(run)?.[0];
  if (!useradd) return undefined;
  return {
    uid: /--uid[ =](\d+)/.exec(useradd)?.[1],
    gid: /--gid[ =](\d+)/.exec(useradd)?.[1],
  };
}

const RULES: Rule[] = [
  {
    id: 'from-pinned-by-digest',
    why: 'a tag can be re-pushed; a digest names exactly the bytes that were reviewed',
    check(instructions) {
      const stages = new Set<string>();
      const problems: string[] = [];
      for (const { keyword, args } of instructions) {
        if (keyword !== 'FROM') continue;
        const [image, as, alias] = args
          .split(' ')
          .filter(w => !w.startsWith('--'));
        if (!stages.has(image.toLowerCase()) && !DIGEST.test(image)) {
          problems.push(`FROM ${image} is not pinned by digest`);
        }
        if (as?.toUpperCase() === 'AS' && alias)
          stages.add(alias.toLowerCase());
      }
      return problems;
    },
  },
  {
    id: 'no-latest',
    why: '`latest` is whatever was pushed last',
    check: instructions =>
      instructions
        .filter(i => /:latest\b/i.test(i.args))
        .map(i => `${i.keyword} ${i.args} uses latest`),
  },
  {
    id: 'terraform-checksum',
    why: "Terraform runs with deploy credentials: its zip must match a checksum kept in this repository's review",
    check(instructions) {
      const args = new Map(
        instructions
          .filter(i => i.keyword === 'ARG')
          .map(i => i.args.split('=') as [string, string | undefined]),
      );
      const problems: string[] = [];
      if (!/^\d+\.\d+\.\d+$/.test(args.get('TERRAFORM_VERSION') ?? '')) {
        problems.push('ARG TERRAFORM_VERSION=<x.y.z> is missing');
      }
      if (!/^[0-9a-f]{64}$/.test(args.get('TERRAFORM_SHA256') ?? '')) {
        problems.push('ARG TERRAFORM_SHA256=<64 hex digits> is missing');
      }
      const downloads = instructions.filter(
        i => i.keyword === 'RUN' && i.args.includes('releases.hashicorp.com'),
      );
      if (downloads.length === 0) {
        problems.push(
          'terraform is not downloaded from releases.hashicorp.com',
        );
      }
      for (const { args: run } of downloads) {
        const download = run.indexOf(
          'releases.hashicorp.com/terraform/${TERRAFORM_VERSION}/',
        );
        const verify = run.search(/sha256sum (--check|-c)\b/);
        if (download < 0)
          problems.push('the download does not use ${TERRAFORM_VERSION}');
        if (verify < download || !run.includes('${TERRAFORM_SHA256}')) {
          problems.push(
            'the download is not followed by sha256sum --check against ${TERRAFORM_SHA256}',
          );
        }
        if (/sha256sum[^&]*\|\|/.test(run))
          problems.push('a failed checksum is ignored (||)');
      }
      return problems;
    },
  },
  {
    id: 'numeric-user',
    why: 'a user name could map to any uid; root (0:0) is spelled out, on purpose: only root can run git and Terraform as the sandbox user',
    check(instructions) {
      const users = finalStage(instructions).filter(i => i.keyword === 'USER');
      const user = users[users.length - 1]?.args;
      if (!user) return ['the final stage has no USER'];
      return /^\d+:\d+$/.test(user)
        ? []
        : [`USER ${user} is not a numeric uid:gid`];
    },
  },
  {
    id: 'sandbox-user',
    why: 'git and Terraform run as their own unprivileged user, which needs no home and no login shell',
    check(instructions) {
      const run = finalStage(instructions)
        .filter(i => i.keyword === 'RUN')
        .map(i => i.args)
        .find(args => /\buseradd\b/.test(args));
      if (!run) return ['the final stage creates no sandbox user'];
      const { uid, gid } = sandboxUser(run) ?? {};
      const problems: string[] = [];
      if (!uid || !gid || uid === '0' || gid === '0') {
        problems.push(
          'the sandbox user has no numeric, non-root --uid and --gid',
        );
      }
      if (
        !/--no-create-home\b/.test(run) ||
        /(\s-m\b|--create-home)/.test(run)
      ) {
        problems.push('the sandbox user gets a home directory');
      }
      if (!/--shell \/usr\/sbin\/nologin\b/.test(run)) {
        problems.push('the sandbox user has a login shell');
      }
      return problems;
    },
  },
  {
    id: 'no-setuid',
    why: 'a setuid or setgid binary is a way back to root for the sandbox user (Fargate cannot set no-new-privileges)',
    check(instructions) {
      const final = finalStage(instructions);
      const problems: string[] = [];
      const strip = final.findIndex(
        i => i.keyword === 'RUN' && i.args.includes(STRIP_SETUID),
      );
      if (strip < 0) {
        problems.push(`the final stage does not run ${STRIP_SETUID}`);
      } else {
        for (const later of final.slice(strip + 1)) {
          if (['RUN', 'COPY', 'ADD'].includes(later.keyword)) {
            problems.push(
              `${later.keyword} after the setuid strip: ${later.args.slice(
                0,
                80,
              )}`,
            );
          }
        }
      }
      for (const { keyword, args } of instructions) {
        const modes = [
          ...args.matchAll(/--chmod=(\S+)/g),
          ...(keyword === 'RUN'
            ? args.matchAll(/\bchmod\s+(?:-\S+\s+)*(\S+)/g)
            : []),
        ].map(m => m[1]);
        for (const mode of modes) {
          if (
            /^[0-7]*[2-7][0-7]{3}$/.test(mode) ||
            /[ugoa]*\+[rwxXt]*s/.test(mode)
          ) {
            problems.push(`${keyword} sets a setuid or setgid mode: ${mode}`);
          }
        }
      }
      return problems;
    },
  },
  {
    id: 'entrypoint-exec-form',
    why: 'shell form would wrap the entry point in `sh -c` and pass signals to the shell',
    check(instructions) {
      const entrypoints = finalStage(instructions).filter(
        i => i.keyword === 'ENTRYPOINT',
      );
      if (entrypoints.length !== 1)
        return [`the final stage has ${entrypoints.length} ENTRYPOINTs, not 1`];
      return jsonArray(entrypoints[0].args)
        ? []
        : [`ENTRYPOINT ${entrypoints[0].args} is not exec form`];
    },
  },
  {
    id: 'apt-no-recommends',
    why: 'recommended packages are code nobody chose',
    check: instructions =>
      instructions
        .filter(i => i.keyword === 'RUN' && i.args.includes('apt-get install'))
        .filter(i => !i.args.includes('--no-install-recommends'))
        .map(
          i =>
            `apt-get install without --no-install-recommends: ${i.args.slice(
              0,
              80,
            )}`,
        ),
  },
  {
    id: 'apt-lists-removed',
    why: 'package lists in a layer are dead weight and stale by the next build',
    check: instructions =>
      instructions
        .filter(i => i.keyword === 'RUN' && i.args.includes('apt-get install'))
        .filter(i => !/rm -rf \/var\/lib\/apt\/lists\/\*/.test(i.args))
        .map(
          i =>
            `apt-get install leaves /var/lib/apt/lists: ${i.args.slice(0, 80)}`,
        ),
  },
  {
    id: 'apt-pinned',
    why: 'an unpinned package is whatever the mirror has that day',
    check: instructions =>
      instructions
        .filter(i => i.keyword === 'RUN')
        .flatMap(i => aptPackages(i.args))
        .flat()
        .filter(pkg => !/^[a-z0-9.+-]+=[A-Za-z0-9.+:~-]+$/.test(pkg))
        .map(pkg => `apt package ${pkg} is not pinned (name=version)`),
  },
  {
    id: 'no-add-url',
    why: 'ADD <url> downloads without a checksum the build checks',
    check: instructions =>
      instructions
        .filter(
          i => i.keyword === 'ADD' && /\b(https?|git|ftp):\/\//.test(i.args),
        )
        .map(i => `ADD ${i.args}`),
  },
  {
    id: 'no-pipe-to-shell',
    why: 'curl | sh runs whatever the server sends',
    check: instructions =>
      instructions
        .filter(
          i =>
            i.keyword === 'RUN' &&
            /\|\s*(sudo\s+)?(\/\S*\/)?(ba|da|z|k)?sh\b/.test(i.args),
        )
        .map(i => `a download piped into a shell: ${i.args.slice(0, 80)}`),
  },
  {
    id: 'no-cd',
    why: 'a `cd` in RUN hides which directory later commands run in (WORKDIR or -chdir say it)',
    check: instructions =>
      instructions
        .filter(i => i.keyword === 'RUN' && /(^|[;&|(]\s*)cd\s/.test(i.args))
        .map(i => `cd in RUN: ${i.args.slice(0, 80)}`),
  },
  {
    id: 'volumes-for-writable-paths',
    why: "the task has a read-only root filesystem; ECS copies a VOLUME directory's owner and mode into its volume",
    check(instructions) {
      const volumes = finalStage(instructions)
        .filter(i => i.keyword === 'VOLUME')
        .flatMap(i => jsonArray(i.args) ?? i.args.split(' '));
      return ['/work', '/tmp']
        .filter(path => !volumes.includes(path))
        .map(path => `no VOLUME ${path}`);
    },
  },
];

function checkDockerfile(text: string): { rule: string; problem: string }[] {
  const instructions = parseDockerfile(text);
  return RULES.flatMap(rule =>
    rule.check(instructions).map(problem => ({ rule: rule.id, problem })),
  );
}

// ---------------------------------------------------------------------------
// Reading the entry point

/** The variables the entry point passes through, and those it fixes. */
function entrypointEnvironment(script: string): {
  passThrough: string[];
  fixed: string[];
} {
  const list = /^readonly PASS_THROUGH='([^']*)'$/m.exec(script)?.[1] ?? '';
  const exec = /^exec env -i "\$@"/m.test(script);
  const fixed = [
    ...(
      /^set -- ((?:[A-Z_]+="\$[A-Z_]+" ?)+)$/m.exec(script)?.[1] ?? ''
    ).matchAll(/([A-Z_]+)=/g),
  ].map(m => m[1]);
  return { passThrough: exec ? list.split(/\s+/).filter(Boolean) : [], fixed };
}

function checkEntrypoint(script: string): string[] {
  const problems: string[] = [];
  if (!script.startsWith('#!/bin/sh\n'))
    problems.push('not a #!/bin/sh script');
  if (!/^set -eu$/m.test(script)) problems.push('no set -eu');
  if (!/^exec env -i /m.test(script))
    problems.push('the runner is not started with env -i');
  const { passThrough, fixed } = entrypointEnvironment(script);
  const allowed = [...passThrough, ...fixed].sort();
  const expected = [...RUNNER_ENVIRONMENT].sort();
  if (JSON.stringify(allowed) !== JSON.stringify(expected)) {
    problems.push(
      `the entry point passes ${allowed.join(
        ' ',
      )}, RUNNER_ENVIRONMENT is ${expected.join(' ')}`,
    );
  }
  for (const name of ['PATH', 'HOME']) {
    if (!fixed.includes(name) || passThrough.includes(name))
      problems.push(`${name} is not fixed by the entry point`);
  }
  if (/NODE_OPTIONS/.test(script.replace(/^#.*$/gm, '')))
    problems.push('NODE_OPTIONS is referenced');
  return problems;
}

// ---------------------------------------------------------------------------

describe('packages/runner/Dockerfile', () => {
  it('keeps every rule of the checklist', () => {
    expect(checkDockerfile(DOCKERFILE)).toEqual([]);
  });

  it('has the entry point, user and writable paths the task definition relies on', () => {
    const final = finalStage(parseDockerfile(DOCKERFILE));
    const only = (keyword: string) =>
      final.filter(i => i.keyword === keyword).map(i => i.args);
    expect(only('ENTRYPOINT')).toEqual([
      '["/usr/local/bin/sealed-runner-entrypoint"]',
    ]);
    expect(only('CMD')).toEqual(['[]']);
    expect(only('USER')).toEqual(['0:0']);
    expect(only('VOLUME')).toEqual(['["/work", "/tmp"]']);
    // Root's, and only traversable to the sandbox user: it reaches the
    // per-run directories it is handed, and can list or create nothing here.
    expect(DOCKERFILE).toMatch(/chown 0:0 \/work/);
    expect(DOCKERFILE).toMatch(/chmod 0711 \/work/);
    expect(DOCKERFILE).toMatch(/chmod 1777 \/tmp/);
    expect(DOCKERFILE).toMatch(/mkdir -p \/opt\/terraform\/providers/);
  });

  // Each rule, shown to fire on a small Dockerfile that breaks only it.
  const GOOD = [
    'FROM node:20-bookworm-slim@sha256:2cf067cfed83d5ea958367df9f966191a942351a2df77d6f0193e162b5febfc0 AS base',
    'ARG TERRAFORM_VERSION=1.11.4',
    'ARG TERRAFORM_SHA256=1ce994251c00281d6845f0f268637ba50c0005657eb3cf096b92f753b42ef4dc',
    'RUN apt-get update \\',
    '  && apt-get install -y --no-install-recommends git=1:2.39.5-0+deb12u3 \\',
    '  && rm -rf /var/lib/apt/lists/*',
    'RUN curl -fsSL -o /tmp/t.zip "https://releases.hashicorp.com/terraform/${TERRAFORM_VERSION}/t.zip" \\',
    '  && printf \'%s  %s\\n\' "${TERRAFORM_SHA256}" /tmp/t.zip > /tmp/t.sha256 \\',
    '  && sha256sum --check /tmp/t.sha256',
    'FROM base AS runtime',
    'RUN groupadd --system --gid 10002 terraform \\',
    '  && useradd --system --uid 10002 --gid 10002 --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin terraform',
    'COPY --chmod=0555 entrypoint.sh /usr/local/bin/sealed-runner-entrypoint',
    `RUN mkdir -p /work && chmod 0711 /work && chmod 1777 /tmp && ${STRIP_SETUID}`,
    'VOLUME ["/work", "/tmp"]',
    'USER 0:0',
    'ENTRYPOINT ["/usr/local/bin/sealed-runner-entrypoint"]',
  ].join('\n');

  it('accepts the small good Dockerfile the bad ones are made from', () => {
    expect(checkDockerfile(GOOD)).toEqual([]);
  });

  it.each<[string, string, string]>([
    [
      'from-pinned-by-digest',
      'a tag',
      GOOD.replace(/@sha256:[0-9a-f]+ AS base/, ' AS base'),
    ],
    [
      'from-pinned-by-digest',
      'a second stage from a tag',
      `${GOOD}\nFROM debian:bookworm-slim AS other`,
    ],
    [
      'no-latest',
      'latest',
      GOOD.replace(
        'FROM base AS runtime',
        `FROM node:latest@sha256:${'a'.repeat(64)} AS runtime`,
      ),
    ],
    [
      'terraform-checksum',
      'no checksum',
      GOOD.replace(
        / \\\n {2}&& printf[^\n]*\n {2}&& sha256sum --check \/tmp\/t.sha256/,
        '',
      ),
    ],
    [
      'terraform-checksum',
      'checksum before the download',
      GOOD.replace(
        'RUN curl',
        'RUN sha256sum --check /x ${TERRAFORM_SHA256} && curl',
      ).replace(' \\\n  && sha256sum --check /tmp/t.sha256', ''),
    ],
    [
      'terraform-checksum',
      'a failed checksum ignored',
      GOOD.replace(
        'sha256sum --check /tmp/t.sha256',
        'sha256sum --check /tmp/t.sha256 || true',
      ),
    ],
    [
      'terraform-checksum',
      'no pinned checksum',
      GOOD.replace(/ARG TERRAFORM_SHA256=.*/, 'ARG TERRAFORM_SHA256'),
    ],
    [
      'terraform-checksum',
      'terraform from elsewhere',
      GOOD.replace('releases.hashicorp.com', 'example.com'),
    ],
    ['numeric-user', 'no USER', GOOD.replace('USER 0:0\n', '')],
    ['numeric-user', 'USER root', GOOD.replace('USER 0:0', 'USER root')],
    ['numeric-user', 'a uid without gid', GOOD.replace('USER 0:0', 'USER 0')],
    ['numeric-user', 'a named user', GOOD.replace('USER 0:0', 'USER node')],
    [
      'sandbox-user',
      'no sandbox user',
      GOOD.replace(/RUN groupadd[^\n]*\n[^\n]*terraform\n/, ''),
    ],
    [
      'sandbox-user',
      'a sandbox user with a shell',
      GOOD.replace('/usr/sbin/nologin', '/bin/bash'),
    ],
    [
      'sandbox-user',
      'a sandbox user with a home',
      GOOD.replace('--no-create-home', '--create-home'),
    ],
    [
      'sandbox-user',
      'a root sandbox user',
      GOOD.replace('--uid 10002', '--uid 0'),
    ],
    ['no-setuid', 'no strip', GOOD.replace(` && ${STRIP_SETUID}`, '')],
    [
      'no-setuid',
      'a COPY after the strip',
      GOOD.replace('VOLUME', 'COPY su /bin/su\nVOLUME'),
    ],
    [
      'no-setuid',
      'a setuid COPY',
      GOOD.replace('--chmod=0555', '--chmod=4755'),
    ],
    ['no-setuid', 'chmod u+s', `${GOOD}\nRUN chmod u+s /usr/bin/env`],
    [
      'no-setuid',
      'chmod 2755',
      GOOD.replace('chmod 0711 /work', 'chmod 2755 /usr/bin/env'),
    ],
    [
      'entrypoint-exec-form',
      'shell form',
      GOOD.replace(
        /ENTRYPOINT .*/,
        'ENTRYPOINT /usr/local/bin/sealed-runner-entrypoint',
      ),
    ],
    [
      'entrypoint-exec-form',
      'no ENTRYPOINT',
      GOOD.replace(/ENTRYPOINT .*/, ''),
    ],
    [
      'apt-no-recommends',
      'recommends',
      GOOD.replace(' --no-install-recommends', ''),
    ],
    [
      'apt-lists-removed',
      'lists kept',
      GOOD.replace(' \\\n  && rm -rf /var/lib/apt/lists/*', ''),
    ],
    [
      'apt-pinned',
      'an unpinned package',
      GOOD.replace('git=1:2.39.5-0+deb12u3', 'git'),
    ],
    [
      'no-add-url',
      'ADD <url>',
      `${GOOD}\nADD https://example.com/tool.tar.gz /opt/`,
    ],
    [
      'no-pipe-to-shell',
      'curl | sh',
      `${GOOD}\nRUN curl -fsSL https://example.com/install.sh | sh`,
    ],
    [
      'no-pipe-to-shell',
      'wget | bash',
      `${GOOD}\nRUN wget -qO- https://example.com/i | /bin/bash -s`,
    ],
    ['no-cd', 'cd in RUN', `${GOOD}\nRUN cd /src && yarn build`],
    [
      'volumes-for-writable-paths',
      'no /tmp volume',
      GOOD.replace('VOLUME ["/work", "/tmp"]', 'VOLUME ["/work"]'),
    ],
  ])('rule %s fires on %s', (rule, _what, bad) => {
    expect(bad).not.toBe(GOOD);
    expect(checkDockerfile(bad).map(f => f.rule)).toContain(rule);
  });
});

describe('packages/runner/docker/entrypoint.sh', () => {
  it('is a POSIX sh script that starts the runner with env -i and exactly RUNNER_ENVIRONMENT', () => {
    expect(checkEntrypoint(ENTRYPOINT)).toEqual([]);
    expect(entrypointEnvironment(ENTRYPOINT).fixed).toEqual(['PATH', 'HOME']);
  });

  it.each<[string, string]>([
    [
      'an extra variable passed through',
      ENTRYPOINT.replace('  LANG\n', '  LANG\n  NODE_EXTRA_CA_CERTS\n'),
    ],
    [
      'a RUNNER_ENVIRONMENT variable missing',
      ENTRYPOINT.replace('  SEALED_RUNNER_JOB_KEY\n', ''),
    ],
    [
      'PATH passed through instead of fixed',
      ENTRYPOINT.replace('  LANG\n', '  LANG\n  PATH\n'),
    ],
    ['no env -i', ENTRYPOINT.replace('exec env -i "$@"', 'exec env "$@"')],
    ['no set -eu', ENTRYPOINT.replace('\nset -eu\n', '\n')],
    [
      'NODE_OPTIONS honoured',
      ENTRYPOINT.replace('  LANG\n', '  LANG\n  NODE_OPTIONS\n'),
    ],
  ])('the check fires on %s', (_what, bad) => {
    expect(bad).not.toBe(ENTRYPOINT);
    expect(checkEntrypoint(bad)).not.toEqual([]);
  });

  // The script itself, run with sh: only its two paths point elsewhere —
  // node is this machine's node, the runner a stub that reports what it got.
  describe('when run', () => {
    let dir: string;
    let script: string;
    let rewritten: string;

    beforeAll(async () => {
      dir = await mkdtemp(join(tmpdir(), 'entrypoint-'));
      const stub = join(dir, 'runner-stub.js');
      await writeFile(
        stub,
        `let evalAllowed = true;
try { new Function('return 1'); } catch { evalAllowed = false; }
process.stdout.write(JSON.stringify({ argv: process.argv.slice(2), execArgv: process.execArgv, env: process.env, evalAllowed }));
`,
      );
      script = join(dir, 'entrypoint.sh');
      rewritten = ENTRYPOINT.replace(
        /^readonly NODE=.*$/m,
        `readonly NODE=${process.execPath}`,
      ).replace(/^readonly RUNNER=.*$/m, `readonly RUNNER=${stub}`);
      await writeFile(script, rewritten);
    });

    afterAll(async () => {
      await rm(dir, { recursive: true, force: true });
    });

    const CONFIG =
      '{"repositories":["https://github.com/acme/live.git"],"note":"ünïcode\\n"}\n';
    const pin = (config: string) =>
      `--config-sha256=${createHash('sha256')
        .update(config, 'utf8')
        .digest('hex')}`;

    it('runs the real script with only its node and runner paths changed', () => {
      const changed = rewritten
        .split('\n')
        .filter((line, i) => line !== ENTRYPOINT.split('\n')[i]);
      expect(changed).toEqual([
        `readonly NODE=${process.execPath}`,
        `readonly RUNNER=${join(dir, 'runner-stub.js')}`,
      ]);
    });

    function run(args: string[], env: Record<string, string>) {
      const result = spawnSync('/bin/sh', [script, ...args], {
        env,
        encoding: 'utf8',
      });
      return {
        status: result.status,
        stdout: result.stdout,
        stderr: result.stderr,
      };
    }

    it('hands the runner only the allowlisted variables, PATH and HOME fixed, the config byte for byte', () => {
      const hostile = {
        LD_PRELOAD: '/nonexistent/inject.so',
        NODE_OPTIONS: '--require=/tmp/evil.js',
        GIT_DIR: '/tmp/evil',
        GIT_SSH_COMMAND: 'sh -c evil',
        TF_CLI_CONFIG_FILE: '/tmp/evil.tfrc',
        HTTPS_PROXY: 'http://evil:3128',
        PATH: `${dir}:/usr/bin:/bin`,
        HOME: '/tmp/evil-home',
      };
      const { status, stdout } = run([pin(CONFIG)], {
        ...hostile,
        SEALED_RUNNER_CONFIG: CONFIG,
        SEALED_RUNNER_JOB_KEY: 'jobs/00000000-0000-4000-8000-000000000000.json',
        AWS_REGION: 'eu-west-1',
        AWS_CONTAINER_CREDENTIALS_RELATIVE_URI: '/v2/credentials/abc',
        LANG: 'C.UTF-8',
      });
      expect(status).toBe(0);
      const seen = JSON.parse(stdout);
      expect(seen.env).toEqual({
        PATH: '/usr/local/bin:/usr/bin:/bin',
        HOME: '/work',
        SEALED_RUNNER_CONFIG: CONFIG,
        SEALED_RUNNER_JOB_KEY: 'jobs/00000000-0000-4000-8000-000000000000.json',
        AWS_REGION: 'eu-west-1',
        AWS_CONTAINER_CREDENTIALS_RELATIVE_URI: '/v2/credentials/abc',
        LANG: 'C.UTF-8',
      });
      expect(
        Object.keys(seen.env).filter(name => !RUNNER_ENVIRONMENT.has(name)),
      ).toEqual([]);
      expect(seen.argv).toEqual([]);
    });

    it('starts node with flags this Node accepts: no eval, no native addons', () => {
      const { status, stdout, stderr } = run([pin(CONFIG)], {
        SEALED_RUNNER_CONFIG: CONFIG,
      });
      expect({ status, stderr }).toEqual({ status: 0, stderr: '' });
      const seen = JSON.parse(stdout);
      expect(seen.execArgv).toEqual([
        '--disallow-code-generation-from-strings',
        '--no-addons',
      ]);
      expect(seen.evalAllowed).toBe(false);
    });

    it.each<[string, string[], Record<string, string>, RegExp]>([
      [
        'no argument',
        [],
        { SEALED_RUNNER_CONFIG: CONFIG },
        /exactly one argument/,
      ],
      [
        'an overridden command',
        [pin(CONFIG), '--help'],
        { SEALED_RUNNER_CONFIG: CONFIG },
        /exactly one argument/,
      ],
      [
        'another argument',
        ['--config=x'],
        { SEALED_RUNNER_CONFIG: CONFIG },
        /only argument/,
      ],
      [
        'a malformed pin',
        ['--config-sha256=ABC'],
        { SEALED_RUNNER_CONFIG: CONFIG },
        /64 lowercase hex/,
      ],
      [
        'a config that is not the pinned one',
        [pin(CONFIG)],
        { SEALED_RUNNER_CONFIG: `${CONFIG} ` },
        /does not match/,
      ],
      ['no config', [pin(CONFIG)], {}, /not set/],
    ])('refuses to start the runner with %s', (_what, args, env, reason) => {
      const { status, stdout, stderr } = run(args, env);
      expect({ status, stdout }).toEqual({ status: 2, stdout: '' });
      expect(stderr).toMatch(reason);
    });
  });
});

// ---------------------------------------------------------------------------
// The image and the task definition that runs it (deploy/terraform/ecs.tf)
// must agree: entry point, user, volumes, paths, and a config this runner
// accepts.

describe('the image and its task definition', () => {
  let locals: Record<string, any>;

  beforeAll(async () => {
    locals = {};
    for (const file of (await readdir(TASK_DEFINITION_DIR)).filter(f =>
      f.endsWith('.tf'),
    )) {
      const parsed = (await parse(
        file,
        await readFile(join(TASK_DEFINITION_DIR, file), 'utf8'),
      )) as any;
      for (const block of parsed.locals ?? []) Object.assign(locals, block);
    }
  });

  it("starts the image's entry point with the config pin, as the image's user, with its volumes", () => {
    const container = locals.runner_container_shared;
    const final = finalStage(parseDockerfile(DOCKERFILE));
    const [entrypoint] = final
      .filter(i => i.keyword === 'ENTRYPOINT')
      .map(i => jsonArray(i.args)!);
    // Per environment, a for-expression (test/src/deploy.test.ts renders it
    // with Terraform): the image's entry point and the pin of that config.
    expect(locals.runner_containers).toContain(
      `entryPoint = [\n        ${JSON.stringify(
        entrypoint[0],
      )},\n        "--config-sha256=\${sha256(config_json)}",\n      ]`,
    );
    expect(container).not.toHaveProperty('entryPoint');
    expect(container).not.toHaveProperty('command');
    expect(container.user).toBe(
      final.filter(i => i.keyword === 'USER').pop()!.args,
    );
    expect(container.mountPoints.map((m: any) => m.containerPath)).toEqual(
      jsonArray(final.find(i => i.keyword === 'VOLUME')!.args),
    );
  });

  it('sandboxes git and Terraform as the user the image creates, which is not the container user', () => {
    const final = finalStage(parseDockerfile(DOCKERFILE));
    const run = final
      .filter(i => i.keyword === 'RUN')
      .map(i => i.args)
      .find(args => /\buseradd\b/.test(args))!;
    const { uid, gid } = sandboxUser(run)!;
    expect(locals.runner_config_shared.sandbox).toEqual({
      type: 'uid',
      uid: Number(uid),
      gid: Number(gid),
    });
    expect(locals.runner_container_shared.user).not.toBe(`${uid}:${gid}`);
    // Its group is created with the same id.
    expect(run).toMatch(new RegExp(`groupadd [^&]*--gid ${gid}\\b`));
  });

  it('configures the runner with paths that exist in the image, in a shape the runner accepts', () => {
    const config = locals.runner_config_shared;
    expect(config.providerMirrorDir).toBe('/opt/terraform/providers');
    expect(DOCKERFILE).toContain(
      'COPY --from=terraform /usr/local/bin/terraform /usr/local/bin/terraform',
    );
    expect(config.terraformPath).toBe('/usr/local/bin/terraform');
    expect(config.gitPath).toBe('/usr/bin/git'); // Debian's git package
    for (const key of ['workDir', 'planDir', 'stateDir', 'seenJobsDir']) {
      expect({ [key]: config[key] }).toEqual({
        [key]: expect.stringMatching(/^\/work\//),
      });
    }
    // The values Terraform computes, replaced by examples of what it computes.
    const examples: Record<string, unknown> = {
      '${var.repositories}': [
        'https://github.com/acme/infrastructure-live.git',
      ],
      '${var.job_lifetime_seconds}': 300,
      '${var.timeout_seconds}': 3600,
      '${data.aws_kms_public_key.job_signing.public_key_pem}':
        generateKeyPairSync('ed25519')
          .publicKey.export({ type: 'spki', format: 'pem' })
          .toString(),
      '${aws_s3_bucket.artifacts.bucket}':
        'sealed-runner-artifacts-20260101000000000000000001',
      '${aws_kms_key.artifacts.arn}':
        'arn:aws:kms:eu-west-1:123456789012:key/0b7f4c1e-8d2a-4c9b-9f3e-2a1d5e6f7a8b',
      '${var.region}': 'eu-west-1',
    };
    const substitute = (value: unknown): unknown => {
      if (typeof value === 'string' && value.startsWith('${')) {
        if (!(value in examples)) throw new Error(`no example for ${value}`);
        return examples[value];
      }
      if (value && typeof value === 'object' && !Array.isArray(value)) {
        return Object.fromEntries(
          Object.entries(value).map(([k, v]) => [k, substitute(v)]),
        );
      }
      return value;
    };
    // What each environment's config adds to the shared part (ecs.tf's
    // runner_configs), for one example environment.
    const parsed = runnerConfigSchema.safeParse({
      ...(substitute(config) as object),
      environments: {
        prod: {
          applyBranches: ['main'],
          planPolicy: {
            allowCodeExecution: false,
            providers: ['registry.terraform.io/hashicorp/aws'],
          },
        },
      },
      taskRoles: {
        prod: {
          plan: 'arn:aws:iam::123456789012:role/sealed-runner-prod-planner',
          apply: 'arn:aws:iam::123456789012:role/sealed-runner-prod-applier',
        },
      },
    });
    expect(parsed.error?.issues ?? []).toEqual([]);
  });
});
