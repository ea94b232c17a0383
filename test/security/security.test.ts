import { createServer, Server } from 'node:http';
import { once } from 'node:events';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { BackendProcess, REPO_ROOT, signIn } from '../src';
import { apiBatches, ApiContext, HttpCase, runHttpCase } from './corpus/api';
import {
  AnnotationCase,
  AnnotationContext,
  annotationCases,
  controlEntity,
  runAnnotationCase,
  runRegistrationTakeover,
  runTakeoverCase,
  TAKEOVER_BRANCH,
  TAKEOVER_FILE,
  takeoverCases,
  takeoverModuleFile,
  waitForCatalog,
  writeAnnotationEntities,
} from './corpus/annotations';
import {
  BackendConfigAspect,
  backendConfigStarts,
  judgeBackendConfigStart,
} from './corpus/backendConfig';
import {
  countRunnerRuns,
  HCL_LANES,
  HclCase,
  hclCases,
  hclControlFiles,
  HclContext,
  runHclCase,
  securityProbeEntity,
} from './corpus/hcl';
import {
  jobCorpus,
  RunnerCase,
  runIdSpellingCases,
  runRunnerCase,
  validJob,
} from './corpus/jobs';
import {
  createLinkModule,
  LinkModule,
  ReachCase,
  reachOutsideCases,
  reachRunnerCase,
} from './corpus/reachOutside';
import {
  runnerConfigCases,
  runnerConfigPrototypeCases,
} from './corpus/runnerConfig';
import {
  assertUniqueNames,
  Case,
  CaseFailure,
  diffTrees,
  hasStackTrace,
  Outcome,
  readToolLog,
  runCases,
  snapshotTree,
  stripAnsi,
  Tally,
  TreeSnapshot,
} from './framework';
import { startBackendWithConfig } from './harness/configStart';
import { closeRawHttp, rawRequest } from './harness/rawHttp';
import {
  runRunnerProgram,
  RUNNER_PATH,
  signedDocument,
} from './harness/runnerProcess';
import {
  createSecurityWorld,
  LANES,
  pushBranches,
  SecurityWorld,
} from './harness/securityWorld';

/*
 * The adversarial suite: over a thousand hostile inputs across every trust
 * boundary, run against the real backend (real sign-in, catalog,
 * permissions, SQLite) and the real runner program (real git, real
 * Terraform). See docs/threat-model.md for what each boundary protects.
 */

jest.setTimeout(60_000);

const tally = new Tally();
const started = Date.now();
let world: SecurityWorld;
let backendReady: Promise<BackendProcess>;
let backend: BackendProcess | undefined;
let listener: Server;
const httpHits: string[] = [];
let annotationCorpus: AnnotationCase[];
let takeovers: AnnotationCase[];
let hclCorpus: { code: HclCase[]; backends: HclCase[] };
let reachCorpus: ReachCase[];
let linkModule: LinkModule;
/** Head commit of every branch the suite pushed. */
let heads: Map<string, string>;
const before: {
  sibling?: TreeSnapshot;
  inRoot?: TreeSnapshot;
  root?: TreeSnapshot;
} = {};
let tokens: { erin: string; pat: string };

/** Directories of the isolated root that the backend and runners legitimately write. */
function legitimatelyWritten(rel: string): boolean {
  return (
    [
      '.sealed-runner/runner',
      '.sealed-runner/db',
      'security/runner-direct',
      'security/config-starts',
      'security-tools',
    ].some(dir => rel === dir || rel.startsWith(`${dir}/`)) ||
    // The harness's per-backend config and log files.
    /^[^/]+\.(log|config\.yaml|listen\.yaml)$/.test(rel)
  );
}

/** Runs cases, records them in the tally, and returns the failing ones, one line each. */
async function failing<I, E>(
  cases: Array<Case<I, E>>,
  execute: (c: Case<I, E>, lane: number) => Promise<Outcome>,
  concurrency = 1,
): Promise<string[]> {
  assertUniqueNames(cases);
  return lines(await runCases(tally, cases, execute, concurrency));
}

/** The failing cases, one line each: what a failing test shows. */
function lines(failures: CaseFailure[]): string[] {
  return failures.map(
    f =>
      `[${f.boundary}] ${f.name}: ${f.why.join('; ')} — observed ${f.observed}`,
  );
}

/**
 * Watches what a refused request must never cause — a run, a dispatched
 * runner, a Terraform start — over a batch; `check()` records any as a
 * side effect.
 */
async function watchDispatches(label: string) {
  const { baseUrl } = await gate();
  const state = async () => ({
    runs: (
      await rawRequest(baseUrl, {
        method: 'GET',
        path: '/api/sealed-runner/runs?limit=200',
        headers: { authorization: `Bearer ${tokens.pat}` },
      })
    ).json.items.length as number,
    dispatched: await countRunnerRuns(world.root.runnerDir),
    terraform: (await readToolLog(world.backendTerraform)).length,
  });
  const start = await state();
  return {
    async check() {
      const end = await state();
      const created = end.runs - start.runs;
      const dispatched = end.dispatched - start.dispatched;
      const terraform = end.terraform - start.terraform;
      if (created || dispatched || terraform) {
        tally.recordGlobalSideEffect(
          `${label} created ${created} run(s), dispatched ${dispatched} runner(s), started terraform ${terraform} time(s)`,
        );
      }
    },
  };
}

async function gate(): Promise<BackendProcess> {
  backend ??= await backendReady;
  return backend;
}

beforeAll(async () => {
  world = await createSecurityWorld();

  // A listener the hostile Terraform may try to reach (backends, provider mirrors).
  listener = createServer((req, res) => {
    httpHits.push(req.url ?? '');
    res.statusCode = 404;
    res.end();
  });
  listener.listen(0, '127.0.0.1');
  await once(listener, 'listening');
  const httpBackendUrl = `http://127.0.0.1:${
    (listener.address() as { port: number }).port
  }`;

  annotationCorpus = annotationCases(world);
  takeovers = takeoverCases(world);
  const locations = await writeAnnotationEntities(world, [
    ...annotationCorpus,
    ...takeovers,
  ]);
  for (const [name, entity] of [
    ['security-probe', securityProbeEntity(world)],
    ['sec-ann-control', controlEntity(world)],
  ] as const) {
    const file = join(world.entityDir, `${name}.yaml`);
    await writeFile(file, JSON.stringify(entity, null, 2));
    locations.push({ type: 'file', target: file });
  }

  hclCorpus = hclCases(world, { httpBackendUrl });
  const inFolders = (files: Record<string, string | { symlink: string }>) =>
    Object.fromEntries(
      HCL_LANES.flatMap(({ folder }) =>
        Object.entries(files).map(([f, content]) => [
          `${folder}/${f}`,
          content,
        ]),
      ),
    );
  linkModule = await createLinkModule(world);
  reachCorpus = reachOutsideCases(world, linkModule);
  // One clone, one push: every branch of every corpus.
  heads = await pushBranches(world, [
    { name: 'security/hcl-control', files: inFolders(hclControlFiles(world)) },
    {
      name: TAKEOVER_BRANCH,
      files: { [TAKEOVER_FILE]: takeoverModuleFile(world) },
    },
    ...[...hclCorpus.code, ...hclCorpus.backends].map(c => ({
      name: c.input.branch,
      files: inFolders(c.input.files),
    })),
    ...reachCorpus.map(c => ({ name: c.input.branch, files: c.input.files })),
  ]);

  // Deployable targets come only from sealedRunner.targets.locations, most
  // trusted first. Arrays replace, not merge: the demo's own entries (its
  // catalog file, then infrastructure-live's review branches), then every
  // catalog file of the suite's own entities — the hostile ones too, so
  // that each is judged by its annotations, not by where it comes from.
  const demoTargetLocations = (
    await readFile(join(world.root.demo.dir, 'target-locations.yaml'), 'utf8')
  )
    .split('\n')
    .flatMap(line => /^- (.+)$/.exec(line.trim())?.[1] ?? []);
  const targetLocations = [
    ...demoTargetLocations,
    ...locations.map(location => `file:${location.target}`),
  ];

  // Everything the suite must leave as it is, before any hostile input.
  before.sibling = await snapshotTree(world.canary.sibling);
  before.inRoot = await snapshotTree(world.canary.inRoot);
  before.root = await snapshotTree(world.root.root, legitimatelyWritten);

  backendReady = BackendProcess.start({
    root: world.root,
    name: 'security-backend',
    config: {
      catalog: {
        // Arrays replace, not merge: the org and the demo entities, then the corpus.
        locations: [
          {
            type: 'file',
            target: '../../examples/org.yaml',
            rules: [{ allow: ['User', 'Group'] }],
          },
          {
            type: 'file',
            target: '../../.sealed-runner/demo/catalog-info.yaml',
          },
          ...locations,
        ],
      },
      sealedRunner: {
        targets: { locations: targetLocations },
        runner: {
          heartbeatTimeoutSeconds: 3,
          reconcileIntervalSeconds: 1,
          local: {
            directory: '../../.sealed-runner/runner',
            terraformPath: world.backendTerraform.path,
            // Logs every sandboxed Terraform start in its wrapper's log.
            sandbox: { bwrapPath: world.backendBwrap },
          },
        },
      },
    },
  });
  backendReady.catch(() => undefined);
}, 60_000);

afterAll(async () => {
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  // eslint-disable-next-line no-console
  console.log(`${tally.format()}\n(suite ran ${seconds} s)`);
  await mkdir(join(REPO_ROOT, 'test/artifacts'), { recursive: true });
  await writeFile(
    join(REPO_ROOT, 'test/artifacts/security-tally.json'),
    `${JSON.stringify(
      { ...tally.toJSON(), seconds: Number(seconds) },
      null,
      2,
    )}\n`,
  );
  closeRawHttp();
  listener?.close();
  await (backend ?? (await backendReady.catch(() => undefined)))?.stop();
  await world?.cleanup();
}, 60_000);

describe('job documents and the runner configuration (the real runner program)', () => {
  it('runs a valid signed job (positive control: the harness tells acceptance from refusal)', async () => {
    const lane = world.lanes[0];
    const gitBefore = (await readToolLog(lane.git)).length;
    const tfBefore = (await readToolLog(lane.terraform)).length;
    const run = await runRunnerProgram({
      stdin: signedDocument(
        JSON.stringify(validJob(world)),
        world.keys.gate.privateKey,
      ),
      env: {
        PATH: RUNNER_PATH,
        HOME: lane.home,
        TMPDIR: lane.home,
        SEALED_RUNNER_CONFIG: lane.configJson,
      },
      cwd: lane.home,
    });
    expect(run.result).toMatchObject({
      status: 'succeeded',
      plan: { add: 1, change: 0, destroy: 0 },
    });
    expect(run.code).toBe(0);
    expect((await readToolLog(lane.git)).length).toBeGreaterThan(gitBefore);
    const tf = (await readToolLog(lane.terraform))
      .slice(tfBefore)
      .map(t => t.args.split(' ')[0]);
    expect(tf).toEqual(expect.arrayContaining(['init', 'plan', 'show']));
  });

  const inLanes = (cases: RunnerCase[]) =>
    failing(cases, (c, lane) => runRunnerCase(c, world.lanes[lane]), LANES);

  it('refuses hostile job documents, signatures, refs, URLs, arguments and environment variables', async () => {
    expect(await inLanes(jobCorpus(world))).toEqual([]);
  }, 240_000);

  it('refuses a replayed job whatever the case of its run id', async () => {
    expect(await inLanes(runIdSpellingCases(world))).toEqual([]);
  });

  it('refuses to start with a hostile SEALED_RUNNER_CONFIG, before git or Terraform', async () => {
    expect(await inLanes(runnerConfigCases(world))).toEqual([]);
  }, 120_000);

  it('refuses prototype keys in SEALED_RUNNER_CONFIG instead of dropping them', async () => {
    expect(await inLanes(runnerConfigPrototypeCases(world))).toEqual([]);
  });
});

describe('code that reaches outside (the real runner program, signed jobs)', () => {
  it('refuses every state backend key, provider argument and file function that names a file, command, profile or endpoint, by name, before plan', async () => {
    expect(
      await failing(
        reachCorpus.map(c => reachRunnerCase(world, c, heads, linkModule)),
        (c, lane) => runRunnerCase(c, world.lanes[lane]),
        LANES,
      ),
    ).toEqual([]);
  }, 900_000);
});

describe('the gate over HTTP (the real backend, signed in)', () => {
  let ctx: ApiContext;

  beforeAll(async () => {
    const { baseUrl } = await gate();
    tokens = {
      erin: await signIn(baseUrl, 'guest'),
      pat: await signIn(baseUrl, 'demo-approver'),
    };
  }, 120_000);

  it('plans payments/dev (positive control, and the run the id cases aim at)', async () => {
    const { baseUrl } = await gate();
    const plan = await rawRequest(baseUrl, {
      method: 'POST',
      path: '/api/sealed-runner/runs',
      headers: {
        authorization: `Bearer ${tokens.erin}`,
        'content-type': 'application/json',
      },
      body: JSON.stringify({
        entityRef: 'component:default/payments',
        environment: 'dev',
        operation: 'plan',
      }),
    });
    expect(plan.status).toBe(202);
    let run;
    for (
      let i = 0;
      i < 300 && !['succeeded', 'failed', 'rejected'].includes(run?.status);
      i++
    ) {
      await new Promise(r => setTimeout(r, 200));
      run = (
        await rawRequest(baseUrl, {
          method: 'GET',
          path: `/api/sealed-runner/runs/${plan.json.run.id}`,
          headers: { authorization: `Bearer ${tokens.erin}` },
        })
      ).json.run;
    }
    expect(run.status).toBe('succeeded');
    ctx = { baseUrl, tokens, controlRunId: run.id, canary: world.canary };
  });

  it('refuses hostile bodies, ids, query strings and credentials with 4xx, never 5xx, creating no run', async () => {
    const { baseUrl } = await gate();
    const failures: CaseFailure[] = [];
    const api = ctx;
    for (const batch of apiBatches(api)) {
      assertUniqueNames(batch.cases);
      const dispatches = await watchDispatches(`the ${batch.name} batch`);
      failures.push(
        ...(await runCases(
          tally,
          batch.cases,
          c => runHttpCase(api, c as HttpCase),
          6,
        )),
      );
      const health = await rawRequest(baseUrl, {
        method: 'GET',
        path: '/api/sealed-runner/health',
      });
      if (health.status !== 200) {
        tally.recordBatchProblem(
          'api',
          'crash',
          `GET /health answered ${health.status} after the ${batch.name} batch`,
        );
      }
      await dispatches.check();
    }
    expect(
      lines([
        ...failures,
        ...tally.failuresOf('api').filter(f => f.name === '(batch check)'),
      ]),
    ).toEqual([]);
    expect(tally.globalSideEffects).toEqual([]);
  }, 120_000);
});

describe('entity annotations (the real catalog and gate)', () => {
  let ctx: AnnotationContext;

  beforeAll(async () => {
    const b = await gate();
    ctx = {
      world,
      baseUrl: b.baseUrl,
      erinToken: tokens.erin,
      logFile: b.logFile,
    };
  });

  it('accepts the valid control entity (positive control)', async () => {
    expect(
      await waitForCatalog(ctx, ['sec-ann-control', 'security-probe'], 60_000),
    ).toEqual([]);
    const targets = await rawRequest(ctx.baseUrl, {
      method: 'GET',
      path: `/api/sealed-runner/targets?entityRef=${encodeURIComponent(
        'component:default/sec-ann-control',
      )}`,
      headers: { authorization: `Bearer ${tokens.erin}` },
    });
    expect(targets.json.items).toEqual([
      expect.objectContaining({ environment: 'dev', deployable: true }),
    ]);
  }, 90_000);

  it('refuses hostile annotations: not stored, or not deployable with a reason; plans refused', async () => {
    assertUniqueNames(annotationCorpus);
    const unsettled = await waitForCatalog(
      ctx,
      annotationCorpus.map(c => c.input.name),
      45_000,
    );
    const dispatches = await watchDispatches('the hostile entities');
    const failures = await runCases(
      tally,
      annotationCorpus,
      c => runAnnotationCase(ctx, c),
      4,
    );
    await dispatches.check();
    // The takeover cases plan legacy-batch for real: watched separately.
    failures.push(
      ...(await runCases(tally, takeovers, c => runTakeoverCase(ctx, c), 1)),
    );
    expect(lines(failures)).toEqual([]);
    expect(unsettled).toEqual([]);
    expect(tally.globalSideEffects).toEqual([]);
  }, 120_000);
});

describe('Terraform code on a feature branch (the real backend, runner and Terraform)', () => {
  let ctx: HclContext;

  beforeAll(async () => {
    const b = await gate();
    ctx = {
      world,
      baseUrl: b.baseUrl,
      erinToken: tokens.erin,
      terraform: world.backendTerraform,
      httpHits,
    };
  });

  it('plans a benign branch on both lanes (positive control: Terraform runs and is logged)', async () => {
    for (let lane = 0; lane < HCL_LANES.length; lane++) {
      const outcome = await runHclCase(
        ctx,
        {
          boundary: 'hcl',
          name: 'control',
          input: {
            branch: 'security/hcl-control',
            files: {},
            siblingNames: [],
            httpPaths: [],
          },
          expect: { outcome: 'inert' },
        },
        lane,
      );
      expect(outcome).toMatchObject({ inert: true, refused: false });
      expect(outcome.observed).toMatch(/^succeeded/);
    }
    expect(
      (await readToolLog(world.backendTerraform)).map(
        t => t.args.split(' ')[0],
      ),
    ).toEqual(expect.arrayContaining(['init', 'plan', 'show']));
  }, 60_000);

  const inBothLanes = (cases: HclCase[]) =>
    failing(cases, (c, lane) => runHclCase(ctx, c, lane), HCL_LANES.length);

  it('rejects hostile module sources and HCL before terraform init, naming file and construct', async () => {
    expect(await inBothLanes(hclCorpus.code)).toEqual([]);
  }, 180_000);

  it("keeps state in the runner's hands: a backend block neither writes nor fetches state elsewhere", async () => {
    expect(await inBothLanes(hclCorpus.backends)).toEqual([]);
  }, 60_000);
});

describe('catalog registration (the real catalog API and gate)', () => {
  it('does not let an engineer vet a module by registering an entity that claims platform-team ownership', async () => {
    const b = await gate();
    const ctx: AnnotationContext = {
      world,
      baseUrl: b.baseUrl,
      erinToken: tokens.erin,
      logFile: b.logFile,
    };
    const failure = tally.record(
      'annotations',
      'an engineer registers (catalog API) a module entity claiming platform-team ownership, vetting v2.0.0-rc1',
      await runRegistrationTakeover(ctx),
    );
    expect(lines(failure ? [failure] : [])).toEqual([]);
  }, 90_000);
});

describe('backend configuration (real backend starts)', () => {
  const failures = new Map<BackendConfigAspect, CaseFailure[]>();

  // A few starts (each costs seconds), judged once: every hostile value is
  // one case, and so is each start's exit.
  beforeAll(async () => {
    const starts = backendConfigStarts(world);
    const results = await Promise.all(
      starts.map(start =>
        startBackendWithConfig(world.root, start.name, start.config),
      ),
    );
    starts.forEach((start, i) => {
      for (const { c, outcome, aspect } of judgeBackendConfigStart(
        start,
        results[i],
      )) {
        const failure = tally.record(c.boundary, c.name, outcome);
        failures.set(aspect, [
          ...(failures.get(aspect) ?? []),
          ...(failure ? [failure] : []),
        ]);
      }
    });
  }, 120_000);

  it('refuses to serve with a hostile sealedRunner config, naming each wrong value', () => {
    expect(lines(failures.get('value') ?? [])).toEqual([]);
  });

  it('exits non-zero when it refuses to start', () => {
    expect(lines(failures.get('exit') ?? [])).toEqual([]);
  });
});

describe('after the corpus', () => {
  it('left no side effects: canaries and the isolated root unchanged outside the runner directories', async () => {
    const changes = [
      ...diffTrees(before.sibling!, await snapshotTree(world.canary.sibling), {
        directoryMtimes: true,
      }).map(c => `sibling canary: ${c}`),
      ...diffTrees(before.inRoot!, await snapshotTree(world.canary.inRoot), {
        directoryMtimes: true,
      }).map(c => `in-root canary: ${c}`),
      ...diffTrees(
        before.root!,
        await snapshotTree(world.root.root, legitimatelyWritten),
        { directoryMtimes: false },
      ).map(c => `isolated root: ${c}`),
    ];
    changes.forEach(change => tally.recordGlobalSideEffect(change));
    expect(changes).toEqual([]);
  });

  it('kept the backend alive and free of uncaught errors', async () => {
    const b = await gate();
    expect(
      (
        await rawRequest(b.baseUrl, {
          method: 'GET',
          path: '/api/sealed-runner/health',
        })
      ).status,
    ).toBe(200);
    const log = stripAnsi(await readFile(b.logFile, 'utf8'));
    const crashes = log
      .split('\n')
      .filter(
        line =>
          /unhandledRejection|uncaughtException/.test(line) ||
          (/\berror\b/.test(line) &&
            hasStackTrace(line) &&
            /TypeError|RangeError|ReferenceError/.test(line)),
      );
    crashes.forEach(line =>
      tally.recordBatchProblem('api', 'crash', line.slice(0, 300)),
    );
    expect(crashes).toEqual([]);
  });

  it('ran at least 1,000 cases with no crash, no side effect and no 5xx', () => {
    const total = tally.total();
    expect(total.cases).toBeGreaterThanOrEqual(1000);
    expect({
      crashes: total.crashes,
      sideEffects: total.sideEffects,
      fiveXX: total.fiveXX,
    }).toEqual({ crashes: 0, sideEffects: 0, fiveXX: 0 });
  });
});
