/* eslint-disable jest/expect-expect -- each test runs one named property below, whose expects are in the property */
import { spawnSync } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parse } from '@cdktf/hcl2json';

// Static checks of the sealed runner's infrastructure (deploy/terraform) and
// the account guardrails (deploy/terraform/guardrails). Terraform cannot
// download the AWS provider here, so `terraform validate` and `plan` are out
// of reach: the .tf files are parsed with HCL's own parser and every
// least-privilege property the design rests on is asserted on the parsed
// blocks, each in its own test, so that a widening fails CI with a message
// saying which property broke. The last block shows each check failing
// against a deliberately widened copy.

const DEPLOY = resolve(__dirname, '../../deploy/terraform');
const GUARDRAILS = join(DEPLOY, 'guardrails');

// ---------------------------------------------------------------------------
// Reading a Terraform module

type Block = Record<string, any>;

interface TerraformModule {
  name: string;
  resource: Record<string, Record<string, Block>>;
  data: Record<string, Record<string, Block>>;
  locals: Record<string, any>;
  variable: Record<string, Block>;
  output: Record<string, Block>;
}

async function loadModule(dir: string, name: string): Promise<TerraformModule> {
  const module: TerraformModule = { name, resource: {}, data: {}, locals: {}, variable: {}, output: {} };
  const files = (await readdir(dir)).filter(f => f.endsWith('.tf')).sort();
  for (const file of files) {
    const parsed = (await parse(file, await readFile(join(dir, file), 'utf8'))) as Block;
    for (const kind of ['resource', 'data'] as const) {
      for (const [type, byName] of Object.entries<Block>(parsed[kind] ?? {})) {
        for (const [blockName, blocks] of Object.entries<Block[]>(byName)) {
          (module[kind][type] ??= {})[blockName] = blocks[0];
        }
      }
    }
    for (const locals of parsed.locals ?? []) {
      Object.assign(module.locals, locals);
    }
    for (const kind of ['variable', 'output'] as const) {
      for (const [blockName, blocks] of Object.entries<Block[]>(parsed[kind] ?? {})) {
        module[kind][blockName] = blocks[0];
      }
    }
  }
  return module;
}

function resource(module: TerraformModule, type: string, name: string): Block {
  const block = module.resource[type]?.[name];
  if (!block) {
    throw new Error(`${module.name}: no resource ${type}.${name}`);
  }
  return block;
}

/**
 * Replaces `${local.x}` with the local's value where that is a string, so
 * `"${local.plans_objects}"` reads as the ARN pattern it stands for.
 */
function resolveLocals(module: TerraformModule, value: string): string {
  let text = value;
  for (let depth = 0; depth < 10; depth++) {
    const next = text.replace(/\$\{local\.([a-z0-9_]+)\}/g, (whole, name) =>
      typeof module.locals[name] === 'string' ? module.locals[name] : whole,
    );
    if (next === text) {
      return text;
    }
    text = next;
  }
  return text;
}

/** A list attribute: literal, or a single `${local.x}` naming a list local. */
function listOf(module: TerraformModule, value: unknown): string[] {
  if (value === undefined) {
    return [];
  }
  if (typeof value === 'string') {
    const local = /^\$\{local\.([a-z0-9_]+)\}$/.exec(value);
    if (local && Array.isArray(module.locals[local[1]])) {
      return listOf(module, module.locals[local[1]]);
    }
    return [resolveLocals(module, value)];
  }
  return (value as string[]).map(v => resolveLocals(module, v));
}

// ---------------------------------------------------------------------------
// Policy documents: every policy in deploy/ is a data "aws_iam_policy_document"

interface Condition {
  test: string;
  variable: string;
  values: string[];
}

interface Statement {
  document: string;
  sid: string;
  effect: 'Allow' | 'Deny';
  actions: string[];
  notActions: string[];
  resources: string[];
  principals: { type: string; identifiers: string[] }[];
  conditions: Condition[];
}

type DocumentKind = 'identity' | 'trust' | 'key' | 'bucket' | 'topic' | 'scp' | 'boundary';

/** aws_iam_policy resources used as permissions boundaries, not grants. */
const PERMISSIONS_BOUNDARIES = ['human_boundary'];

function statementsOf(module: TerraformModule, document: string): Statement[] {
  const block = module.data.aws_iam_policy_document?.[document];
  if (!block) {
    throw new Error(`${module.name}: no policy document ${document}`);
  }
  const raw: Block[] = [
    ...(block.statement ?? []),
    ...(block.dynamic?.statement ?? []).flatMap((d: Block) => d.content),
  ];
  return raw.map(s => ({
    document,
    sid: s.sid ?? '',
    effect: s.effect ?? 'Allow',
    actions: listOf(module, s.actions),
    notActions: listOf(module, s.not_actions),
    resources: listOf(module, s.resources),
    principals: (s.principals ?? []).map((p: Block) => ({
      type: p.type,
      identifiers: listOf(module, p.identifiers),
    })),
    conditions: (s.condition ?? []).map((c: Block) => ({
      test: c.test,
      variable: c.variable,
      values: listOf(module, c.values),
    })),
  }));
}

function statementWithSid(module: TerraformModule, document: string, sid: string): Statement {
  const statement = statementsOf(module, document).find(s => s.sid === sid);
  if (!statement) {
    throw new Error(`${module.name}: no statement ${sid} in ${document}`);
  }
  return statement;
}

/** Where each policy document is used, found from the resources that reference it. */
function documentKinds(module: TerraformModule): Map<string, DocumentKind> {
  const kinds = new Map<string, DocumentKind>();
  const uses: [string, string, (name: string) => DocumentKind][] = [
    ['aws_iam_role', 'assume_role_policy', () => 'trust'],
    ['aws_iam_role_policy', 'policy', () => 'identity'],
    ['aws_iam_policy', 'policy', name => (PERMISSIONS_BOUNDARIES.includes(name) ? 'boundary' : 'identity')],
    ['aws_kms_key', 'policy', () => 'key'],
    ['aws_s3_bucket_policy', 'policy', () => 'bucket'],
    ['aws_sns_topic_policy', 'policy', () => 'topic'],
    ['aws_organizations_policy', 'content', () => 'scp'],
  ];
  for (const [type, attribute, kindOf] of uses) {
    for (const [name, block] of Object.entries(module.resource[type] ?? {})) {
      const reference = /data\.aws_iam_policy_document\.([a-z0-9_]+)(?:\[0\])?\.(?:minified_)?json/.exec(
        String(block[attribute] ?? ''),
      );
      if (reference) {
        kinds.set(reference[1], kindOf(name));
      }
    }
  }
  return kinds;
}

function allStatements(module: TerraformModule): Statement[] {
  return Object.keys(module.data.aws_iam_policy_document ?? {}).flatMap(d => statementsOf(module, d));
}

/** IAM's wildcard matching: `*` any run of characters, `?` one, case-insensitive. */
function actionMatches(pattern: string, action: string): boolean {
  const regex = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${regex}$`, 'i').test(action);
}

function allows(statement: Statement, action: string): boolean {
  return statement.effect === 'Allow' && statement.actions.some(a => actionMatches(a, action));
}

function condition(statement: Statement, test: string, variable: string): string[] | undefined {
  return statement.conditions.find(c => c.test === test && c.variable === variable)?.values;
}

function sorted(values: Iterable<string>): string[] {
  return [...new Set(values)].sort();
}

// ---------------------------------------------------------------------------
// The properties. Each is a function of the parsed modules, so the last
// block can run it against widened copies.

interface Deploy {
  runner: TerraformModule;
  guardrails: TerraformModule;
}

const BACKEND_ACTIONS = [
  'ecs:DescribeTasks',
  'ecs:RunTask',
  'ecs:StopTask',
  'ecs:TagResource',
  'iam:PassRole',
  'kms:GenerateDataKey',
  'kms:GetPublicKey',
  'kms:Sign',
  'logs:GetLogEvents',
  's3:PutObject',
];

/** Allow statements with Resource "*" that AWS offers no narrower resource for. */
const ACTIONS_ONLY_ON_ANY_RESOURCE = ['ecr:GetAuthorizationToken'];

/** The read-only patterns the guardrails leave to everyone, reviewed one by one. */
const REVIEWED_READ_ONLY_EXTRAS = [
  'logs:StartQuery',
  'logs:StopQuery',
  'sts:AssumeRole',
  'sts:SetSourceIdentity',
  'sts:TagSession',
];

/** How `arn:${local.partition}:ecs:${var.region}:${local.account_id}:` reads once its locals are resolved. */
const ECS_ARN_PREFIX =
  'arn:${data.aws_partition.current.partition}:ecs:${var.region}:${data.aws_caller_identity.current.account_id}:';

const EXAMPLE_DIGEST = `sha256:${'0123456789abcdef'.repeat(4)}`;

function everyPolicyIsAnAttachedPolicyDocument({ runner, guardrails }: Deploy) {
  for (const module of [runner, guardrails]) {
    const kinds = documentKinds(module);
    expect(sorted(kinds.keys())).toEqual(sorted(Object.keys(module.data.aws_iam_policy_document ?? {})));
    for (const [type, attribute] of [
      ['aws_iam_role', 'assume_role_policy'],
      ['aws_iam_role_policy', 'policy'],
      ['aws_iam_policy', 'policy'],
      ['aws_kms_key', 'policy'],
      ['aws_s3_bucket_policy', 'policy'],
      ['aws_sns_topic_policy', 'policy'],
      ['aws_organizations_policy', 'content'],
    ]) {
      for (const [name, block] of Object.entries(module.resource[type] ?? {})) {
        expect({ [`${type}.${name}.${attribute}`]: block[attribute] }).toEqual({
          [`${type}.${name}.${attribute}`]: expect.stringMatching(
            /^\$\{data\.aws_iam_policy_document\.[a-z0-9_]+(\[0\])?\.(minified_)?json\}$/,
          ),
        });
      }
    }
  }
}

function referencesResolve({ runner, guardrails }: Deploy) {
  for (const module of [runner, guardrails]) {
    const text = JSON.stringify([module.resource, module.data, module.locals, module.output]);
    const missing: string[] = [];
    for (const [, expression] of text.matchAll(/\$\{((?:[^{}]|\{[^{}]*\})*)\}/g)) {
      for (const [ref, dataPrefix, type, name] of expression.matchAll(
        /(?<![\w.])(data\.)?(aws_[a-z0-9_]+)\.([a-z0-9_]+)/g,
      )) {
        const blocks = dataPrefix ? module.data : module.resource;
        if (!blocks[type]?.[name]) missing.push(ref);
      }
      for (const [ref, name] of expression.matchAll(/(?<![\w.])local\.([a-z0-9_]+)/g)) {
        if (!(name in module.locals)) missing.push(ref);
      }
      for (const [ref, name] of expression.matchAll(/(?<![\w.])var\.([a-z0-9_]+)/g)) {
        if (!module.variable[name]) missing.push(ref);
      }
    }
    expect({ module: module.name, missing: sorted(missing) }).toEqual({ module: module.name, missing: [] });
  }
}

function backendActionSetIsExact({ runner }: Deploy) {
  const actions = statementsOf(runner, 'backend').flatMap(s => s.actions);
  expect(sorted(actions)).toEqual(BACKEND_ACTIONS);
  expect(statementsOf(runner, 'backend').every(s => s.effect === 'Allow' && s.notActions.length === 0)).toBe(true);
  const trust = statementsOf(runner, 'backend_trust');
  expect(trust.map(s => [s.actions, s.principals])).toEqual([
    [['sts:AssumeRole'], [{ type: 'AWS', identifiers: ['${var.backend_trusted_principal_arns}'] }]],
  ]);
}

function runTaskOnlyTheTwoFamiliesOnTheCluster({ runner }: Deploy) {
  const runTask = statementsOf(runner, 'backend').filter(s => allows(s, 'ecs:RunTask'));
  expect(runTask).toHaveLength(1);
  const [statement] = runTask;
  expect(statement.actions).toEqual(['ecs:RunTask']);
  const families = statement.resources.map(r => /:task-definition\/([^:]+):\*$/.exec(r)?.[1]);
  expect(sorted(statement.resources.map(r => r.replace(/task-definition\/.*/, '')))).toEqual([ECS_ARN_PREFIX]);
  expect(families).toEqual(['sealed-runner-plan', 'sealed-runner-apply']);
  expect(families).toEqual([
    resolveLocals(runner, resource(runner, 'aws_ecs_task_definition', 'plan').family),
    resolveLocals(runner, resource(runner, 'aws_ecs_task_definition', 'apply').family),
  ]);
  expect(condition(statement, 'ArnEquals', 'ecs:cluster')).toEqual(['${aws_ecs_cluster.runner.arn}']);
  expect(condition(statement, 'BoolIfExists', 'ecs:enable-execute-command')).toEqual(['false']);
}

function passRoleOnlyTheRunnerRoles({ runner }: Deploy) {
  const passRole = statementsOf(runner, 'backend').filter(s => allows(s, 'iam:PassRole'));
  expect(passRole).toHaveLength(1);
  expect(passRole[0].actions).toEqual(['iam:PassRole']);
  expect(sorted(passRole[0].resources)).toEqual([
    '${aws_iam_role.applier.arn}',
    '${aws_iam_role.execution.arn}',
    '${aws_iam_role.planner.arn}',
  ]);
  expect(condition(passRole[0], 'StringEquals', 'iam:PassedToService')).toEqual(['ecs-tasks.amazonaws.com']);
}

function taskControlOnlyOnTheCluster({ runner }: Deploy) {
  const clusterTasks = `${ECS_ARN_PREFIX}task/${runner.locals.cluster_name}/*`;
  expect(resource(runner, 'aws_ecs_cluster', 'runner').name).toBe('${local.cluster_name}');
  for (const action of ['ecs:DescribeTasks', 'ecs:StopTask']) {
    const statements = statementsOf(runner, 'backend').filter(s => allows(s, action));
    expect(statements).toHaveLength(1);
    expect(statements[0].resources).toEqual([clusterTasks]);
    expect(condition(statements[0], 'ArnEquals', 'ecs:cluster')).toEqual(['${aws_ecs_cluster.runner.arn}']);
  }
  const tagging = statementsOf(runner, 'backend').filter(s => allows(s, 'ecs:TagResource'));
  expect(tagging.map(s => [s.resources, condition(s, 'StringEquals', 'ecs:CreateAction')])).toEqual([
    [[clusterTasks], ['RunTask']],
  ]);
}

function backendReadsOnlyRunnerLogsAndWritesOnlyJobs({ runner }: Deploy) {
  const backend = statementsOf(runner, 'backend');
  expect(backend.filter(s => allows(s, 'logs:GetLogEvents')).map(s => s.resources)).toEqual([
    ['${aws_cloudwatch_log_group.runner.arn}:log-stream:*'],
  ]);
  expect(backend.filter(s => allows(s, 's3:PutObject')).map(s => s.resources)).toEqual([
    ['${aws_s3_bucket.artifacts.arn}/jobs/*'],
  ]);
  expect(backend.filter(s => allows(s, 'kms:GenerateDataKey')).map(s => s.resources)).toEqual([
    ['${aws_kms_key.artifacts.arn}'],
  ]);
  expect(backend.filter(s => allows(s, 'kms:Sign')).map(s => s.resources)).toEqual([
    ['${aws_kms_key.job_signing.arn}'],
  ]);
  expect(resource(runner, 'aws_cloudwatch_log_group', 'runner').name).toBe('${local.log_group_name}');
  expect(runner.locals.log_group_name).toBe('/sealed-runner/runner');
}

function noWildcardActionsInAllows({ runner, guardrails }: Deploy) {
  const offending = [...allStatements(runner), ...allStatements(guardrails)]
    .filter(s => s.effect === 'Allow')
    .filter(s => s.notActions.length > 0 || s.actions.some(a => a === '*' || /^[a-z0-9-]+:\*$/i.test(a)))
    .map(s => `${s.document}/${s.sid}: ${[...s.actions, ...s.notActions].join(', ')}`);
  expect(offending).toEqual([]);
}

function noAllowOnAnyResource({ runner, guardrails }: Deploy) {
  const offending: string[] = [];
  for (const module of [runner, guardrails]) {
    const kinds = documentKinds(module);
    for (const s of allStatements(module)) {
      if (s.effect !== 'Allow') continue;
      if (s.principals.some(p => p.type === '*' || p.identifiers.includes('*'))) {
        offending.push(`${s.document}/${s.sid}: principal *`);
      }
      // A key policy's "*" is the key itself; a boundary or an SCP grants nothing.
      const kind = kinds.get(s.document);
      if (kind === 'key' || kind === 'boundary' || kind === 'scp') continue;
      if (s.resources.includes('*') && !s.actions.every(a => ACTIONS_ONLY_ON_ANY_RESOURCE.includes(a))) {
        offending.push(`${s.document}/${s.sid}: Resource *`);
      }
    }
  }
  expect(offending).toEqual([]);
}

function backendDeniedReadingPlans({ runner }: Deploy) {
  const denied = statementsOf(runner, 'artifacts_bucket').filter(
    s =>
      s.effect === 'Deny' &&
      s.actions.some(a => actionMatches(a, 's3:GetObject')) &&
      s.resources.includes('${aws_s3_bucket.artifacts.arn}/plans/*') &&
      s.principals.some(p => p.type === 'AWS' && p.identifiers.includes('${aws_iam_role.backend.arn}')) &&
      s.conditions.length === 0,
  );
  expect(denied.map(s => s.sid)).toEqual(['DenyBackendReadingPlans']);
  expect(statementsOf(runner, 'backend').some(s => allows(s, 's3:GetObject'))).toBe(false);
  // Nor could it decrypt one: its use of the artifacts key is GenerateDataKey only.
  const backendKeyUse = statementsOf(runner, 'artifacts_key').filter(s =>
    s.principals.some(p => p.identifiers.includes('${aws_iam_role.backend.arn}')),
  );
  expect(backendKeyUse.flatMap(s => s.actions)).toEqual(['kms:GenerateDataKey']);
}

function bucketIsPrivateEncryptedAndTlsOnly({ runner }: Deploy) {
  expect(resource(runner, 'aws_s3_bucket_public_access_block', 'artifacts')).toMatchObject({
    block_public_acls: true,
    block_public_policy: true,
    ignore_public_acls: true,
    restrict_public_buckets: true,
  });
  expect(resource(runner, 'aws_s3_bucket_ownership_controls', 'artifacts').rule).toEqual([
    { object_ownership: 'BucketOwnerEnforced' },
  ]);
  expect(resource(runner, 'aws_s3_bucket_versioning', 'artifacts').versioning_configuration).toEqual([
    { status: 'Enabled' },
  ]);
  expect(resource(runner, 'aws_s3_bucket_server_side_encryption_configuration', 'artifacts').rule).toEqual([
    {
      apply_server_side_encryption_by_default: [
        { sse_algorithm: 'aws:kms', kms_master_key_id: '${aws_kms_key.artifacts.arn}' },
      ],
      bucket_key_enabled: true,
    },
  ]);
  const policy = statementsOf(runner, 'artifacts_bucket');
  const everyone = [{ type: '*', identifiers: ['*'] }];
  expect(policy.filter(s => s.effect === 'Deny' && s.principals.length === 1).map(s => s.sid)).toEqual(
    expect.arrayContaining(['DenyInsecureTransport', 'DenyPutWithoutSseKms', 'DenyPutWithAnotherKey']),
  );
  expect(statementWithSid(runner, 'artifacts_bucket', 'DenyInsecureTransport')).toMatchObject({
    effect: 'Deny',
    actions: ['s3:*'],
    resources: ['${aws_s3_bucket.artifacts.arn}', '${aws_s3_bucket.artifacts.arn}/*'],
    principals: everyone,
    conditions: [{ test: 'Bool', variable: 'aws:SecureTransport', values: ['false'] }],
  });
  expect(statementWithSid(runner, 'artifacts_bucket', 'DenyPutWithoutSseKms')).toMatchObject({
    effect: 'Deny',
    actions: ['s3:PutObject'],
    principals: everyone,
    conditions: [{ test: 'StringNotEquals', variable: 's3:x-amz-server-side-encryption', values: ['aws:kms'] }],
  });
  expect(statementWithSid(runner, 'artifacts_bucket', 'DenyPutWithAnotherKey')).toMatchObject({
    effect: 'Deny',
    actions: ['s3:PutObject'],
    principals: everyone,
    conditions: [
      {
        test: 'StringNotEquals',
        variable: 's3:x-amz-server-side-encryption-aws-kms-key-id',
        values: ['${aws_kms_key.artifacts.arn}'],
      },
    ],
  });
}

function artifactsExpire({ runner }: Deploy) {
  const rules = resource(runner, 'aws_s3_bucket_lifecycle_configuration', 'artifacts').rule as Block[];
  const expiry = Object.fromEntries(
    rules.filter(r => r.expiration).map(r => [r.filter[0].prefix, r.expiration[0].days]),
  );
  expect(expiry).toEqual({ 'jobs/': 2, 'seen-jobs/': 2, 'plans/': '${var.plan_retention_days}' });
  expect(runner.variable.plan_retention_days.default).toBe(30);
}

function taskDefinitionsAreLockedDown({ runner }: Deploy) {
  const container = runner.locals.runner_container;
  for (const [name, role] of [
    ['plan', 'planner'],
    ['apply', 'applier'],
  ]) {
    const definition = resource(runner, 'aws_ecs_task_definition', name);
    expect(definition).toMatchObject({
      requires_compatibilities: ['FARGATE'],
      network_mode: 'awsvpc',
      task_role_arn: `\${aws_iam_role.${role}.arn}`,
      execution_role_arn: '${aws_iam_role.execution.arn}',
      container_definitions: '${jsonencode([local.runner_container])}',
      volume: [{ name: 'work' }, { name: 'tmp' }],
    });
  }
  expect(container.name).toBe('${local.container_name}');
  expect(runner.locals.container_name).toBe('runner');
  expect(container.image).toBe('${var.runner_image}');
  expect(container.readonlyRootFilesystem).toBe(true);
  // Numeric and not root: a name could map to uid 0 in some image.
  expect(container.user).toMatch(/^[1-9][0-9]*:[1-9][0-9]*$/);
  expect(container.portMappings).toEqual([]);
  expect(container.linuxParameters.initProcessEnabled).toBe(true);
  expect(container.linuxParameters.capabilities.drop).toEqual(['ALL']);
  expect(container.mountPoints).toEqual([
    { sourceVolume: 'work', containerPath: '/work', readOnly: false },
    { sourceVolume: 'tmp', containerPath: '/tmp', readOnly: false },
  ]);
  expect(container.logConfiguration).toEqual({
    logDriver: 'awslogs',
    options: {
      'awslogs-group': '${aws_cloudwatch_log_group.runner.name}',
      'awslogs-region': '${var.region}',
      'awslogs-stream-prefix': '${local.log_stream_prefix}',
    },
  });
  // The backend reads runner/runner/<task id>.
  expect(runner.locals.log_stream_prefix).toBe('runner');
  expect(container.environment).toEqual([{ name: 'SEALED_RUNNER_CONFIG', value: '${local.runner_config_json}' }]);
  expect(runner.locals.runner_config_json).toBe('${jsonencode(local.runner_config)}');
  expect(container.entryPoint).toEqual([
    '/usr/local/bin/sealed-runner-entrypoint',
    '--config-sha256=${sha256(local.runner_config_json)}',
  ]);
  expect(container).not.toHaveProperty('command');
}

function imageMustBePinnedByDigest({ runner }: Deploy) {
  const validations = runner.variable.runner_image.validation as Block[];
  const conditionText: string = validations[0].condition;
  const pattern = /^\$\{can\(regex\("((?:[^"\\]|\\.)*)", var\.runner_image\)\)\}$/.exec(conditionText);
  expect(pattern).not.toBeNull();
  const accepts = new RegExp(pattern![1].replace(/\\\\/g, '\\'));
  expect({
    ecr: accepts.test(`123456789012.dkr.ecr.eu-west-1.amazonaws.com/sealed-runner@${EXAMPLE_DIGEST}`),
    tagAndDigest: accepts.test(`ghcr.io/acme/sealed-runner:1.4.0@${EXAMPLE_DIGEST}`),
    tag: accepts.test('ghcr.io/acme/sealed-runner:1.4.0'),
    latest: accepts.test('ghcr.io/acme/sealed-runner:latest'),
    shortDigest: accepts.test('ghcr.io/acme/sealed-runner@sha256:0123abcd'),
    upperCaseDigest: accepts.test(`ghcr.io/acme/sealed-runner@${EXAMPLE_DIGEST.toUpperCase()}`),
  }).toEqual({ ecr: true, tagAndDigest: true, tag: false, latest: false, shortDigest: false, upperCaseDigest: false });
  expect(runner.variable.runner_image.default).toBeUndefined();
}

function signingKeyIsEd25519AndOnlyTheBackendSigns({ runner, guardrails }: Deploy) {
  expect(resource(runner, 'aws_kms_key', 'job_signing')).toMatchObject({
    customer_master_key_spec: 'ECC_NIST_EDWARDS25519',
    key_usage: 'SIGN_VERIFY',
    policy: '${data.aws_iam_policy_document.job_signing_key.json}',
  });
  const signers = sorted(
    [...allStatements(runner), ...allStatements(guardrails)]
      .filter(s => allows(s, 'kms:Sign'))
      .map(s => `${s.document}/${s.sid}: ${s.principals.flatMap(p => p.identifiers).join(', ')}`),
  );
  // The key policy names the backend role; the backend's own policy is the other half.
  expect(signers).toEqual([
    'backend/SignJobs: ',
    'job_signing_key/OnlyTheBackendSigns: ${aws_iam_role.backend.arn}',
  ]);
  const sign = statementWithSid(runner, 'job_signing_key', 'OnlyTheBackendSigns');
  expect(condition(sign, 'StringEquals', 'kms:SigningAlgorithm')).toEqual(['ED25519_SHA_512']);
  expect(condition(sign, 'StringEquals', 'kms:MessageType')).toEqual(['RAW']);
  // Nobody may hand use of a key on.
  const granting = [...allStatements(runner), ...allStatements(guardrails)].filter(s =>
    allows(s, 'kms:CreateGrant'),
  );
  expect(granting.map(s => `${s.document}/${s.sid}`)).toEqual([]);
  expect(runner.data.aws_kms_public_key.job_signing.key_id).toBe('${aws_kms_key.job_signing.arn}');
  expect(runner.locals.runner_config.jobPublicKey).toBe('${data.aws_kms_public_key.job_signing.public_key_pem}');
}

function artifactsKeyRotatesAndServesOnlyTheRunnerAndBackend({ runner }: Deploy) {
  expect(resource(runner, 'aws_kms_key', 'artifacts')).toMatchObject({
    customer_master_key_spec: 'SYMMETRIC_DEFAULT',
    enable_key_rotation: true,
  });
  const uses = statementsOf(runner, 'artifacts_key').map(s => [
    s.principals.flatMap(p => p.identifiers),
    s.actions,
  ]);
  expect(uses).toEqual([
    [
      ['arn:${data.aws_partition.current.partition}:iam::${data.aws_caller_identity.current.account_id}:root'],
      runner.locals.key_administration_actions,
    ],
    [['${aws_iam_role.planner.arn}', '${aws_iam_role.applier.arn}'], ['kms:Decrypt', 'kms:GenerateDataKey']],
    [['${aws_iam_role.backend.arn}'], ['kms:GenerateDataKey']],
  ]);
  // The account administers the keys but cannot use them.
  for (const use of ['kms:Decrypt', 'kms:Encrypt', 'kms:GenerateDataKey', 'kms:Sign', 'kms:ReEncryptFrom']) {
    expect({ [use]: (runner.locals.key_administration_actions as string[]).some(a => actionMatches(a, use)) }).toEqual(
      { [use]: false },
    );
  }
}

function plannerWritesAndApplierOnlyReadsPlans({ runner }: Deploy) {
  const writesPlans = (document: string) =>
    statementsOf(runner, document).some(
      s => allows(s, 's3:PutObject') && s.resources.includes('${aws_s3_bucket.artifacts.arn}/plans/*'),
    );
  const readsPlans = (document: string) =>
    statementsOf(runner, document).some(
      s => allows(s, 's3:GetObject') && s.resources.includes('${aws_s3_bucket.artifacts.arn}/plans/*'),
    );
  expect({ planner: [readsPlans('planner_artifacts'), writesPlans('planner_artifacts')] }).toEqual({
    planner: [true, true],
  });
  expect({ applier: [readsPlans('applier_artifacts'), writesPlans('applier_artifacts')] }).toEqual({
    applier: [true, false],
  });
  expect(runner.variable.planner_policy_arns.default).toEqual(['arn:aws:iam::aws:policy/ReadOnlyAccess']);
  expect(runner.variable.applier_policy_arns).not.toHaveProperty('default');
}

function scpDeniesMutationOutsideThePipeline({ guardrails }: Deploy) {
  const statement = statementWithSid(guardrails, 'guardrails_scp', 'DenyChangesOutsideThePipeline');
  expect(statement).toMatchObject({ effect: 'Deny', actions: [], resources: ['*'] });
  expect(statement.notActions).toEqual(guardrails.locals.read_only_actions);
  const unreviewed = statement.notActions.filter(
    a =>
      !/^\*:(BatchGet|Describe|Filter|Get|List|Lookup|Search)\*$/.test(a) && !REVIEWED_READ_ONLY_EXTRAS.includes(a),
  );
  expect(unreviewed).toEqual([]);
  const exempt = condition(statement, 'ArnNotLike', 'aws:PrincipalArn');
  expect(exempt).toEqual([
    '${concat([var.applier_role_arn, var.break_glass_role_arn], var.workload_role_arn_patterns)}',
  ]);
  const iam = statementWithSid(guardrails, 'guardrails_scp', 'DenyIamChangesOutsideThePipeline');
  expect(condition(iam, 'ArnNotLike', 'aws:PrincipalArn')).toEqual([
    '${var.applier_role_arn}',
    '${var.break_glass_role_arn}',
  ]);
  expect(iam.actions.some(a => actionMatches(a, 'iam:CreateRole'))).toBe(true);
  expect(iam.actions.some(a => actionMatches(a, 'iam:AttachRolePolicy'))).toBe(true);
  expect(iam.actions.some(a => actionMatches(a, 'iam:PutRolePermissionsBoundary'))).toBe(true);
  const scp = resource(guardrails, 'aws_organizations_policy', 'guardrails');
  expect(scp).toMatchObject({
    type: 'SERVICE_CONTROL_POLICY',
    content: '${data.aws_iam_policy_document.guardrails_scp.minified_json}',
  });
  expect(resource(guardrails, 'aws_organizations_policy_attachment', 'guardrails').for_each).toBe(
    '${var.manage_scp ? toset(var.scp_target_ids) : toset([])}',
  );
}

function scpKeepsTheAuditTrailAndAlarmToBreakGlass({ guardrails }: Deploy) {
  const breakGlassOnly = ['${var.break_glass_role_arn}'];
  for (const [sid, action] of [
    ['DenyLeavingTheOrganization', 'organizations:LeaveOrganization'],
    ['DenyDisablingCloudTrail', 'cloudtrail:StopLogging'],
    ['DenyDisablingCloudTrail', 'cloudtrail:DeleteTrail'],
    ['DenyAlteringTheBreakGlassAlarm', 'events:DisableRule'],
    ['DenyAlteringTheBreakGlassAlarm', 'sns:DeleteTopic'],
    ['DenyAlteringTheAlarmKey', 'kms:ScheduleKeyDeletion'],
  ]) {
    const statement = statementWithSid(guardrails, 'guardrails_scp', sid);
    expect({ sid, action, effect: statement.effect, denied: statement.actions.some(a => actionMatches(a, action)) }).toEqual(
      { sid, action, effect: 'Deny', denied: true },
    );
    expect({ sid, exempt: condition(statement, 'ArnNotLike', 'aws:PrincipalArn') }).toEqual({ sid, exempt: breakGlassOnly });
  }
  const alarm = statementWithSid(guardrails, 'guardrails_scp', 'DenyAlteringTheBreakGlassAlarm');
  expect(alarm.resources).toEqual([
    'arn:*:events:*:*:rule/sealed-runner-break-glass-*',
    'arn:*:sns:*:*:sealed-runner-break-glass*',
    'arn:*:s3:::sealed-runner-guardrails-trail-*',
  ]);
  // ...and those patterns name the resources alarm.tf and trail.tf create.
  const arnOf = (service: string, name: string) => `arn:aws:${service}:us-east-1:123456789012:${name}`;
  const protectedNames = [
    ...Object.values<string>(guardrails.locals.alarm_rule_names).map(n => arnOf('events', `rule/${resolveLocals(guardrails, n)}`)),
    arnOf('sns', resolveLocals(guardrails, resource(guardrails, 'aws_sns_topic', 'break_glass').name)),
    `arn:aws:s3:::${resolveLocals(guardrails, resource(guardrails, 'aws_s3_bucket', 'trail').bucket_prefix)}0123`,
  ];
  expect(protectedNames.filter(arn => !alarm.resources.some(pattern => actionMatches(pattern, arn)))).toEqual([]);
  const key = statementWithSid(guardrails, 'guardrails_scp', 'DenyAlteringTheAlarmKey');
  expect(condition(key, 'ForAnyValue:StringEquals', 'kms:ResourceAliases')).toEqual([
    resolveLocals(guardrails, resource(guardrails, 'aws_kms_alias', 'alarm').name),
  ]);
}

function scpFitsTheSizeLimit({ guardrails }: Deploy) {
  const arn = 'arn:aws:iam::*:role/aws-reserved/sso.amazonaws.com/eu-west-1/AWSReservedSSO_BreakGlassAdministrator_0123456789abcdef';
  const values = (list: string[]) =>
    list.flatMap(v =>
      v.startsWith('${concat(')
        ? [arn, arn, ...(guardrails.variable.workload_role_arn_patterns.default as string[])]
        : [v.startsWith('${var.') ? arn : v],
    );
  const rendered = JSON.stringify({
    Version: '2012-10-17',
    Statement: statementsOf(guardrails, 'guardrails_scp').map(s => ({
      Sid: s.sid,
      Effect: s.effect,
      ...(s.actions.length ? { Action: s.actions } : { NotAction: s.notActions }),
      Resource: s.resources,
      Condition: Object.fromEntries(s.conditions.map(c => [c.test, { [c.variable]: values(c.values) }])),
    })),
  });
  // Organizations refuses an SCP over 5,120 characters.
  expect(rendered.length).toBeLessThan(5120);
}

function boundaryIsTheSameCeiling({ guardrails }: Deploy) {
  expect(documentKinds(guardrails).get('human_boundary')).toBe('boundary');
  const statements = statementsOf(guardrails, 'human_boundary');
  expect(statements.map(s => [s.effect, s.actions, s.resources])).toEqual([
    ['Allow', guardrails.locals.read_only_actions, ['*']],
  ]);
}

function alarmWatchesTheBreakGlassRole({ guardrails }: Deploy) {
  const assumeRole = guardrails.locals.break_glass_assume_role_pattern;
  expect(assumeRole).toEqual({
    source: ['aws.sts'],
    'detail-type': ['AWS API Call via CloudTrail'],
    detail: {
      eventSource: ['sts.amazonaws.com'],
      eventName: ['AssumeRole', 'AssumeRoleWithSAML', 'AssumeRoleWithWebIdentity'],
      requestParameters: { roleArn: [{ wildcard: '${var.break_glass_role_arn}' }] },
    },
  });
  const signIn = guardrails.locals.break_glass_console_sign_in_pattern;
  expect(signIn).toEqual({
    source: ['aws.signin'],
    'detail-type': ['AWS Console Sign In via CloudTrail'],
    detail: {
      eventName: ['ConsoleLogin'],
      userIdentity: { arn: [{ wildcard: 'arn:*:sts::*:assumed-role/${local.break_glass_role_name}/*' }] },
    },
  });
  expect(guardrails.locals.break_glass_role_name).toBe(
    '${element(reverse(split("/", var.break_glass_role_arn)), 0)}',
  );
  for (const [rule, pattern] of [
    ['break_glass_assume_role', 'break_glass_assume_role_pattern'],
    ['break_glass_console_sign_in', 'break_glass_console_sign_in_pattern'],
  ]) {
    expect(resource(guardrails, 'aws_cloudwatch_event_rule', rule).event_pattern).toBe(`\${jsonencode(local.${pattern})}`);
    expect(resource(guardrails, 'aws_cloudwatch_event_target', rule)).toMatchObject({
      rule: `\${aws_cloudwatch_event_rule.${rule}[0].name}`,
      arn: '${aws_sns_topic.break_glass[0].arn}',
    });
  }
  expect(resource(guardrails, 'aws_sns_topic', 'break_glass').kms_master_key_id).toBe('${aws_kms_key.alarm[0].arn}');
  expect(resource(guardrails, 'aws_kms_key', 'alarm').enable_key_rotation).toBe(true);
  const publish = statementWithSid(guardrails, 'break_glass_topic', 'OnlyTheAlarmRulesPublish');
  expect(publish.principals).toEqual([{ type: 'Service', identifiers: ['events.amazonaws.com'] }]);
  expect(publish.conditions).toEqual([
    { test: 'ArnEquals', variable: 'aws:SourceArn', values: listOf(guardrails, '${local.alarm_rule_arns}') },
  ]);
  expect(guardrails.locals.alarm_rule_arns).toContain('values(local.alarm_rule_names)');
}

const check = {
  everyPolicyIsAnAttachedPolicyDocument,
  referencesResolve,
  backendActionSetIsExact,
  runTaskOnlyTheTwoFamiliesOnTheCluster,
  passRoleOnlyTheRunnerRoles,
  taskControlOnlyOnTheCluster,
  backendReadsOnlyRunnerLogsAndWritesOnlyJobs,
  noWildcardActionsInAllows,
  noAllowOnAnyResource,
  backendDeniedReadingPlans,
  bucketIsPrivateEncryptedAndTlsOnly,
  artifactsExpire,
  taskDefinitionsAreLockedDown,
  imageMustBePinnedByDigest,
  signingKeyIsEd25519AndOnlyTheBackendSigns,
  artifactsKeyRotatesAndServesOnlyTheRunnerAndBackend,
  plannerWritesAndApplierOnlyReadsPlans,
  scpDeniesMutationOutsideThePipeline,
  scpKeepsTheAuditTrailAndAlarmToBreakGlass,
  scpFitsTheSizeLimit,
  boundaryIsTheSameCeiling,
  alarmWatchesTheBreakGlassRole,
};

// ---------------------------------------------------------------------------

let deploy: Deploy;

beforeAll(async () => {
  deploy = {
    runner: await loadModule(DEPLOY, 'deploy/terraform'),
    guardrails: await loadModule(GUARDRAILS, 'deploy/terraform/guardrails'),
  };
});

describe('deploy/terraform', () => {
  it('is formatted (terraform fmt -check -recursive -diff)', () => {
    const fmt = spawnSync('terraform', ['fmt', '-check', '-recursive', '-diff', DEPLOY], {
      encoding: 'utf8',
      env: { PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin', TF_CLI_CONFIG_FILE: '/dev/null', CHECKPOINT_DISABLE: '1' },
    });
    expect({ status: fmt.status, diff: fmt.stdout, error: fmt.error?.message }).toEqual({
      status: 0,
      diff: '',
      error: undefined,
    });
  });

  it('writes every policy as an aws_iam_policy_document attached somewhere', () =>
    check.everyPolicyIsAnAttachedPolicyDocument(deploy));
  it('refers only to resources, data sources, locals and variables it declares', () =>
    check.referencesResolve(deploy));
});

describe('the Backstage backend role', () => {
  it('allows exactly the expected set of actions, assumed only by the given principals', () =>
    check.backendActionSetIsExact(deploy));
  it('runs only the plan and apply task definition families, on the runner cluster, without ECS Exec', () =>
    check.runTaskOnlyTheTwoFamiliesOnTheCluster(deploy));
  it('passes only the planner, applier and execution roles, and only to ECS tasks', () =>
    check.passRoleOnlyTheRunnerRoles(deploy));
  it('describes, stops and tags only tasks of the runner cluster', () => check.taskControlOnlyOnTheCluster(deploy));
  it("reads only the runner log group's streams, writes only jobs/, signs only with the signing key", () =>
    check.backendReadsOnlyRunnerLogsAndWritesOnlyJobs(deploy));
  it('is denied GetObject on plans/* by the bucket policy and cannot decrypt', () =>
    check.backendDeniedReadingPlans(deploy));
});

describe('every policy in deploy/', () => {
  it('allows no `*` or `<service>:*` action and no NotAction (only Deny statements may)', () =>
    check.noWildcardActionsInAllows(deploy));
  it('allows nothing on Resource "*" but actions AWS offers on no narrower resource, and no principal "*"', () =>
    check.noAllowOnAnyResource(deploy));
});

describe('the runner infrastructure', () => {
  it('keeps the artifacts bucket private, SSE-KMS with its key, versioned and TLS-only', () =>
    check.bucketIsPrivateEncryptedAndTlsOnly(deploy));
  it('expires jobs/ and seen-jobs/ after 2 days and plans/ after plan_retention_days', () =>
    check.artifactsExpire(deploy));
  it('runs tasks on Fargate/awsvpc, read-only root, numeric non-root user, awslogs prefix "runner", config pinned', () =>
    check.taskDefinitionsAreLockedDown(deploy));
  it('accepts the runner image only by digest', () => check.imageMustBePinnedByDigest(deploy));
  it('signs jobs with an Ed25519 SIGN_VERIFY key that only the backend role may use to Sign', () =>
    check.signingKeyIsEd25519AndOnlyTheBackendSigns(deploy));
  it('rotates the artifacts key and lets only the runner roles and the backend use it', () =>
    check.artifactsKeyRotatesAndServesOnlyTheRunnerAndBackend(deploy));
  it('lets the planner write plans and the applier only read them; apply credentials have no default', () =>
    check.plannerWritesAndApplierOnlyReadsPlans(deploy));
});

describe('the account guardrails', () => {
  it('deny every change except to the applier, break-glass and workload roles; IAM changes to the first two only', () =>
    check.scpDeniesMutationOutsideThePipeline(deploy));
  it('leave leaving the organization, CloudTrail and the alarm to the break-glass role alone', () =>
    check.scpKeepsTheAuditTrailAndAlarmToBreakGlass(deploy));
  it('fit in an SCP (5,120 characters)', () => check.scpFitsTheSizeLimit(deploy));
  it('offer the same read-only ceiling as a permissions boundary', () => check.boundaryIsTheSameCeiling(deploy));
  it('alarm on AssumeRole* of the break-glass role and console sign-ins with it, to an encrypted topic', () =>
    check.alarmWatchesTheBreakGlassRole(deploy));
});

// ---------------------------------------------------------------------------
// The checks can fail: each widening below, applied to a copy of the parsed
// modules, must be caught.

type Widening = [string, (d: Deploy) => void, (d: Deploy) => void];

function documentStatements(module: TerraformModule, document: string): Block[] {
  return module.data.aws_iam_policy_document[document].statement;
}

function statementBlock(module: TerraformModule, document: string, sid: string): Block {
  return documentStatements(module, document).find(s => s.sid === sid)!;
}

const WIDENINGS: Widening[] = [
  [
    'a policy written as a JSON string',
    d => (d.runner.resource.aws_iam_role_policy.backend.policy = '{"Statement":[{"Effect":"Allow","Action":"*"}]}'),
    check.everyPolicyIsAnAttachedPolicyDocument,
  ],
  [
    'a reference to a role nobody declared',
    d => statementBlock(d.runner, 'backend', 'PassOnlyTheRunnerRoles').resources.push('${aws_iam_role.admin.arn}'),
    check.referencesResolve,
  ],
  [
    'a wildcard action in the backend policy',
    d => statementBlock(d.runner, 'backend', 'StartRunnerTasks').actions.push('ecs:*'),
    check.noWildcardActionsInAllows,
  ],
  [
    'a wildcard action in the backend policy (the exact action set)',
    d => statementBlock(d.runner, 'backend', 'StartRunnerTasks').actions.push('ecs:*'),
    check.backendActionSetIsExact,
  ],
  [
    'a new action for the backend',
    d => statementBlock(d.runner, 'backend', 'LeaveJobsForTheRunner').actions.push('s3:GetObject'),
    check.backendActionSetIsExact,
  ],
  [
    'RunTask on any task definition',
    d => (statementBlock(d.runner, 'backend', 'StartRunnerTasks').resources = ['*']),
    check.runTaskOnlyTheTwoFamiliesOnTheCluster,
  ],
  [
    'RunTask on any cluster',
    d => (statementBlock(d.runner, 'backend', 'StartRunnerTasks').condition = []),
    check.runTaskOnlyTheTwoFamiliesOnTheCluster,
  ],
  [
    'PassRole on any role',
    d => (statementBlock(d.runner, 'backend', 'PassOnlyTheRunnerRoles').resources = ['*']),
    check.passRoleOnlyTheRunnerRoles,
  ],
  [
    'PassRole to any service',
    d => (statementBlock(d.runner, 'backend', 'PassOnlyTheRunnerRoles').condition = []),
    check.passRoleOnlyTheRunnerRoles,
  ],
  [
    'StopTask on any cluster',
    d => (statementBlock(d.runner, 'backend', 'WatchAndStopRunnerTasks').resources = ['arn:aws:ecs:*:*:task/*']),
    check.taskControlOnlyOnTheCluster,
  ],
  [
    'an Allow on Resource "*"',
    d => (statementBlock(d.runner, 'planner_artifacts', 'SavePlans').resources = ['*']),
    check.noAllowOnAnyResource,
  ],
  [
    'no bucket-policy deny of plans/* for the backend',
    d => {
      const statements = documentStatements(d.runner, 'artifacts_bucket');
      statements.splice(statements.findIndex(s => s.sid === 'DenyBackendReadingPlans'), 1);
    },
    check.backendDeniedReadingPlans,
  ],
  [
    'the bucket policy no longer requiring TLS',
    d => {
      const statements = documentStatements(d.runner, 'artifacts_bucket');
      statements.splice(statements.findIndex(s => s.sid === 'DenyInsecureTransport'), 1);
    },
    check.bucketIsPrivateEncryptedAndTlsOnly,
  ],
  [
    'a public bucket policy allowed',
    d => (resource(d.runner, 'aws_s3_bucket_public_access_block', 'artifacts').block_public_policy = false),
    check.bucketIsPrivateEncryptedAndTlsOnly,
  ],
  [
    'a writable root filesystem',
    d => (d.runner.locals.runner_container.readonlyRootFilesystem = false),
    check.taskDefinitionsAreLockedDown,
  ],
  ['the container running as root', d => (d.runner.locals.runner_container.user = '0'), check.taskDefinitionsAreLockedDown],
  [
    'a command the entry point does not expect',
    d => (d.runner.locals.runner_container.command = ['--help']),
    check.taskDefinitionsAreLockedDown,
  ],
  [
    'an image accepted by tag',
    d => (d.runner.variable.runner_image.validation[0].condition = '${can(regex(":", var.runner_image))}'),
    check.imageMustBePinnedByDigest,
  ],
  [
    'the planner allowed to Sign',
    d => statementBlock(d.runner, 'job_signing_key', 'OnlyTheBackendSigns').principals[0].identifiers.push('${aws_iam_role.planner.arn}'),
    check.signingKeyIsEd25519AndOnlyTheBackendSigns,
  ],
  [
    'the account root allowed to use the artifacts key',
    d => d.runner.locals.key_administration_actions.push('kms:Decrypt'),
    check.artifactsKeyRotatesAndServesOnlyTheRunnerAndBackend,
  ],
  [
    'the applier allowed to overwrite plans',
    d => statementBlock(d.runner, 'applier_artifacts', 'MarkJobsSeen').resources.push('${local.plans_objects}'),
    check.plannerWritesAndApplierOnlyReadsPlans,
  ],
  [
    'a mutating action left to everyone by the SCP',
    d => d.guardrails.locals.read_only_actions.push('*:Put*'),
    check.scpDeniesMutationOutsideThePipeline,
  ],
  [
    'workload roles allowed to change IAM',
    d =>
      (statementBlock(d.guardrails, 'guardrails_scp', 'DenyIamChangesOutsideThePipeline').condition[0].values =
        '${concat([var.applier_role_arn, var.break_glass_role_arn], var.workload_role_arn_patterns)}'),
    check.scpDeniesMutationOutsideThePipeline,
  ],
  [
    'the applier allowed to stop CloudTrail',
    d =>
      statementBlock(d.guardrails, 'guardrails_scp', 'DenyDisablingCloudTrail').condition[0].values.push(
        '${var.applier_role_arn}',
      ),
    check.scpKeepsTheAuditTrailAndAlarmToBreakGlass,
  ],
  [
    'the alarm missing federated sign-ins',
    d => d.guardrails.locals.break_glass_assume_role_pattern.detail.eventName.splice(1, 1),
    check.alarmWatchesTheBreakGlassRole,
  ],
];

describe('the checks catch a widened copy', () => {
  it.each(WIDENINGS)('%s', (_name, widen, property) => {
    property(deploy);
    const widened = structuredClone(deploy);
    widen(widened);
    expect(() => property(widened)).toThrow();
  });
});
