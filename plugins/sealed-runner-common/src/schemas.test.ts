import { z } from 'zod';
import {
  closeBreakGlassRequestSchema,
  createRunRequestSchema,
  jobSchema,
  listBreakGlassQuerySchema,
  listRunsQuerySchema,
  logsQuerySchema,
  MAX_BREAK_GLASS_DURATION_MINUTES,
  MAX_BREAK_GLASS_LIST_LIMIT,
  MAX_JOB_BYTES,
  MAX_LOG_LINE_LENGTH,
  openBreakGlassRequestSchema,
  planPolicySchema,
  runIdParamSchema,
  runnerEventSchema,
} from './schemas';
import { RUN_STATUSES } from './types';

const MB = 'a'.repeat(1024 * 1024);
const SHA = '0123456789abcdef0123456789abcdef01234567';
const SHA256 = 'ab'.repeat(32);
const RUN_ID = '0f8fad5b-d9cb-469f-a165-70867728950e';
const PLAN_RUN_ID = '7c9e6679-7425-40de-944b-e07fc1f90ae7';

/**
 * The issues of a refused parse, as `path: message` strings, so a table can
 * say which field was refused and why.
 */
function issuesOf(schema: z.ZodType, input: unknown): string[] {
  const result = schema.safeParse(input);
  if (result.success) {
    throw new Error(`expected a refusal, got ${JSON.stringify(result.data)}`);
  }
  return result.error.issues.map(i => `${i.path.join('.')}: ${i.message}`);
}

describe('createRunRequestSchema', () => {
  const body = {
    entityRef: 'component:default/payments',
    environment: 'dev',
    operation: 'plan',
  };

  it.each([
    ['a minimal request', body],
    ['a request with a branch', { ...body, ref: 'main' }],
    ['a request with a nested branch', { ...body, ref: 'feature/x-1' }],
    [
      'a parsed JSON body',
      JSON.parse(JSON.stringify({ ...body, ref: 'main' })),
    ],
  ])('accepts %s', (_, input) => {
    expect(createRunRequestSchema.parse(input)).toEqual(input);
  });

  it.each([
    ['component:payments', 'component:default/payments'],
    ['Component:default/payments', 'component:default/payments'],
    ['component:team-a/Payments', 'component:team-a/Payments'],
  ])('normalises the entity ref %s to %s', (entityRef, normalised) => {
    expect(createRunRequestSchema.parse({ ...body, entityRef }).entityRef).toBe(
      normalised,
    );
  });

  it.each([
    ['an unknown field', { ...body, force: true }, /Unrecognized key.*force/],
    [
      'a repository override',
      { ...body, repository: 'https://github.com/evil/x' },
      /Unrecognized key.*repository/,
    ],
    ['a path override', { ...body, path: '../x' }, /Unrecognized key.*path/],
    ['an apply', { ...body, operation: 'apply' }, /^operation: /],
    [
      'a missing operation',
      { entityRef: body.entityRef, environment: 'dev' },
      /^operation: /,
    ],
    [
      'a missing entity ref',
      { environment: 'dev', operation: 'plan' },
      /^entityRef: /,
    ],
    [
      'a missing environment',
      { entityRef: body.entityRef, operation: 'plan' },
      /^environment: /,
    ],
    [
      'an entity ref without kind',
      { ...body, entityRef: 'payments' },
      /^entityRef: must be an entity ref/,
    ],
    [
      'a kind and namespace without name',
      { ...body, entityRef: 'component:default/' },
      /^entityRef: must be an entity ref/,
    ],
    [
      'a traversing entity ref',
      { ...body, entityRef: 'component:default/../x' },
      /^entityRef: must be an entity ref/,
    ],
    [
      'an entity ref with a #',
      { ...body, entityRef: 'component:default/x#prod' },
      /^entityRef: must be an entity ref/,
    ],
    [
      'an entity ref with a newline',
      { ...body, entityRef: 'component:default/x\n' },
      /^entityRef: must be an entity ref/,
    ],
    [
      'a 1 MB entity ref',
      { ...body, entityRef: `component:default/${MB}` },
      /^entityRef: /,
    ],
    [
      'a bad environment',
      { ...body, environment: 'Prod' },
      /^environment: environment "Prod" must be/,
    ],
    ['a numeric environment', { ...body, environment: 1 }, /^environment: /],
    [
      'an option as the branch',
      { ...body, ref: '--upload-pack=x' },
      /^ref: branch /,
    ],
    [
      'a revision expression as the branch',
      { ...body, ref: 'main~1' },
      /^ref: branch "main~1"/,
    ],
    [
      'a full ref as the branch',
      { ...body, ref: 'refs/heads/main' },
      /^ref: branch .*short branch/,
    ],
    [
      'HEAD as the branch',
      { ...body, ref: 'HEAD' },
      /^ref: branch .*short branch/,
    ],
    ['a 1 MB branch', { ...body, ref: MB }, /^ref: branch is longer than 200/],
    ['a null branch', { ...body, ref: null }, /^ref: /],
    ['a numeric branch', { ...body, ref: 1 }, /^ref: /],
  ])('refuses %s', (_, input, issue) => {
    expect(issuesOf(createRunRequestSchema, input)).toContainEqual(
      expect.stringMatching(issue),
    );
  });

  // JSON.parse makes `__proto__` an own property, which is what a hostile
  // HTTP body looks like after express.json().
  it.each([
    ['__proto__', '{"x":1}'],
    ['__proto__', '{"operation":"apply"}'],
    ['constructor', '{"prototype":{"x":1}}'],
    ['prototype', '{"x":1}'],
  ])('refuses an own %s key', (key, value) => {
    const input = JSON.parse(
      `{"entityRef":"component:default/payments","environment":"dev","operation":"plan","${key}":${value}}`,
    );
    expect(Object.prototype.hasOwnProperty.call(input, key)).toBe(true);
    expect(issuesOf(createRunRequestSchema, input)).toContainEqual(
      expect.stringMatching(new RegExp(`Unrecognized key.*${key}`)),
    );
  });

  it.each([
    ['null', null],
    ['undefined', undefined],
    ['an array', [body]],
    ['a string', JSON.stringify(body)],
    ['a number', 1],
  ])('refuses a body that is %s', (_, input) => {
    expect(createRunRequestSchema.safeParse(input).success).toBe(false);
  });
});

describe('listRunsQuerySchema', () => {
  it.each([
    ['an empty query', {}, {}],
    ['limit 10', { limit: '10' }, { limit: 10 }],
    ['limit 1', { limit: '1' }, { limit: 1 }],
    ['limit 200', { limit: '200' }, { limit: 200 }],
    ['a leading zero', { limit: '010' }, { limit: 10 }],
    [
      'every filter',
      {
        entityRef: 'component:default/x',
        environment: 'prod',
        status: 'running',
        limit: '5',
      },
      {
        entityRef: 'component:default/x',
        environment: 'prod',
        status: 'running',
        limit: 5,
      },
    ],
  ])('accepts %s', (_, query, expected) => {
    expect(listRunsQuerySchema.parse(query)).toEqual(expected);
  });

  it.each(RUN_STATUSES.map(status => [status]))('accepts status %s', status => {
    expect(listRunsQuerySchema.parse({ status })).toEqual({ status });
  });

  it.each([
    ['limit 0', { limit: '0' }, /^limit: /],
    ['limit 201', { limit: '201' }, /^limit: /],
    ['a negative limit', { limit: '-1' }, /^limit: must be a number/],
    ['an exponent', { limit: '1e3' }, /^limit: must be a number/],
    ['a fraction', { limit: '1.5' }, /^limit: must be a number/],
    ['a hex limit', { limit: '0x10' }, /^limit: must be a number/],
    ['a padded limit', { limit: ' 10' }, /^limit: must be a number/],
    ['a word', { limit: 'abc' }, /^limit: must be a number/],
    ['an empty limit', { limit: '' }, /^limit: must be a number/],
    [
      'a huge limit',
      { limit: '99999999999999999999' },
      /^limit: must be a number/,
    ],
    ['a repeated parameter', { limit: ['1', '2'] }, /^limit: /],
    ['a nested object', { limit: { $gt: '1' } }, /^limit: /],
    ['a number, not a query string', { limit: 10 }, /^limit: /],
    ['an unknown status', { status: 'pending' }, /^status: /],
    ['an uppercase status', { status: 'RUNNING' }, /^status: /],
    ['a repeated status', { status: ['running', 'failed'] }, /^status: /],
    ['a bad entity ref', { entityRef: 'x' }, /^entityRef: /],
    ['a bad environment', { environment: 'a_b' }, /^environment: /],
    ['an unknown parameter', { offset: '10' }, /Unrecognized key.*offset/],
  ])('refuses %s', (_, query, issue) => {
    expect(issuesOf(listRunsQuerySchema, query)).toContainEqual(
      expect.stringMatching(issue),
    );
  });
});

describe('logsQuerySchema', () => {
  it.each([
    [{}, {}],
    [{ after: '0' }, { after: 0 }],
    [{ after: '42' }, { after: 42 }],
    [{ after: '999999999' }, { after: 999999999 }],
  ])('accepts %j', (query, expected) => {
    expect(logsQuerySchema.parse(query)).toEqual(expected);
  });

  it.each([
    [
      'a negative cursor',
      { after: '-1' },
      /^after: must be a non-negative integer/,
    ],
    ['a fraction', { after: '1.5' }, /^after: must be a non-negative integer/],
    ['an exponent', { after: '1e3' }, /^after: must be a non-negative integer/],
    [
      'ten digits',
      { after: '1234567890' },
      /^after: must be a non-negative integer/,
    ],
    [
      'an empty cursor',
      { after: '' },
      /^after: must be a non-negative integer/,
    ],
    ['a repeated parameter', { after: ['1', '2'] }, /^after: /],
    ['an object', { after: { x: 1 } }, /^after: /],
    ['an unknown parameter', { before: '1' }, /Unrecognized key.*before/],
  ])('refuses %s', (_, query, issue) => {
    expect(issuesOf(logsQuerySchema, query)).toContainEqual(
      expect.stringMatching(issue),
    );
  });
});

describe('runIdParamSchema', () => {
  it.each([[RUN_ID], [PLAN_RUN_ID]])('accepts the uuid %s', id => {
    expect(runIdParamSchema.parse({ id })).toEqual({ id });
  });

  it.each([
    ['a number', '42'],
    ['a path', '../x'],
    ['a truncated uuid', RUN_ID.slice(0, 35)],
    ['a uuid with a suffix', `${RUN_ID}x`],
    ['a uuid without dashes', RUN_ID.replace(/-/g, '')],
    ['a uuid in braces', `{${RUN_ID}}`],
    ['a uuid with a newline', `${RUN_ID}\n`],
    ['an empty id', ''],
    ['a 1 MB id', MB],
  ])('refuses %s', (_, id) => {
    expect(issuesOf(runIdParamSchema, { id })).toContainEqual(
      expect.stringMatching(/^id: /),
    );
  });

  it('refuses extra parameters', () => {
    expect(issuesOf(runIdParamSchema, { id: RUN_ID, x: '1' })).toContainEqual(
      expect.stringMatching(/Unrecognized key.*x/),
    );
  });
});

describe('jobSchema', () => {
  const planJob = {
    version: 1,
    runId: RUN_ID,
    operation: 'plan',
    entityRef: 'component:default/payments',
    environment: 'prod',
    repository: 'https://github.com/acme/live.git',
    ref: 'main',
    commitSha: SHA,
    path: 'live/prod/payments',
    modules: [
      {
        source: 'git::https://github.com/acme/sc.git//modules/web',
        versions: ['v1.0.0', 'v1.1.0'],
      },
    ],
    issuedAt: '2024-05-01T12:00:00.000Z',
  };
  const applyJob = {
    ...planJob,
    runId: '9b2f4a0e-3c1d-4e5f-8a6b-7c8d9e0f1a2b',
    operation: 'apply',
    plan: { runId: PLAN_RUN_ID, sha256: SHA256 },
  };

  it.each([
    ['a plan job', planJob],
    ['an apply job', applyJob],
    ['a job without modules', { ...planJob, modules: [] }],
    [
      'a job for an scp-like repository',
      { ...planJob, repository: 'git@github.com:acme/live.git' },
    ],
  ])('accepts %s', (_, job) => {
    expect(jobSchema.parse(job)).toEqual(job);
  });

  it('fits a job with a full catalog snapshot into MAX_JOB_BYTES', () => {
    // The catalog of a large organisation must still fit a job.
    const modules = Array.from({ length: 200 }, (_, i) => ({
      source: `git::https://github.com/acme/service-catalog.git//modules/m${i}`,
      versions: Array.from({ length: 10 }, (__, j) => `v1.${j}.0`),
    }));
    const job = { ...planJob, modules };
    expect(jobSchema.parse(job)).toEqual(job);
    expect(JSON.stringify(job).length).toBeLessThan(MAX_JOB_BYTES);
  });

  it.each([
    [
      'an apply without plan',
      { ...applyJob, plan: undefined },
      /an apply job must name its plan/,
    ],
    [
      'a plan with a plan',
      { ...planJob, plan: applyJob.plan },
      /a plan job must not name a plan/,
    ],
    [
      'an unknown field',
      { ...planJob, command: 'terraform destroy' },
      /Unrecognized key.*command/,
    ],
    [
      'an unknown field in the plan',
      { ...applyJob, plan: { ...applyJob.plan, path: '/tmp/x' } },
      /Unrecognized key.*path/,
    ],
    [
      'an unknown field in a module',
      { ...planJob, modules: [{ ...planJob.modules[0], ref: 'v1' }] },
      /Unrecognized key.*ref/,
    ],
    ['another version', { ...planJob, version: 2 }, /^version: /],
    ['a destroy', { ...planJob, operation: 'destroy' }, /^operation: /],
    ['a bad run id', { ...planJob, runId: '1' }, /^runId: /],
    [
      'a bad plan run id',
      { ...applyJob, plan: { ...applyJob.plan, runId: 'x' } },
      /^plan\.runId: /,
    ],
    [
      'a bad plan digest',
      { ...applyJob, plan: { ...applyJob.plan, sha256: SHA256.toUpperCase() } },
      /^plan\.sha256: must be a sha256/,
    ],
    [
      'a short plan digest',
      { ...applyJob, plan: { ...applyJob.plan, sha256: SHA } },
      /^plan\.sha256: must be a sha256/,
    ],
    [
      'a traversing path',
      { ...planJob, path: '../../etc' },
      /^path: path "\.\.\/\.\.\/etc" must not contain '\.\.'/,
    ],
    [
      'an absolute path',
      { ...planJob, path: '/etc' },
      /^path: .*must be relative/,
    ],
    ['an option-like path', { ...planJob, path: '-rf' }, /^path: /],
    ['a dot-git path', { ...planJob, path: 'a/.git' }, /^path: /],
    [
      'a command transport',
      { ...planJob, repository: 'ext::sh -c x' },
      /^repository: repository URL /,
    ],
    [
      'an upload-pack option',
      { ...planJob, repository: '--upload-pack=x' },
      /^repository: .*must not start with '-'/,
    ],
    [
      'credentials in the repository',
      { ...planJob, repository: 'https://u:p@github.com/a/b' },
      /^repository: /,
    ],
    [
      'an option as the ref',
      { ...planJob, ref: '--upload-pack=x' },
      /^ref: branch /,
    ],
    [
      'a revision expression as the ref',
      { ...planJob, ref: 'main^' },
      /^ref: branch /,
    ],
    [
      'an abbreviated commit',
      { ...planJob, commitSha: SHA.slice(0, 7) },
      /^commitSha: commit /,
    ],
    [
      'a bad environment',
      { ...planJob, environment: '-prod' },
      /^environment: /,
    ],
    ['a bad entity ref', { ...planJob, entityRef: 'payments' }, /^entityRef: /],
    [
      'an unvetted module source form',
      {
        ...planJob,
        modules: [{ source: 'hashicorp/consul/aws', versions: ['v1'] }],
      },
      /^modules\.0\.source: module source .*not a git:: source/,
    ],
    [
      'a pinned catalog source',
      {
        ...planJob,
        modules: [
          {
            ...planJob.modules[0],
            source: `${planJob.modules[0].source}?ref=v1.0.0`,
          },
        ],
      },
      /^modules\.0\.source: /,
    ],
    [
      'a hostile module version',
      {
        ...planJob,
        modules: [
          { ...planJob.modules[0], versions: ['v1', '--upload-pack=x'] },
        ],
      },
      /^modules\.0\.versions\.1: tag /,
    ],
    [
      'too many module versions',
      {
        ...planJob,
        modules: [
          {
            ...planJob.modules[0],
            versions: Array.from({ length: 101 }, (_, i) => `v${i}`),
          },
        ],
      },
      /^modules\.0\.versions: /,
    ],
    [
      'too many modules',
      {
        ...planJob,
        modules: Array.from({ length: 1001 }, () => planJob.modules[0]),
      },
      /^modules: /,
    ],
    [
      'a non-ISO timestamp',
      { ...planJob, issuedAt: 'yesterday' },
      /^issuedAt: /,
    ],
    ['a missing timestamp', { ...planJob, issuedAt: undefined }, /^issuedAt: /],
  ])('refuses %s', (_, job, issue) => {
    expect(issuesOf(jobSchema, job)).toContainEqual(
      expect.stringMatching(issue),
    );
  });

  it.each([
    ['null', null],
    ['an array', [planJob]],
    ['a string', JSON.stringify(planJob)],
  ])('refuses a job that is %s', (_, input) => {
    expect(jobSchema.safeParse(input).success).toBe(false);
  });

  it('refuses an own __proto__ key', () => {
    const job = JSON.parse(
      JSON.stringify(planJob).replace(
        /}$/,
        ',"__proto__":{"operation":"apply"}}',
      ),
    );
    expect(Object.prototype.hasOwnProperty.call(job, '__proto__')).toBe(true);
    expect(issuesOf(jobSchema, job)).toContainEqual(
      expect.stringMatching(/Unrecognized key.*__proto__/),
    );
  });
});

describe('runnerEventSchema', () => {
  it.each([
    ['a log line', { type: 'log', line: 'Initializing the backend...' }],
    ['an empty log line', { type: 'log', line: '' }],
    [
      'a maximal log line',
      { type: 'log', line: 'x'.repeat(MAX_LOG_LINE_LENGTH) },
    ],
    ['a phase', { type: 'phase', phase: 'module-check' }],
    ['the code-check phase', { type: 'phase', phase: 'code-check' }],
    ['a minimal result', { type: 'result', status: 'failed' }],
    [
      'a full result',
      {
        type: 'result',
        status: 'succeeded',
        commitSha: SHA,
        plan: { add: 1, change: 0, destroy: 1 },
        changes: [
          { address: 'aws_s3_bucket.logs', actions: ['create'] },
          { address: 'aws_instance.web', actions: ['delete', 'create'] },
        ],
        planSha256: SHA256,
        moduleSources: [
          'git::https://github.com/acme/sc.git//modules/web?ref=v1.0.0',
        ],
      },
    ],
    [
      'a rejection',
      {
        type: 'result',
        status: 'rejected',
        error: 'module source "x" is not a vetted catalog module',
      },
    ],
  ])('accepts %s', (_, event) => {
    expect(runnerEventSchema.parse(event)).toEqual(event);
  });

  it.each([
    ['an unknown type', { type: 'exec', command: 'sh' }, /type/i],
    ['a missing type', { line: 'x' }, /type/i],
    [
      'an extra field on a log',
      { type: 'log', line: 'x', level: 'info' },
      /Unrecognized key.*level/,
    ],
    [
      'an extra field on a phase',
      { type: 'phase', phase: 'plan', at: 1 },
      /Unrecognized key.*at/,
    ],
    [
      'an extra field on a result',
      { type: 'result', status: 'succeeded', approvedBy: 'user:default/x' },
      /Unrecognized key.*approvedBy/,
    ],
    [
      'an oversize log line',
      { type: 'log', line: 'x'.repeat(MAX_LOG_LINE_LENGTH + 1) },
      /^line: /,
    ],
    ['a 1 MB log line', { type: 'log', line: MB }, /^line: /],
    [
      'a non-string log line',
      { type: 'log', line: { toString: 'x' } },
      /^line: /,
    ],
    ['an unknown phase', { type: 'phase', phase: 'destroy' }, /^phase: /],
    [
      'a status the runner may not report',
      { type: 'result', status: 'queued' },
      /^status: /,
    ],
    [
      'an abbreviated commit',
      { type: 'result', status: 'succeeded', commitSha: 'abc1234' },
      /^commitSha: /,
    ],
    [
      'a negative plan count',
      {
        type: 'result',
        status: 'succeeded',
        plan: { add: -1, change: 0, destroy: 0 },
      },
      /^plan\.add: /,
    ],
    [
      'a fractional plan count',
      {
        type: 'result',
        status: 'succeeded',
        plan: { add: 0.5, change: 0, destroy: 0 },
      },
      /^plan\.add: /,
    ],
    [
      'an extra plan field',
      {
        type: 'result',
        status: 'succeeded',
        plan: { add: 0, change: 0, destroy: 0, import: 1 },
      },
      /Unrecognized key.*import/,
    ],
    [
      'a change with values',
      {
        type: 'result',
        status: 'succeeded',
        changes: [
          { address: 'a.b', actions: ['create'], after: { password: 'x' } },
        ],
      },
      /Unrecognized key.*after/,
    ],
    [
      'a change without actions',
      {
        type: 'result',
        status: 'succeeded',
        changes: [{ address: 'a.b', actions: [] }],
      },
      /^changes\.0\.actions: /,
    ],
    [
      'an unknown action',
      {
        type: 'result',
        status: 'succeeded',
        changes: [{ address: 'a.b', actions: ['replace'] }],
      },
      /^changes\.0\.actions\.0: /,
    ],
    [
      'an empty address',
      {
        type: 'result',
        status: 'succeeded',
        changes: [{ address: '', actions: ['create'] }],
      },
      /^changes\.0\.address: /,
    ],
    [
      'a bad plan digest',
      { type: 'result', status: 'succeeded', planSha256: 'x' },
      /^planSha256: must be a sha256/,
    ],
    [
      'an oversize error',
      { type: 'result', status: 'failed', error: 'x'.repeat(4001) },
      /^error: /,
    ],
  ])('refuses %s', (_, event, issue) => {
    expect(issuesOf(runnerEventSchema, event)).toContainEqual(
      expect.stringMatching(issue),
    );
  });

  it.each([
    ['null', null],
    ['a string', '{"type":"log","line":"x"}'],
    ['an array', [{ type: 'log', line: 'x' }]],
  ])('refuses an event that is %s', (_, input) => {
    expect(runnerEventSchema.safeParse(input).success).toBe(false);
  });
});

describe('planPolicySchema', () => {
  it('defaults to no code execution and no provider but the built-in one', () => {
    expect(planPolicySchema.parse({})).toEqual({
      allowCodeExecution: false,
      providers: [],
      providerArguments: [],
      backends: [],
      allowNetwork: false,
    });
  });

  it.each([['local'], ['cloud'], ['remote'], ['S3'], ['../s3']])(
    'never allows the %s backend',
    backend => {
      expect(planPolicySchema.safeParse({ backends: [backend] }).success).toBe(
        false,
      );
    },
  );

  it('keeps an explicit policy', () => {
    expect(
      planPolicySchema.parse({
        allowCodeExecution: true,
        providers: ['registry.terraform.io/hashicorp/aws'],
        backends: ['s3'],
      }),
    ).toEqual({
      allowCodeExecution: true,
      providers: ['registry.terraform.io/hashicorp/aws'],
      providerArguments: [],
      backends: ['s3'],
      allowNetwork: false,
    });
  });

  it.each([
    [
      'a shorthand provider',
      { providers: ['hashicorp/aws'] },
      /^providers\.0: .*must be written in full/,
    ],
    ['a wildcard provider', { providers: ['*'] }, /^providers\.0: /],
    ['a string flag', { allowCodeExecution: 'true' }, /^allowCodeExecution: /],
    [
      'an unknown key',
      { allowEverything: true },
      /Unrecognized key: "allowEverything"/,
    ],
  ])('refuses %s', (_, input, issue) => {
    expect(issuesOf(planPolicySchema, input)).toContainEqual(
      expect.stringMatching(issue),
    );
  });
});

describe('jobSchema break-glass grant', () => {
  const apply = {
    version: 1,
    runId: RUN_ID,
    operation: 'apply',
    entityRef: 'component:default/payments',
    environment: 'prod',
    repository: 'https://github.com/acme/live.git',
    ref: 'hotfix/inc-1',
    commitSha: SHA,
    path: 'live/prod/payments',
    modules: [],
    plan: { runId: PLAN_RUN_ID, sha256: SHA256 },
    issuedAt: '2024-05-01T12:00:00.000Z',
  };
  const grant = {
    sessionId: PLAN_RUN_ID,
    openedBy: 'user:default/pat',
    expiresAt: '2024-05-01T13:00:00.000Z',
  };

  it('accepts an apply job with a grant', () => {
    expect(jobSchema.parse({ ...apply, breakGlass: grant })).toEqual({
      ...apply,
      breakGlass: grant,
    });
  });

  it.each([
    [
      'an unknown key in the grant',
      { ...apply, breakGlass: { ...grant, bypass: 'all' } },
      /Unrecognized key/,
    ],
    [
      'a grant without expiry',
      {
        ...apply,
        breakGlass: { sessionId: PLAN_RUN_ID, openedBy: 'user:default/pat' },
      },
      /expiresAt/,
    ],
    [
      'a grant with a non-ISO expiry',
      { ...apply, breakGlass: { ...grant, expiresAt: 'tomorrow' } },
      /expiresAt/,
    ],
    [
      'a grant on a plan job',
      { ...apply, operation: 'plan', plan: undefined, breakGlass: grant },
      /must not carry a break-glass grant/,
    ],
  ])('refuses %s', (_, job, message) => {
    expect(issuesOf(jobSchema, job).join('\n')).toMatch(message);
  });
});

describe('openBreakGlassRequestSchema', () => {
  const valid = {
    entityRef: 'component:payments',
    environment: 'prod',
    reason: 'payments down, hotfix INC-1',
  };

  it('accepts a minimal request, normalising the entity ref and trimming the reason', () => {
    expect(
      openBreakGlassRequestSchema.parse({
        ...valid,
        reason: `  ${valid.reason}\u0020`,
      }),
    ).toEqual({
      ...valid,
      entityRef: 'component:default/payments',
    });
  });

  it.each([
    [
      'a ticket and a duration',
      { ...valid, ticket: 'JIRA:OPS-7', durationMinutes: 30 },
    ],
    [
      'a URL ticket',
      { ...valid, ticket: 'https://jira.example.com/browse/OPS-7' },
    ],
    ['a reason of 2000 characters', { ...valid, reason: 'r'.repeat(2000) }],
    [
      'the longest duration',
      { ...valid, durationMinutes: MAX_BREAK_GLASS_DURATION_MINUTES },
    ],
  ])('accepts %s', (_, body) => {
    expect(openBreakGlassRequestSchema.safeParse(body).success).toBe(true);
  });

  it.each([
    [
      'no reason',
      { entityRef: valid.entityRef, environment: 'prod' },
      'reason',
    ],
    [
      'a reason under 10 characters once trimmed',
      { ...valid, reason: '   short   ' },
      'reason',
    ],
    [
      'a reason over 2000 characters',
      { ...valid, reason: 'r'.repeat(2001) },
      'reason',
    ],
    ['a megabyte reason', { ...valid, reason: MB }, 'reason'],
    [
      'a reason with a newline',
      { ...valid, reason: 'line one here\nline two' },
      'reason',
    ],
    [
      'a reason with DEL',
      { ...valid, reason: 'a reason here\u007f' },
      'reason',
    ],
    [
      'a reason with a C1 control',
      { ...valid, reason: 'a reason here\u009b31m' },
      'reason',
    ],
    [
      'a reason with a bidi isolate',
      { ...valid, reason: 'a reason \u2066here\u2069' },
      'reason',
    ],
    ['a ticket with a space', { ...valid, ticket: 'OPS 7' }, 'ticket'],
    ['a ticket with a quote', { ...valid, ticket: "OPS-7'" }, 'ticket'],
    [
      'a ticket of 129 characters',
      { ...valid, ticket: 'T'.repeat(129) },
      'ticket',
    ],
    ['a duration of 0', { ...valid, durationMinutes: 0 }, 'durationMinutes'],
    [
      'a duration over a week',
      { ...valid, durationMinutes: MAX_BREAK_GLASS_DURATION_MINUTES + 1 },
      'durationMinutes',
    ],
    [
      'a fractional duration',
      { ...valid, durationMinutes: 0.5 },
      'durationMinutes',
    ],
    ['an unknown field', { ...valid, sessionId: RUN_ID }, ''],
  ])('refuses %s', (_, body, field) => {
    expect(
      issuesOf(openBreakGlassRequestSchema, body).some(
        i =>
          i.startsWith(`${field}:`) ||
          (field === '' && /Unrecognized key/.test(i)),
      ),
    ).toBe(true);
  });

  it('refuses own __proto__ and constructor keys of a parsed JSON body', () => {
    for (const key of ['__proto__', 'constructor']) {
      const body = JSON.parse(
        `{"entityRef":"component:payments","environment":"prod","reason":"a long enough reason","${key}":{"x":1}}`,
      );
      expect(openBreakGlassRequestSchema.safeParse(body).success).toBe(false);
    }
  });
});

describe('listBreakGlassQuerySchema and closeBreakGlassRequestSchema', () => {
  it('reads active as a boolean and limit as a number', () => {
    expect(
      listBreakGlassQuerySchema.parse({ active: 'true', limit: '5' }),
    ).toEqual({ active: true, limit: 5 });
    expect(listBreakGlassQuerySchema.parse({ active: 'false' })).toEqual({
      active: false,
    });
  });

  it.each([
    [{ active: '1' }],
    [{ limit: String(MAX_BREAK_GLASS_LIST_LIMIT + 1) }],
    [{ mine: 'true' }],
  ])('refuses %j', query => {
    expect(listBreakGlassQuerySchema.safeParse(query).success).toBe(false);
  });

  it('takes an optional, clean note', () => {
    expect(closeBreakGlassRequestSchema.parse({})).toEqual({});
    expect(closeBreakGlassRequestSchema.parse({ reason: ' done ' })).toEqual({
      reason: 'done',
    });
    expect(closeBreakGlassRequestSchema.safeParse({ reason: '' }).success).toBe(
      false,
    );
    expect(
      closeBreakGlassRequestSchema.safeParse({ reason: 'a\u0000b' }).success,
    ).toBe(false);
    expect(closeBreakGlassRequestSchema.safeParse({ note: 'x' }).success).toBe(
      false,
    );
  });
});
