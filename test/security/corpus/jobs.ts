import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { Case, Outcome, readToolLog, show } from '../framework';
import {
  jobSignature,
  RUNNER_PATH,
  runnerCrash,
  runRunnerProgram,
  signedDocument,
} from '../harness/runnerProcess';
import {
  CANARY_SECRET,
  RunnerLane,
  SecurityWorld,
} from '../harness/securityWorld';
import {
  controlCharacters,
  emptyish,
  homoglyphs,
  hostileStrings,
  optionInjection,
  PROTOTYPE_NAMES,
  refTricks,
  shellMetacharacters,
  terraformInterpolation,
  traversal,
  TYPE_CONFUSION,
  urlTricks,
} from './primitives';

/** One start of the real runner program. */
export interface RunnerInput {
  /**
   * The job document on stdin; a function signs it when the case starts
   * (for a case about freshness, which must not depend on how long the
   * cases before it took).
   */
  stdin: string | Buffer | (() => string | Buffer);
  /** Variables added to the dispatcher's minimal environment. */
  env?: Record<string, string>;
  args?: string[];
  /**
   * SEALED_RUNNER_CONFIG (null: unset), made from the lane's valid config so
   * its wrappers stay the lane's own; default: that config as it is.
   */
  config?: (laneConfig: Record<string, unknown>) => string | null;
  /** Started first, in the same lane (a replay's original). */
  before?: RunnerInput;
}

export type RunnerExpect =
  | {
      status: 'rejected' | 'failed';
      /** The reason must match. */
      reason: RegExp;
      /** The reason must not match (a validly-signed job must not fail on its signature). */
      notReason?: RegExp;
      /**
       * Which of git and Terraform may start: none for anything refused
       * before a command; git for the checkout; and `terraform init` too
       * where the code is judged once more after init (a downloaded module).
       * Never plan, show or apply.
       */
      commands: 'none' | 'git-only' | 'git-and-init';
    }
  | {
      /**
       * Harmless rather than refused: the plan succeeds, every Terraform
       * start used the runner's own CLI configuration, and the run's output
       * shows `shows` (what the code read instead of the canary).
       */
      status: 'inert';
      shows: string;
    };

export type RunnerCase = Case<RunnerInput, RunnerExpect>;

/** A job as the gate issues it: a plan of payments/dev at main's head. */
export function validJob(
  world: SecurityWorld,
  overrides: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    version: 1,
    runId: randomUUID(),
    operation: 'plan',
    entityRef: 'component:default/payments',
    environment: 'dev',
    repository: world.root.demo.infrastructureLiveUrl,
    ref: 'main',
    commitSha: world.mainHead,
    path: 'live/dev/payments',
    // As the gate pins them: each vetted tag with its commit.
    modules: [world.catalogModule],
    issuedAt: new Date().toISOString(),
    ...overrides,
  };
}

/**
 * A job the runner marks as run and then refuses by its own policy before
 * any command: an apply of a feature branch to prod (prod applies only
 * main). What a replay's original must be, so that nothing runs.
 */
export function refusedAfterMarking(
  world: SecurityWorld,
  overrides: Record<string, unknown> = {},
): Record<string, unknown> {
  return validJob(world, {
    operation: 'apply',
    environment: 'prod',
    ref: 'feature',
    path: 'live/prod/payments',
    plan: { runId: randomUUID(), sha256: 'c'.repeat(64) },
    ...overrides,
  });
}

const SIGNATURE_REASON = /signature does not verify|not a signed job document/;

/**
 * Runs one runner case in a lane and judges it: the exit code and result
 * match, the reason is there, nothing crashed, and the lane's git and
 * Terraform wrappers logged no start they should not have.
 */
export async function runRunnerCase(
  c: RunnerCase,
  lane: RunnerLane,
): Promise<Outcome> {
  const start = async (input: RunnerInput) => {
    const env: Record<string, string> = {
      PATH: RUNNER_PATH,
      HOME: lane.home,
      LANG: 'C.UTF-8',
      TMPDIR: lane.home,
      ...input.env,
    };
    const config =
      input.config === undefined ? lane.configJson : input.config(lane.config);
    if (config !== null) env.SEALED_RUNNER_CONFIG = config;
    return runRunnerProgram({
      stdin: typeof input.stdin === 'function' ? input.stdin() : input.stdin,
      env,
      args: input.args,
      cwd: lane.home,
    });
  };
  if (c.input.before) {
    await start(c.input.before);
  }
  const gitBefore = (await readToolLog(lane.git)).length;
  const tfBefore = (await readToolLog(lane.terraform)).length;
  const run = await start(c.input);
  const gitStarts = (await readToolLog(lane.git)).slice(gitBefore);
  const tfStarts = (await readToolLog(lane.terraform)).slice(tfBefore);

  const problems: string[] = [];
  const crash = runnerCrash(run);
  const result = run.result;
  const observed = `exit ${run.code}${run.signal ? ` (${run.signal})` : ''}, ${
    result ? `${result.status}: ${show(result.error ?? '', 200)}` : 'no result'
  }`;
  const effects: string[] = [];
  // Whatever ran, the canary's secret never reaches the run's output.
  if (
    run.events.some(e => JSON.stringify(e).includes(CANARY_SECRET)) ||
    run.stderr.includes(CANARY_SECRET)
  ) {
    effects.push("the canary's secret is in the run's output");
  }
  if (c.expect.status === 'inert') {
    const shows = c.expect.shows;
    // Terraform started from this lane's work folder, with the run's own CLI config.
    const workDir = `${lane.config.workDir as string}/run-`;
    const foreign = tfStarts.filter(
      t =>
        !t.cwd.startsWith(workDir) ||
        !t.cliConfigFile.startsWith(workDir) ||
        !t.cliConfigFile.endsWith('/terraform.rc'),
    );
    if (foreign.length > 0) {
      problems.push(
        `terraform ran with CLI config ${show(
          foreign[0].cliConfigFile,
        )} in ${show(foreign[0].cwd)}`,
      );
    }
    if (result?.status !== 'succeeded' || run.code !== 0) {
      problems.push('the plan did not succeed');
    }
    if (!run.events.some(e => e.type === 'log' && e.line.includes(shows))) {
      problems.push(`the plan output does not show ${show(shows)}`);
    }
    return {
      refused: false,
      inert: !crash && problems.length === 0 && effects.length === 0,
      crash,
      sideEffect: effects.length > 0 ? effects.join('; ') : undefined,
      problems,
      observed,
    };
  }
  const expectedCode = c.expect.status === 'rejected' ? 2 : 1;
  const refused =
    !crash &&
    result?.status === c.expect.status &&
    run.code === expectedCode &&
    !!result.error?.trim();
  if (result && refused) {
    if (!c.expect.reason.test(result.error!)) {
      problems.push(
        `reason does not match ${c.expect.reason}: ${show(result.error, 300)}`,
      );
    }
    if (c.expect.notReason?.test(result.error!)) {
      problems.push(
        `reason must not match ${c.expect.notReason}: ${show(
          result.error,
          300,
        )}`,
      );
    }
  }
  const forbidden =
    c.expect.commands === 'git-and-init'
      ? tfStarts.filter(t => t.args.split(' ')[0] !== 'init')
      : tfStarts;
  if (forbidden.length > 0) {
    effects.push(
      `terraform ran: ${forbidden
        .map(t => t.args)
        .join(' | ')
        .slice(0, 200)}`,
    );
  } else if (c.expect.commands === 'none' && gitStarts.length > 0) {
    effects.push(
      `git ran: ${gitStarts
        .map(t => t.args)
        .join(' | ')
        .slice(0, 200)}`,
    );
  }
  return {
    refused,
    crash,
    sideEffect: effects.length > 0 ? effects.join('; ') : undefined,
    problems,
    observed,
  };
}

/** A case for a validly-signed job with one field replaced. */
function fieldCase(
  world: SecurityWorld,
  boundary: RunnerCase['boundary'],
  field: string,
  label: string,
  value: unknown,
  reason: RegExp = new RegExp(field),
  commands: 'none' | 'git-only' = 'none',
): RunnerCase {
  const payload = JSON.stringify(validJob(world, { [field]: value }));
  return {
    boundary,
    name: `signed job, ${field} = ${label}`,
    input: { stdin: signedDocument(payload, world.keys.gate.privateKey) },
    expect: {
      status: 'rejected',
      reason,
      notReason: SIGNATURE_REASON,
      commands,
    },
  };
}

function signedRaw(world: SecurityWorld, payload: string): string {
  return signedDocument(payload, world.keys.gate.privateKey);
}

/** Validly-signed jobs with a hostile value in one field: the signature is fine, the runner must still refuse. */
export function hostileFieldCases(world: SecurityWorld): RunnerCase[] {
  const c = world.canary;
  const cases: RunnerCase[] = [];
  const add = (
    field: string,
    values: Array<{ label: string; value: unknown }>,
    reason?: RegExp,
    boundary: RunnerCase['boundary'] = 'jobs',
  ) => {
    const labels = new Set<string>();
    for (const { label, value } of values) {
      // Primitive lists overlap in labels ('nul' is a ref trick and a control character).
      let unique = label;
      for (let n = 2; labels.has(unique); n++) unique = `${label} #${n}`;
      labels.add(unique);
      cases.push(fieldCase(world, boundary, field, unique, value, reason));
    }
  };
  const types = TYPE_CONFUSION.filter(t =>
    ['null', 'object'].includes(t.label),
  );

  // Git refs and repository URLs.
  // The gate's POST /runs cases cover every ref trick; the runner re-checks a representative half.
  add(
    'ref',
    [
      ...refTricks(c).filter(
        (trick, i) => i % 2 === 0 || trick.label.startsWith('option'),
      ),
      ...shellMetacharacters(c).slice(0, 2),
      ...controlCharacters().slice(1, 2),
      ...homoglyphs().slice(0, 1),
      ...types,
    ],
    /\bref\b|branch/,
    'git-refs-urls',
  );
  const live = world.root.demo.infrastructureLiveUrl;
  const livePath = live.slice('file://'.length);
  add(
    'repository',
    [
      ...urlTricks(c),
      ...optionInjection(c).slice(0, 2),
      {
        label: 'service-catalog (not allowlisted)',
        value: world.root.demo.serviceCatalogUrl,
      },
      { label: 'allowlisted + trailing slash', value: `${live}/` },
      {
        label: 'allowlisted + dotdot',
        value: `${live}/../service-catalog.git`,
      },
      {
        label: 'allowlisted + dot segment',
        value: `file://${livePath.replace(
          /\/[^/]+$/,
          '/./infrastructure-live.git',
        )}`,
      },
      {
        label: 'allowlisted, double slash',
        value: live.replace('file://', 'file:///'),
      },
      { label: 'allowlisted, upper case', value: live.toUpperCase() },
      {
        label: 'allowlisted, file transport syntax',
        value: `file::${livePath}`,
      },
      {
        label: 'allowlisted, localhost host',
        value: `file://localhost${livePath}`,
      },
      { label: 'bare path', value: livePath },
      { label: 'allowlisted + query', value: `${live}?x=1` },
      { label: 'allowlisted + NUL', value: `${live}\u0000` },
      { label: 'allowlisted + newline', value: `${live}\n--upload-pack=x` },
      ...types.slice(0, 1),
    ],
    /repository/,
    'git-refs-urls',
  );

  add(
    'path',
    [
      ...traversal().filter((_, i) => i % 3 !== 2),
      ...controlCharacters().slice(0, 1),
      ...terraformInterpolation().slice(0, 1),
      { label: '.terraform', value: 'live/dev/payments/.terraform' },
      { label: 'absolute in checkout', value: '/live/dev/payments' },
      ...types.slice(0, 1),
    ],
    /path/,
  );
  add(
    'environment',
    [
      { label: 'unconfigured', value: 'staging' },
      ...PROTOTYPE_NAMES.slice(0, 3).map(name => ({
        label: `proto-${name}`,
        value: name,
      })),
      { label: 'upper case', value: 'DEV' },
      ...homoglyphs().slice(1, 2),
      ...controlCharacters().slice(0, 1),
      ...emptyish().slice(0, 1),
      ...optionInjection(c).slice(0, 1),
      ...types.slice(0, 1),
    ],
    /environment/,
  );
  add(
    'entityRef',
    [
      ...hostileStrings(c).filter((_, i) => i % 20 === 0),
      { label: 'no kind', value: 'payments' },
      ...types.slice(1),
    ],
    /entityRef/,
  );
  add(
    'runId',
    [
      { label: 'not a uuid', value: 'run-1' },
      { label: 'traversal', value: '../seen-jobs/x' },
      { label: 'absolute', value: '/etc/passwd' },
      { label: 'uuid + newline', value: `${randomUUID()}\n` },
      ...types.slice(0, 1),
    ],
    /runId/,
  );
  add(
    'commitSha',
    [
      { label: 'short', value: world.mainHead.slice(0, 12) },
      { label: 'upper case', value: world.mainHead.toUpperCase() },
      { label: '41 chars', value: `${world.mainHead}0` },
      { label: 'HEAD', value: 'HEAD' },
      { label: 'option', value: '--all' },
      { label: 'range', value: `${world.mainHead}..HEAD` },
      ...types.slice(0, 1),
    ],
    /commit/,
  );
  add(
    'operation',
    [
      { label: 'destroy', value: 'destroy' },
      { label: 'import', value: 'import' },
      { label: 'upper case', value: 'PLAN' },
      { label: 'apply without plan', value: 'apply' },
      { label: 'shell', value: 'plan; rm -rf /' },
    ],
    /operation|apply job must name its plan/,
  );
  add(
    'version',
    [
      { label: '0', value: 0 },
      { label: '2', value: 2 },
      { label: 'string', value: '1' },
    ],
    /version/,
  );
  add(
    'issuedAt',
    [
      { label: 'not a date', value: 'yesterday' },
      { label: 'epoch number', value: Date.now() },

      {
        label: 'expired',
        value: new Date(Date.now() - 3600_000).toISOString(),
      },
      { label: 'future', value: new Date(Date.now() + 3600_000).toISOString() },
      { label: 'far future', value: '9999-12-31T23:59:59.999Z' },

      { label: 'null', value: null },
    ],
    /issuedAt|expired|future/,
  );

  const source = world.root.demo.moduleSource;
  const moduleValues: Array<{ label: string; value: unknown }> = [
    { label: 'not an array', value: { source, versions: ['v1.1.0'] } },
    {
      label: '1001 modules',
      value: Array.from({ length: 1001 }, (_, i) => ({
        source: `${source}${i}`,
        versions: ['v1.0.0'],
      })),
    },
    {
      label: 'ext transport source',
      value: [
        {
          source: `git::ext::sh -c touch% ${c.sibling}/pwned-module`,
          versions: ['v1.0.0'],
        },
      ],
    },
    {
      label: 'registry source',
      value: [{ source: 'hashicorp/consul/aws', versions: ['v1.0.0'] }],
    },

    {
      label: 'source with ?ref',
      value: [{ source: `${source}?ref=v1.1.0`, versions: ['v1.1.0'] }],
    },
    {
      label: 'subdir traversal',
      value: [{ source: `${source}/../../x`, versions: ['v1.1.0'] }],
    },
    {
      label: 'version option',
      value: [{ source, versions: ['--upload-pack=x'] }],
    },
    {
      label: 'version shell',
      value: [{ source, versions: ['v1.0.0; rm -rf /'] }],
    },

    {
      label: 'version full ref',
      value: [{ source, versions: ['refs/tags/v1.0.0'] }],
    },
    {
      label: 'unknown module key',
      value: [{ source, versions: ['v1.1.0'], vetted: true }],
    },
  ];
  add('modules', moduleValues, /modules/);
  add(
    'plan',
    [
      {
        label: 'on a plan job',
        value: { runId: randomUUID(), sha256: 'a'.repeat(64) },
      },
      {
        label: 'traversal run id',
        value: { runId: '../../etc/passwd', sha256: 'a'.repeat(64) },
      },
      { label: 'bad sha256', value: { runId: randomUUID(), sha256: 'xyz' } },
      {
        label: 'extra key',
        value: { runId: randomUUID(), sha256: 'a'.repeat(64), path: '/etc' },
      },
    ],
    /plan/,
  );

  // An apply naming a saved plan that does not exist: refused before git.
  cases.push({
    boundary: 'jobs',
    name: 'signed apply job naming a plan that was never saved',
    input: {
      stdin: signedRaw(
        world,
        JSON.stringify(
          validJob(world, {
            operation: 'apply',
            plan: { runId: randomUUID(), sha256: 'b'.repeat(64) },
          }),
        ),
      ),
    },
    expect: {
      status: 'rejected',
      reason: /saved plan of run .* does not exist/,
      commands: 'none',
    },
  });
  // Apply of a branch prod does not apply from: the runner's own apply-branch rule.
  cases.push({
    boundary: 'jobs',
    name: 'signed apply job of a feature branch to prod',
    input: {
      stdin: signedRaw(
        world,
        JSON.stringify(
          validJob(world, {
            operation: 'apply',
            environment: 'prod',
            ref: 'feature',
            path: 'live/prod/payments',
            plan: { runId: randomUUID(), sha256: 'b'.repeat(64) },
          }),
        ),
      ),
    },
    expect: {
      status: 'rejected',
      reason: /may not be applied to prod/,
      commands: 'none',
    },
  });
  // Unknown fields: a job cannot widen what the runner does.
  for (const [label, extra] of [
    ['extra field', '"extra":1'],
    ['__proto__ field', '"__proto__":{"environment":"prod"}'],

    ['terraformPath field', `"terraformPath":"${c.sibling}/evil"`],
    ['env field', '"env":{"LD_PRELOAD":"/tmp/x.so"}'],
  ] as const) {
    const job = JSON.stringify(validJob(world));
    cases.push({
      boundary: 'jobs',
      name: `signed job with unknown ${label}`,
      input: { stdin: signedRaw(world, `${job.slice(0, -1)},${extra}}`) },
      expect: {
        status: 'rejected',
        reason: /job document is invalid|[Uu]nrecognized/,
        notReason: SIGNATURE_REASON,
        commands: 'none',
      },
    });
  }
  // A folder that does not exist: git fetches the commit, nothing else runs.
  cases.push({
    ...fieldCase(
      world,
      'jobs',
      'path',
      'folder missing from the commit',
      'live/dev/nonexistent',
      /does not exist in the commit/,
      'git-only',
    ),
  });
  // A commit that is not the branch head: git ls-remote only.
  cases.push(
    fieldCase(
      world,
      'git-refs-urls',
      'commitSha',
      'not the branch head',
      'f'.repeat(40),
      /moved to/,
      'git-only',
    ),
  );
  cases.push(
    fieldCase(
      world,
      'git-refs-urls',
      'ref',
      'branch that does not exist',
      'no-such-branch',
      /does not exist/,
      'git-only',
    ),
  );
  return cases;
}

/** Documents that are not what the gate signs, and freshness and single use. */
export function documentCases(world: SecurityWorld): RunnerCase[] {
  const cases: RunnerCase[] = [];
  const doc = (
    name: string,
    stdin: string | Buffer,
    reason = /not a signed job document|larger than/,
  ) =>
    cases.push({
      boundary: 'jobs',
      name,
      input: { stdin },
      expect: { status: 'rejected', reason, commands: 'none' },
    });
  doc('empty stdin', '');
  doc('not JSON', '{');
  doc('JSON null', 'null');
  doc('JSON array', '[]');

  doc('binary garbage', randomBytes(4096));
  doc('the bare job, unsigned', JSON.stringify(validJob(world)));
  doc(
    'byte order mark before the document',
    `\ufeff${signedRaw(world, JSON.stringify(validJob(world)))}`,
  );
  doc(
    'trailing garbage',
    `${signedRaw(world, JSON.stringify(validJob(world)))}}{`,
  );
  doc(
    'deeply nested arrays (100k)',
    `${'['.repeat(100_000)}${']'.repeat(100_000)}`,
  );
  doc(
    '1 MB document',
    `{"payload":"${'x'.repeat(1024 * 1024)}","signature":"AAAA"}`,
  );
  doc(
    'envelope with unknown field',
    JSON.stringify({
      ...JSON.parse(signedRaw(world, JSON.stringify(validJob(world)))),
      kid: 'other',
    }),
  );
  doc(
    'envelope carrying its own public key',
    JSON.stringify({
      ...JSON.parse(
        signedDocument(
          JSON.stringify(validJob(world)),
          world.keys.other.privateKey,
        ),
      ),
      publicKey: 'attacker',
    }),
  );
  doc(
    'envelope __proto__ key',
    signedRaw(world, JSON.stringify(validJob(world))).replace(
      /}$/,
      ',"__proto__":{"signature":"x"}}',
    ),
  );
  doc(
    'payload is an object, not the signed bytes',
    JSON.stringify({ payload: validJob(world), signature: 'AAAA' }),
  );

  {
    // Two payload keys: JSON.parse keeps the second, signed for the first.
    const signed = JSON.parse(
      signedRaw(world, JSON.stringify(validJob(world))),
    );
    const evil = JSON.stringify(
      validJob(world, { environment: 'prod', path: 'live/prod/payments' }),
    );
    doc(
      'duplicate payload key (signed first, evil second)',
      `{"payload":${JSON.stringify(signed.payload)},"signature":"${
        signed.signature
      }","payload":${JSON.stringify(evil)}}`,
      /signature does not verify/,
    );
  }
  {
    // Validly signed but larger than a job may be.
    const big = JSON.stringify(
      validJob(world, { entityRef: 'component:default/payments' }),
    ).replace(
      '"version":1',
      `"version":1,"padding":"${'p'.repeat(300 * 1024)}"`,
    );
    doc(
      'validly signed payload over 256 KiB',
      signedRaw(world, big),
      /larger than/,
    );
  }
  // Freshness: signed when the case starts, relative to that moment.
  const timed = (name: string, offsetMs: number, reason: RegExp) =>
    cases.push({
      boundary: 'jobs',
      name,
      input: {
        stdin: () =>
          signedRaw(
            world,
            JSON.stringify(
              validJob(world, {
                issuedAt: new Date(Date.now() + offsetMs).toISOString(),
              }),
            ),
          ),
      },
      expect: { status: 'rejected', reason, commands: 'none' },
    });
  timed('expired (issued 301 s ago, lifetime 300 s)', -301_000, /expired/);
  timed('issued two minutes in the future', 120_000, /future/);

  // Single use. Markers are per environment (`seen-jobs/<env>/<runId>`):
  // a job is marked once its signature, freshness, run id and environment
  // hold, before the job schema and the runner's own policy judge it. The
  // originals here are marked and then refused by that policy, so nothing
  // runs; the copy must be refused as a replay.
  const replay = (name: string, job: Record<string, unknown>) => {
    const stdin = signedRaw(world, JSON.stringify(job));
    cases.push({
      boundary: 'jobs',
      name,
      input: { stdin, before: { stdin } },
      expect: {
        status: 'rejected',
        reason: /already run \(a replay\)/,
        commands: 'none',
      },
    });
  };
  replay('replayed job (same document twice)', refusedAfterMarking(world));
  replay(
    'replayed job after its original was refused by the schema',
    validJob(world, { extra: 1 }),
  );
  {
    // The same run id with a fresh issuedAt: a re-signed copy is still the same job.
    const runId = randomUUID();
    const first = signedRaw(
      world,
      JSON.stringify(refusedAfterMarking(world, { runId })),
    );
    const second = signedRaw(
      world,
      JSON.stringify(
        refusedAfterMarking(world, {
          runId,
          issuedAt: new Date(Date.now() + 1000).toISOString(),
        }),
      ),
    );
    cases.push({
      boundary: 'jobs',
      name: 'second job with a used run id',
      input: { stdin: second, before: { stdin: first } },
      expect: {
        status: 'rejected',
        reason: /already run \(a replay\)/,
        commands: 'none',
      },
    });
  }
  {
    // An environment the runner does not serve gets no marker at all: each
    // copy is refused for its environment, before anything is written.
    const stdin = signedRaw(
      world,
      JSON.stringify(validJob(world, { environment: 'staging' })),
    );
    cases.push({
      boundary: 'jobs',
      name: 'replayed job of an environment the runner does not serve (no marker is written for it)',
      input: { stdin, before: { stdin } },
      expect: {
        status: 'rejected',
        reason: /environment "staging" is not configured in the runner/,
        commands: 'none',
      },
    });
  }
  return cases;
}

/** Signature forgery and encodings. */
export function signatureCases(world: SecurityWorld): RunnerCase[] {
  const cases: RunnerCase[] = [];
  const sig = (
    name: string,
    payload: string,
    signature: unknown,
    reason = /signature does not verify|not a signed job document/,
  ) =>
    cases.push({
      boundary: 'signatures',
      name,
      input: { stdin: JSON.stringify({ payload, signature }) },
      expect: { status: 'rejected', reason, commands: 'none' },
    });
  const payload = () => JSON.stringify(validJob(world));
  const good = (p: string) => jobSignature(p, world.keys.gate.privateKey);

  sig('forged (random bytes)', payload(), randomBytes(64).toString('base64'));
  sig('all-zero signature', payload(), Buffer.alloc(64).toString('base64'));
  sig(
    'signed with another Ed25519 key',
    payload(),
    jobSignature(payload(), world.keys.other.privateKey).toString('base64'),
  );
  {
    const p = payload();
    sig(
      'signed with an RSA key',
      p,
      jobSignature(p, world.keys.rsa.privateKey).toString('base64'),
    );
  }
  {
    const p = payload();
    const s = good(p).toString('base64');
    sig(
      'altered payload: dev → prod',
      p
        .replace('"environment":"dev"', '"environment":"prod"')
        .replace('live/dev/payments', 'live/prod/payments'),
      s,
    );
    sig('altered payload: trailing space', `${p} `, s);
    sig(
      'altered payload: same JSON, escaped character',
      p.replace('"dev"', '"\\u0064ev"'),
      s,
    );
    sig(
      'altered payload: keys reordered',
      JSON.stringify(
        Object.fromEntries(Object.entries(JSON.parse(p)).reverse()),
      ),
      s,
    );
    sig('signature of another job', payload(), s);
  }
  {
    const p = payload();
    sig(
      'signature over the sha256 of the payload, not the signed message',
      p,
      good(createHash('sha256').update(p).digest('hex')).toString('base64'),
    );
    sig(
      'signature over the payload with another prefix',
      p,
      good(`sealed-runner-job-v0:${p}`).toString('base64'),
    );
  }
  {
    const p = payload();
    const s = good(p);
    sig('63-byte signature', p, s.subarray(0, 63).toString('base64'));
    sig(
      '65-byte signature',
      p,
      Buffer.concat([s, Buffer.from([0])]).toString('base64'),
    );
    sig(
      'two signatures concatenated',
      p,
      Buffer.concat([s, s]).toString('base64'),
    );
    sig(
      'signature with a flipped bit',
      p,
      Buffer.from(s.map((b, i) => (i === 10 ? b ^ 1 : b))).toString('base64'),
    );
    // Ed25519 malleability: S + L verifies only in implementations that skip the S < L check.
    const L = (1n << 252n) + 27742317777372353535851937790883648493n;
    let S = 0n;
    for (let i = 31; i >= 0; i--) S = (S << 8n) | BigInt(s[32 + i]);
    let S2 = S + L;
    const malleated = Buffer.from(s);
    for (let i = 0; i < 32; i++) {
      malleated[32 + i] = Number(S2 & 0xffn);
      S2 >>= 8n;
    }
    sig('malleated signature (S + L)', p, malleated.toString('base64'));
    sig('empty signature', p, '');
    sig('signature as a number', p, 12345);
    sig('signature as null', p, null);
    sig('signature as an array', p, [s.toString('base64')]);

    sig(
      'signature with a newline',
      p,
      `${s.toString('base64').slice(0, 40)}\n${s.toString('base64').slice(40)}`,
    );
    sig(
      'signature with three padding characters',
      p,
      `${s.toString('base64').replace(/=+$/, '')}===`,
    );
    sig(
      'signature with padding in the middle',
      p,
      `${s.toString('base64').slice(0, 20)}==${s.toString('base64').slice(20)}`,
    );
  }
  {
    // base64url of a signature that has '+' or '/': must not be read as base64.
    let p = payload();
    let s = good(p).toString('base64');
    for (let i = 0; i < 100 && !/[+/]/.test(s); i++) {
      p = payload();
      s = good(p).toString('base64');
    }
    sig(
      'base64url-encoded signature',
      p,
      s.replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, ''),
    );
  }
  sig('signature field missing', payload(), undefined);
  return cases;
}

/** Command-line arguments and environment variables the runner must refuse. */
export function invocationCases(world: SecurityWorld): RunnerCase[] {
  const cases: RunnerCase[] = [];
  const fresh = () => signedRaw(world, JSON.stringify(validJob(world)));
  for (const [label, args] of [
    ['an operation', ['plan']],
    ['a config file', ['--config', '/etc/passwd']],
    ['a command substitution', [`$(touch ${world.canary.sibling}/pwned-arg)`]],
  ] as const) {
    cases.push({
      boundary: 'jobs',
      name: `extra command-line arguments: ${label}`,
      input: { stdin: fresh(), args: [...args] },
      expect: {
        status: 'rejected',
        reason: /takes no command-line arguments/,
        commands: 'none',
      },
    });
  }
  const c = world.canary;
  const variables: Record<string, string> = {
    LD_PRELOAD: join(c.sibling, 'no-such-library.so'),
    LD_LIBRARY_PATH: c.sibling,
    NODE_OPTIONS: '--no-warnings',
    GIT_DIR: join(c.sibling, 'evil.git'),
    GIT_SSH_COMMAND: `touch ${c.sibling}/pwned-ssh-command`,

    GIT_EXEC_PATH: c.sibling,
    GIT_ALLOW_PROTOCOL: 'ext',
    TF_CLI_CONFIG_FILE: join(c.sibling, 'terraform.rc'),

    TF_VAR_name: 'evil',
    TF_DATA_DIR: c.sibling,
    HTTPS_PROXY: 'http://127.0.0.1:9',

    AWS_ACCESS_KEY_ID: 'AKIAEVIL',
  };
  for (const [name, value] of Object.entries(variables)) {
    cases.push({
      boundary: 'jobs',
      name: `environment variable ${name}`,
      input: { stdin: fresh(), env: { [name]: value } },
      expect: {
        status: 'rejected',
        reason: new RegExp(`unexpected environment variables: .*"${name}"`),
        commands: 'none',
      },
    });
  }
  return cases;
}

/**
 * Single use must not depend on how a run id is spelled: the runner keys
 * its replay markers by the lower-case uuid and refuses any other spelling
 * before it marks anything, so an upper-case copy can never run.
 */
export function runIdSpellingCases(world: SecurityWorld): RunnerCase[] {
  const expect: RunnerExpect = {
    status: 'rejected',
    reason: /already run \(a replay\)|runId is not in canonical form/,
    commands: 'none',
  };
  const upper = signedRaw(
    world,
    JSON.stringify(
      refusedAfterMarking(world, { runId: randomUUID().toUpperCase() }),
    ),
  );
  // The lower-case original is marked (and refused by policy, so nothing runs).
  const runId = randomUUID();
  const lower = signedRaw(
    world,
    JSON.stringify(refusedAfterMarking(world, { runId })),
  );
  const upperOfLower = signedRaw(
    world,
    JSON.stringify(refusedAfterMarking(world, { runId: runId.toUpperCase() })),
  );
  return [
    {
      boundary: 'jobs',
      name: 'replayed job whose run id is upper case',
      input: { stdin: upper, before: { stdin: upper } },
      expect,
    },
    {
      boundary: 'jobs',
      name: 'second job with the upper-case form of a used run id',
      input: { stdin: upperOfLower, before: { stdin: lower } },
      expect,
    },
  ];
}

export function jobCorpus(world: SecurityWorld): RunnerCase[] {
  return [
    ...hostileFieldCases(world),
    ...documentCases(world),
    ...signatureCases(world),
    ...invocationCases(world),
  ];
}
