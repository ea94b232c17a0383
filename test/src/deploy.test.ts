/* eslint-disable jest/expect-expect -- each test runs one named property below, whose expects are in the property */
import { createHash, generateKeyPairSync } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parse } from '@cdktf/hcl2json';
import { runnerConfigSchema } from '@sealed-runner/backstage-plugin-sealed-runner-common/runner';

// Static checks of the sealed runner's infrastructure (deploy/terraform) and
// the account guardrails (deploy/terraform/guardrails). Terraform cannot
// download the AWS provider here, so `terraform validate` and `plan` are out
// of reach: the .tf files are parsed with HCL's own parser and every
// least-privilege property the design rests on is asserted on the parsed
// blocks, each in its own test, so that a widening fails CI with a message
// saying which property broke. What Terraform computes per environment (a
// policy of one for_each instance, the runner config of one task
// definition) is rendered by Terraform itself for example variables with
// two environments, dev and prod (see "Rendering with Terraform"). The last
// block shows each check failing against a deliberately widened copy.

jest.setTimeout(120_000);

const DEPLOY = resolve(__dirname, '../../deploy/terraform');
const GUARDRAILS = join(DEPLOY, 'guardrails');

/** How Terraform is run here: no CLI config, no update check. */
const TERRAFORM_ENV = {
  PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin',
  TF_CLI_CONFIG_FILE: '/dev/null',
  CHECKPOINT_DISABLE: '1',
};

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
  const module: TerraformModule = {
    name,
    resource: {},
    data: {},
    locals: {},
    variable: {},
    output: {},
  };
  const files = (await readdir(dir)).filter(f => f.endsWith('.tf')).sort();
  for (const file of files) {
    const parsed = (await parse(
      file,
      await readFile(join(dir, file), 'utf8'),
    )) as Block;
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
      for (const [blockName, blocks] of Object.entries<Block[]>(
        parsed[kind] ?? {},
      )) {
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

function sorted(values: Iterable<string>): string[] {
  return [...new Set(values)].sort();
}

// ---------------------------------------------------------------------------
// Rendering with Terraform
//
// `terraform console` evaluates expressions offline as long as the
// configuration needs no provider. So the module's variables and locals are
// written to a scratch directory as Terraform JSON (whose strings are the
// same templates hcl2json reads out of the .tf files), every reference to a
// resource or data source replaced by an example of what it computes
// (STUBS), one for_each instance of a block rendered by naming its key
// (`each.key` → "dev"), and Terraform evaluates all of it for TFVARS.

const ACCOUNT = '123456789012';
const REGION = 'eu-west-1';
const EXAMPLE_DIGEST = `sha256:${'0123456789abcdef'.repeat(4)}`;
const JOB_PUBLIC_KEY = generateKeyPairSync('ed25519')
  .publicKey.export({ type: 'spki', format: 'pem' })
  .toString();

/** Example variables: two environments, so that one can be checked for traces of the other. */
const TFVARS = {
  region: REGION,
  runner_image: `${ACCOUNT}.dkr.ecr.${REGION}.amazonaws.com/sealed-runner@${EXAMPLE_DIGEST}`,
  repositories: ['https://github.com/acme/infrastructure-live.git'],
  environments: {
    dev: {
      applyBranches: ['*'],
      planPolicy: {
        allowCodeExecution: true,
        providers: ['registry.terraform.io/hashicorp/aws'],
        providerArguments: [
          {
            provider: 'registry.terraform.io/hashicorp/aws',
            arguments: ['assume_role.role_arn'],
          },
        ],
        backends: ['s3'],
        allowNetwork: true,
      },
      applier_policy_arns: [
        `arn:aws:iam::${ACCOUNT}:policy/sealed-runner-deploy-dev`,
      ],
    },
    prod: {
      applyBranches: ['main'],
      planPolicy: {
        providers: ['registry.terraform.io/hashicorp/aws'],
        backends: ['s3'],
      },
      planner_policy_arns: [
        `arn:aws:iam::${ACCOUNT}:policy/sealed-runner-read-prod`,
      ],
      applier_policy_arns: [
        `arn:aws:iam::${ACCOUNT}:policy/sealed-runner-deploy-prod`,
      ],
    },
  } as Record<string, Block>,
  subnet_ids: ['subnet-0a1b2c3d'],
  backend_trusted_principal_arns: [
    `arn:aws:iam::${ACCOUNT}:role/backstage-backend-task`,
  ],
};
const ENVIRONMENTS = Object.keys(TFVARS.environments);

const roleArn = (name: string) => `arn:aws:iam::${ACCOUNT}:role/${name}`;
const plannerOf = (env: string) => roleArn(`sealed-runner-${env}-planner`);
const applierOf = (env: string) => roleArn(`sealed-runner-${env}-applier`);
const BACKEND_ROLE = roleArn('sealed-runner-backend');
const EXECUTION_ROLE = roleArn('sealed-runner-execution');

/**
 * What a resource of a type computes, from its own (rendered) arguments:
 * so a role's ARN follows its `name` as written in iam.tf.
 */
const STUBS: Record<
  string,
  (block: Block, name: string) => Record<string, unknown>
> = {
  aws_iam_role: b => ({
    name: b.name,
    id: b.name,
    arn: `arn:aws:iam::${ACCOUNT}:role/${b.name}`,
  }),
  aws_ecs_task_definition: b => ({
    family: b.family,
    arn: `arn:aws:ecs:${REGION}:${ACCOUNT}:task-definition/${b.family}:1`,
  }),
  aws_ecs_cluster: b => ({
    name: b.name,
    arn: `arn:aws:ecs:${REGION}:${ACCOUNT}:cluster/${b.name}`,
  }),
  aws_cloudwatch_log_group: b => ({
    name: b.name,
    arn: `arn:aws:logs:${REGION}:${ACCOUNT}:log-group:${b.name}`,
  }),
  aws_s3_bucket: b => {
    const bucket = `${b.bucket_prefix}20260101000000000000000001`;
    return { bucket, id: bucket, arn: `arn:aws:s3:::${bucket}` };
  },
  aws_kms_key: (_b, name) => {
    const id = `0b7f4c1e-8d2a-4c9b-9f3e-${createHash('sha256')
      .update(name)
      .digest('hex')
      .slice(0, 12)}`;
    return { key_id: id, arn: `arn:aws:kms:${REGION}:${ACCOUNT}:key/${id}` };
  },
};

const DATA_STUBS: Record<string, Record<string, unknown>> = {
  'data.aws_caller_identity.current': { account_id: ACCOUNT },
  'data.aws_partition.current': { partition: 'aws' },
  'data.aws_kms_public_key.job_signing': { public_key_pem: JOB_PUBLIC_KEY },
};

const BUCKET = 'sealed-runner-artifacts-20260101000000000000000001';
const BUCKET_ARN = `arn:aws:s3:::${BUCKET}`;

/** Deep-maps every string of a parsed value. */
function mapStrings<T>(value: T, map: (text: string) => string): T {
  if (typeof value === 'string') return map(value) as T;
  if (Array.isArray(value)) return value.map(v => mapStrings(v, map)) as T;
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [k, mapStrings(v, map)]),
    ) as T;
  }
  return value;
}

/** One instance of a block whose for_each (or dynamic block) iterates var.environments. */
function forInstance<T>(value: T, key: string, iterator = 'each'): T {
  return mapStrings(value, text =>
    text
      .replace(
        new RegExp(`(?<![\\w.])${iterator}\\.key\\b`, 'g'),
        JSON.stringify(key),
      )
      .replace(
        new RegExp(`(?<![\\w.])${iterator}\\.value\\b`, 'g'),
        `var.environments[${JSON.stringify(key)}]`,
      ),
  );
}

const OVER_ENVIRONMENTS = '${var.environments}';

/** Blocks of a document with their dynamic "statement" blocks expanded, for one instance. */
function documentStatements(block: Block, environments: string[]): Block[] {
  const dynamic = (block.dynamic?.statement ?? []).flatMap((d: Block) => {
    if (d.for_each !== OVER_ENVIRONMENTS) {
      throw new Error(
        `render: dynamic statements over ${d.for_each}, not var.environments`,
      );
    }
    return environments.map(env => forInstance(d.content[0], env, 'statement'));
  });
  return [...(block.statement ?? []), ...dynamic];
}

interface Rendered {
  /** document → instance ("_" when it has no for_each) → statement blocks */
  documents: Record<string, Record<string, Block[]>>;
  /** "type.name" → instance → its arguments */
  resources: Record<string, Record<string, Block>>;
  locals: Record<string, any>;
  outputs: Record<string, any>;
}

/** Policy documents rendered: every one without dynamic blocks over anything but var.environments. */
function renderableDocuments(module: TerraformModule): string[] {
  return Object.entries(module.data.aws_iam_policy_document ?? {})
    .filter(([, block]) =>
      (block.dynamic?.statement ?? []).every(
        (d: Block) => d.for_each === OVER_ENVIRONMENTS,
      ),
    )
    .map(([name]) => name);
}

const RENDERED_RESOURCES = [
  'aws_ecs_task_definition.plan',
  'aws_ecs_task_definition.apply',
  'aws_iam_role.planner',
  'aws_iam_role.applier',
];

const renders = new Map<string, Rendered>();

/** The module as Terraform evaluates it for `tfvars`, cached by both. */
function render(module: TerraformModule, tfvars: Block = TFVARS): Rendered {
  const cacheKey = JSON.stringify([module, tfvars]);
  const cached = renders.get(cacheKey);
  if (cached) return cached;
  const environments = Object.keys(tfvars.environments);
  const instances = (block: Block): Record<string, Block> => {
    const { for_each: forEach, lifecycle: _l, depends_on: _d, ...body } = block;
    if (forEach === undefined) return { _: body };
    if (forEach !== OVER_ENVIRONMENTS)
      throw new Error(`render: for_each ${forEach}, not var.environments`);
    return Object.fromEntries(
      environments.map(env => [env, forInstance(body, env)]),
    );
  };

  // References to resources and data sources become references to stubs,
  // built (and stubbed in turn) as they are found.
  const stubs: Record<string, unknown> = {};
  const pending: string[] = [];
  const reference = /(?<![\w.])(data\.)?(aws_[a-z0-9_]+)\.([a-z0-9_]+)/g;
  const stubbed = <T>(value: T): T =>
    mapStrings(value, text =>
      text.replace(
        reference,
        (_whole, data: string | undefined, type: string, name: string) => {
          const key = `${data ?? ''}${type}.${name}`;
          const local = `stub__${key.replace(/\./g, '__')}`;
          if (!(local in stubs)) {
            stubs[local] = null;
            pending.push(key);
          }
          return `local.${local}`;
        },
      ),
    );
  const probe = stubbed({
    documents: Object.fromEntries(
      renderableDocuments(module).map(name => {
        const byInstance = instances(module.data.aws_iam_policy_document[name]);
        return [
          name,
          Object.fromEntries(
            Object.entries(byInstance).map(([key, body]) => [
              key,
              documentStatements(body, environments),
            ]),
          ),
        ];
      }),
    ),
    resources: Object.fromEntries(
      RENDERED_RESOURCES.map(address => {
        const [type, name] = address.split('.');
        return [address, instances(resource(module, type, name))];
      }),
    ),
    locals: Object.fromEntries(
      Object.keys(module.locals).map(name => [name, `\${local.${name}}`]),
    ),
    outputs: Object.fromEntries(
      Object.entries(module.output).map(([name, block]) => [name, block.value]),
    ),
  });
  const locals: Record<string, unknown> = stubbed(module.locals);
  while (pending.length > 0) {
    const key = pending.shift()!;
    const local = `stub__${key.replace(/\./g, '__')}`;
    if (key.startsWith('data.aws_iam_policy_document.')) {
      // Documents are rendered as statements (above); where a resource
      // refers to one, any JSON will do.
      const document = module.data.aws_iam_policy_document[key.split('.')[2]];
      const json = { json: '{}', minified_json: '{}' };
      stubs[local] =
        document?.for_each === OVER_ENVIRONMENTS
          ? Object.fromEntries(environments.map(env => [env, json]))
          : json;
      continue;
    }
    if (key.startsWith('data.')) {
      if (!DATA_STUBS[key]) throw new Error(`render: no stub for ${key}`);
      stubs[local] = DATA_STUBS[key];
      continue;
    }
    const [type, name] = key.split('.');
    const block = resource(module, type, name);
    const stub = STUBS[type];
    if (block.count !== undefined) {
      // Optional resources (count = cond ? 1 : 0) are absent in the example.
      stubs[local] = [];
    } else if (!stub) {
      throw new Error(`render: no stub for ${key}`);
    } else {
      const byInstance = Object.entries(instances(block)).map(
        ([instance, body]) => [instance, stubbed(stub(body, name))] as const,
      );
      stubs[local] =
        block.for_each === undefined
          ? byInstance[0][1]
          : Object.fromEntries(byInstance);
    }
  }

  const variables = Object.fromEntries(
    Object.entries(module.variable).map(([name, block]) => [
      name,
      {
        ...block,
        ...(block.type
          ? { type: String(block.type).replace(/^\$\{([\s\S]*)\}$/, '$1') }
          : {}),
      },
    ]),
  );
  const dir = mkdtempSync(join(tmpdir(), 'deploy-render-'));
  try {
    writeFileSync(
      join(dir, 'render.tf.json'),
      JSON.stringify(
        { variable: variables, locals: { ...locals, ...stubs, probe } },
        null,
        1,
      ),
    );
    writeFileSync(join(dir, 'terraform.tfvars.json'), JSON.stringify(tfvars));
    const session = spawnSync('terraform', ['console'], {
      cwd: dir,
      input: 'base64encode(jsonencode(local.probe))\n',
      encoding: 'utf8',
      env: TERRAFORM_ENV,
    });
    const output = session.stdout.trim();
    if (session.status !== 0 || !/^"[A-Za-z0-9+/=]*"$/.test(output)) {
      // Terraform colours its diagnostics; the message reads better without.
      const ansi = new RegExp(`${String.fromCharCode(27)}\\[[0-9;]*m`, 'g');
      const error = `${session.stderr}${session.stdout}`.replace(ansi, '');
      throw new Error(
        `terraform console could not render ${module.name}:\n${error.slice(
          0,
          4000,
        )}`,
      );
    }
    const rendered = JSON.parse(
      Buffer.from(output.slice(1, -1), 'base64').toString('utf8'),
    ) as Rendered;
    renders.set(cacheKey, rendered);
    return rendered;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A rendered runner container definition (the only one of its task definition). */
function containerOf(
  rendered: Rendered,
  family: 'plan' | 'apply',
  env: string,
): Block {
  const definitions = JSON.parse(
    rendered.resources[`aws_ecs_task_definition.${family}`][env]
      .container_definitions,
  );
  expect(definitions).toHaveLength(1);
  return definitions[0];
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

type DocumentKind =
  | 'identity'
  | 'trust'
  | 'key'
  | 'bucket'
  | 'topic'
  | 'scp'
  | 'boundary';

/** aws_iam_policy resources used as permissions boundaries, not grants. */
const PERMISSIONS_BOUNDARIES = ['human_boundary'];

function toStatement(
  document: string,
  s: Block,
  list: (value: unknown) => string[],
): Statement {
  return {
    document,
    sid: s.sid ?? '',
    effect: s.effect ?? 'Allow',
    actions: list(s.actions),
    notActions: list(s.not_actions),
    resources: list(s.resources),
    principals: (s.principals ?? []).map((p: Block) => ({
      type: p.type,
      identifiers: list(p.identifiers),
    })),
    conditions: (s.condition ?? []).map((c: Block) => ({
      test: c.test,
      variable: c.variable,
      values: list(c.values),
    })),
  };
}

/** A document's statements as written (templates unresolved, dynamic blocks' content once). */
function statementsOf(module: TerraformModule, document: string): Statement[] {
  const block = module.data.aws_iam_policy_document?.[document];
  if (!block) {
    throw new Error(`${module.name}: no policy document ${document}`);
  }
  const raw: Block[] = [
    ...(block.statement ?? []),
    ...(block.dynamic?.statement ?? []).flatMap((d: Block) => d.content),
  ];
  return raw.map(s => toStatement(document, s, value => listOf(module, value)));
}

/** A document's statements as Terraform renders them for TFVARS: `instance` is an environment, or "_". */
function renderedStatements(
  module: TerraformModule,
  document: string,
  instance = '_',
  tfvars: Block = TFVARS,
): Statement[] {
  const byInstance = render(module, tfvars).documents[document];
  if (!byInstance?.[instance]) {
    throw new Error(
      `${module.name}: no rendered policy document ${document}[${instance}]`,
    );
  }
  return byInstance[instance].map(s =>
    toStatement(document, s, value => (value as string[] | undefined) ?? []),
  );
}

function statementWithSid(
  module: TerraformModule,
  document: string,
  sid: string,
): Statement {
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
    [
      'aws_iam_policy',
      'policy',
      name => (PERMISSIONS_BOUNDARIES.includes(name) ? 'boundary' : 'identity'),
    ],
    ['aws_kms_key', 'policy', () => 'key'],
    ['aws_s3_bucket_policy', 'policy', () => 'bucket'],
    ['aws_sns_topic_policy', 'policy', () => 'topic'],
    ['aws_organizations_policy', 'content', () => 'scp'],
  ];
  for (const [type, attribute, kindOf] of uses) {
    for (const [name, block] of Object.entries(module.resource[type] ?? {})) {
      const reference =
        /data\.aws_iam_policy_document\.([a-z0-9_]+)(?:\[(?:0|each\.key)\])?\.(?:minified_)?json/.exec(
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
  return Object.keys(module.data.aws_iam_policy_document ?? {}).flatMap(d =>
    statementsOf(module, d),
  );
}

/** IAM's wildcard matching: `*` any run of characters, `?` one. Actions are case-insensitive. */
function wildcardMatches(
  pattern: string,
  value: string,
  ignoreCase = false,
): boolean {
  const regex = pattern
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.');
  return new RegExp(`^${regex}$`, ignoreCase ? 'is' : 's').test(value);
}

function actionMatches(pattern: string, action: string): boolean {
  return wildcardMatches(pattern, action, true);
}

function allows(statement: Statement, action: string): boolean {
  return (
    statement.effect === 'Allow' &&
    statement.actions.some(a => actionMatches(a, action))
  );
}

function condition(
  statement: Statement,
  test: string,
  variable: string,
): string[] | undefined {
  return statement.conditions.find(
    c => c.test === test && c.variable === variable,
  )?.values;
}

// ---------------------------------------------------------------------------
// Who may do what to the artifacts: IAM's evaluation, for the few condition
// operators these policies use, over rendered statements. An identity
// policy must allow a request and no identity or bucket policy deny it
// (same account: the bucket policy grants nothing here, it only denies).

interface Request {
  principal: string;
  action: string;
  resource: string;
  /** The request's condition keys, besides aws:PrincipalArn and aws:SecureTransport. */
  context?: Record<string, string>;
}

function conditionHolds(
  c: Condition,
  context: Record<string, string>,
): boolean {
  const value = context[c.variable];
  switch (c.test) {
    case 'Null':
      return (value === undefined) === (c.values[0] === 'true');
    case 'Bool':
    case 'StringEquals':
    case 'ArnEquals':
      return value !== undefined && c.values.includes(value);
    case 'BoolIfExists':
      return value === undefined || c.values.includes(value);
    case 'StringNotEquals':
    case 'ArnNotEquals':
      return value === undefined || !c.values.includes(value);
    case 'StringLike':
    case 'ArnLike':
      return (
        value !== undefined && c.values.some(p => wildcardMatches(p, value))
      );
    case 'ArnNotLike':
      return (
        value === undefined || !c.values.some(p => wildcardMatches(p, value))
      );
    default:
      throw new Error(`no evaluation for condition operator ${c.test}`);
  }
}

function applies(
  s: Statement,
  request: Request,
  kind: 'identity' | 'resource',
): boolean {
  const action = s.actions.length
    ? s.actions.some(a => actionMatches(a, request.action))
    : !s.notActions.some(a => actionMatches(a, request.action));
  if (!action || !s.resources.some(r => wildcardMatches(r, request.resource)))
    return false;
  if (
    kind === 'resource' &&
    !s.principals.some(
      p =>
        p.identifiers.includes('*') ||
        p.identifiers.includes(request.principal),
    )
  ) {
    return false;
  }
  const context = {
    'aws:PrincipalArn': request.principal,
    'aws:SecureTransport': 'true',
    ...request.context,
  };
  return s.conditions.every(c => conditionHolds(c, context));
}

function permitted(
  identity: Statement[],
  bucket: Statement[],
  request: Request,
): boolean {
  const denied =
    identity.some(
      s => s.effect === 'Deny' && applies(s, request, 'identity'),
    ) ||
    bucket.some(s => s.effect === 'Deny' && applies(s, request, 'resource'));
  return (
    !denied &&
    identity.some(s => s.effect === 'Allow' && applies(s, request, 'identity'))
  );
}

/** A deploy policy at its widest: what a planner's ReadOnlyAccess or a careless applier policy may add. */
function wideDeployPolicy(actions: string[]): Statement {
  return {
    document: 'deploy',
    sid: 'Wide',
    effect: 'Allow',
    actions,
    notActions: [],
    resources: ['*'],
    principals: [],
    conditions: [],
  };
}

const RUN_ID = '0b7f4c1e-8d2a-4c9b-9f3e-2a1d5e6f7a8b';
const ARTIFACTS_KEY = `arn:aws:kms:${REGION}:${ACCOUNT}:key/0b7f4c1e-8d2a-4c9b-9f3e-${createHash(
  'sha256',
)
  .update('artifacts')
  .digest('hex')
  .slice(0, 12)}`;

/** A PutObject as the runner and the backend make it: SSE-KMS with the artifacts key, and create-only unless said. */
function put(
  key: string,
  { createOnly = true } = {},
): Pick<Request, 'action' | 'resource' | 'context'> {
  return {
    action: 's3:PutObject',
    resource: `${BUCKET_ARN}/${key}`,
    context: {
      's3:x-amz-server-side-encryption': 'aws:kms',
      's3:x-amz-server-side-encryption-aws-kms-key-id': ARTIFACTS_KEY,
      ...(createOnly ? { 's3:if-none-match': '*' } : {}),
    },
  };
}

const get = (key: string) => ({
  action: 's3:GetObject',
  resource: `${BUCKET_ARN}/${key}`,
});
const remove = (key: string) => ({
  action: 's3:DeleteObject',
  resource: `${BUCKET_ARN}/${key}`,
});

const jobKey = (env: string) => `jobs/${env}/${RUN_ID}.json`;
const planKey = (env: string) => `plans/${env}/${RUN_ID}.tfplan`;
const bindingKey = (env: string) => `plans/${env}/${RUN_ID}.tfplan.json`;
const markerKey = (env: string) => `seen-jobs/${env}/${RUN_ID}`;

/** Whether `text` names environment `env` (as a path segment or a name part: plans/prod/, sealed-runner-prod-). */
function names(text: string, env: string): boolean {
  return new RegExp(`(?<![a-z0-9])${env}(?![a-z0-9])`).test(text);
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

/** What a Docker container may do unless capabilities are dropped. */
const DOCKER_DEFAULT_CAPABILITIES = [
  'AUDIT_WRITE',
  'CHOWN',
  'DAC_OVERRIDE',
  'FOWNER',
  'FSETID',
  'KILL',
  'MKNOD',
  'NET_BIND_SERVICE',
  'NET_RAW',
  'SETFCAP',
  'SETGID',
  'SETPCAP',
  'SETUID',
  'SYS_CHROOT',
];

/** What the runner, root in its container, keeps of them (ecs.tf says why each). */
const KEPT_CAPABILITIES = [
  'CHOWN',
  'DAC_OVERRIDE',
  'FOWNER',
  'KILL',
  'SETGID',
  'SETUID',
];

/** The sandbox user git and Terraform run as (packages/runner/Dockerfile creates it). */
const SANDBOX = { type: 'uid', uid: 10002, gid: 10002 };

function everyPolicyIsAnAttachedPolicyDocument({ runner, guardrails }: Deploy) {
  for (const module of [runner, guardrails]) {
    const kinds = documentKinds(module);
    expect(sorted(kinds.keys())).toEqual(
      sorted(Object.keys(module.data.aws_iam_policy_document ?? {})),
    );
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
            /^\$\{data\.aws_iam_policy_document\.[a-z0-9_]+(\[0\]|\[each\.key\])?\.(minified_)?json\}$/,
          ),
        });
      }
    }
  }
}

function referencesResolve({ runner, guardrails }: Deploy) {
  for (const module of [runner, guardrails]) {
    // Every expression, for-expressions included, is in these strings.
    const text = JSON.stringify([
      module.resource,
      module.data,
      module.locals,
      module.output,
    ]);
    const missing: string[] = [];
    for (const [ref, dataPrefix, type, name] of text.matchAll(
      /(?<![\w.])(data\.)?(aws_[a-z0-9_]+)\.([a-z0-9_]+)/g,
    )) {
      const blocks = dataPrefix ? module.data : module.resource;
      if (!blocks[type]?.[name]) missing.push(ref);
    }
    for (const [ref, name] of text.matchAll(/(?<![\w.])local\.([a-z0-9_]+)/g)) {
      if (!(name in module.locals)) missing.push(ref);
    }
    for (const [ref, name] of text.matchAll(/(?<![\w.])var\.([a-z0-9_]+)/g)) {
      if (!module.variable[name]) missing.push(ref);
    }
    expect({ module: module.name, missing: sorted(missing) }).toEqual({
      module: module.name,
      missing: [],
    });
  }
}

function backendActionSetIsExact({ runner }: Deploy) {
  const actions = statementsOf(runner, 'backend').flatMap(s => s.actions);
  expect(sorted(actions)).toEqual(BACKEND_ACTIONS);
  expect(
    statementsOf(runner, 'backend').every(
      s => s.effect === 'Allow' && s.notActions.length === 0,
    ),
  ).toBe(true);
  const trust = statementsOf(runner, 'backend_trust');
  expect(trust.map(s => [s.actions, s.principals])).toEqual([
    [
      ['sts:AssumeRole'],
      [{ type: 'AWS', identifiers: ['${var.backend_trusted_principal_arns}'] }],
    ],
  ]);
}

function runTaskOnlyTheEnvironmentsFamiliesOnTheCluster({ runner }: Deploy) {
  const runTask = renderedStatements(runner, 'backend').filter(s =>
    allows(s, 'ecs:RunTask'),
  );
  expect(runTask).toHaveLength(1);
  const [statement] = runTask;
  expect(statement.actions).toEqual(['ecs:RunTask']);
  const families = ENVIRONMENTS.flatMap(env => [
    `sealed-runner-${env}-plan`,
    `sealed-runner-${env}-apply`,
  ]);
  // Every revision of exactly these families, in this account and region.
  expect(sorted(statement.resources)).toEqual(
    sorted(
      families.map(
        family =>
          `arn:aws:ecs:${REGION}:${ACCOUNT}:task-definition/${family}:*`,
      ),
    ),
  );
  // ...which are the families the task definitions register.
  const rendered = render(runner);
  expect(
    sorted(
      ENVIRONMENTS.flatMap(env =>
        (['plan', 'apply'] as const).map(
          op => rendered.resources[`aws_ecs_task_definition.${op}`][env].family,
        ),
      ),
    ),
  ).toEqual(sorted(families));
  expect(condition(statement, 'ArnEquals', 'ecs:cluster')).toEqual([
    `arn:aws:ecs:${REGION}:${ACCOUNT}:cluster/sealed-runner`,
  ]);
  expect(
    condition(statement, 'BoolIfExists', 'ecs:enable-execute-command'),
  ).toEqual(['false']);
  const written = statementsOf(runner, 'backend').find(s =>
    allows(s, 'ecs:RunTask'),
  )!;
  expect(condition(written, 'ArnEquals', 'ecs:cluster')).toEqual([
    '${aws_ecs_cluster.runner.arn}',
  ]);
}

function passRoleOnlyTheRunnerRoles({ runner }: Deploy) {
  const passRole = renderedStatements(runner, 'backend').filter(s =>
    allows(s, 'iam:PassRole'),
  );
  expect(passRole).toHaveLength(1);
  expect(passRole[0].actions).toEqual(['iam:PassRole']);
  expect(sorted(passRole[0].resources)).toEqual(
    sorted([
      ...ENVIRONMENTS.flatMap(env => [plannerOf(env), applierOf(env)]),
      EXECUTION_ROLE,
    ]),
  );
  expect(condition(passRole[0], 'StringEquals', 'iam:PassedToService')).toEqual(
    ['ecs-tasks.amazonaws.com'],
  );
}

function taskControlOnlyOnTheCluster({ runner }: Deploy) {
  const clusterTasks = `${ECS_ARN_PREFIX}task/${runner.locals.cluster_name}/*`;
  expect(resource(runner, 'aws_ecs_cluster', 'runner').name).toBe(
    '${local.cluster_name}',
  );
  for (const action of ['ecs:DescribeTasks', 'ecs:StopTask']) {
    const statements = statementsOf(runner, 'backend').filter(s =>
      allows(s, action),
    );
    expect(statements).toHaveLength(1);
    expect(statements[0].resources).toEqual([clusterTasks]);
    expect(condition(statements[0], 'ArnEquals', 'ecs:cluster')).toEqual([
      '${aws_ecs_cluster.runner.arn}',
    ]);
  }
  const tagging = statementsOf(runner, 'backend').filter(s =>
    allows(s, 'ecs:TagResource'),
  );
  expect(
    tagging.map(s => [
      s.resources,
      condition(s, 'StringEquals', 'ecs:CreateAction'),
    ]),
  ).toEqual([[[clusterTasks], ['RunTask']]]);
}

function backendReadsOnlyRunnerLogsAndWritesOnlyJobs({ runner }: Deploy) {
  const backend = statementsOf(runner, 'backend');
  expect(
    backend.filter(s => allows(s, 'logs:GetLogEvents')).map(s => s.resources),
  ).toEqual([['${aws_cloudwatch_log_group.runner.arn}:log-stream:*']]);
  expect(
    backend.filter(s => allows(s, 's3:PutObject')).map(s => s.resources),
  ).toEqual([['${aws_s3_bucket.artifacts.arn}/jobs/*']]);
  expect(
    backend.filter(s => allows(s, 'kms:GenerateDataKey')).map(s => s.resources),
  ).toEqual([['${aws_kms_key.artifacts.arn}']]);
  expect(
    backend.filter(s => allows(s, 'kms:Sign')).map(s => s.resources),
  ).toEqual([['${aws_kms_key.job_signing.arn}']]);
  expect(resource(runner, 'aws_cloudwatch_log_group', 'runner').name).toBe(
    '${local.log_group_name}',
  );
  expect(runner.locals.log_group_name).toBe('/sealed-runner/runner');
}

function noWildcardActionsInAllows({ runner, guardrails }: Deploy) {
  const offending = [...allStatements(runner), ...allStatements(guardrails)]
    .filter(s => s.effect === 'Allow')
    .filter(
      s =>
        s.notActions.length > 0 ||
        s.actions.some(a => a === '*' || /^[a-z0-9-]+:\*$/i.test(a)),
    )
    .map(
      s =>
        `${s.document}/${s.sid}: ${[...s.actions, ...s.notActions].join(', ')}`,
    );
  expect(offending).toEqual([]);
}

function noAllowOnAnyResource({ runner, guardrails }: Deploy) {
  const offending: string[] = [];
  for (const module of [runner, guardrails]) {
    const kinds = documentKinds(module);
    for (const s of allStatements(module)) {
      if (s.effect !== 'Allow') continue;
      if (
        s.principals.some(p => p.type === '*' || p.identifiers.includes('*'))
      ) {
        offending.push(`${s.document}/${s.sid}: principal *`);
      }
      // A key policy's "*" is the key itself; a boundary or an SCP grants nothing.
      const kind = kinds.get(s.document);
      if (kind === 'key' || kind === 'boundary' || kind === 'scp') continue;
      if (
        s.resources.includes('*') &&
        !s.actions.every(a => ACTIONS_ONLY_ON_ANY_RESOURCE.includes(a))
      ) {
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
      s.principals.some(
        p =>
          p.type === 'AWS' &&
          p.identifiers.includes('${aws_iam_role.backend.arn}'),
      ) &&
      s.conditions.length === 0,
  );
  expect(denied.map(s => s.sid)).toEqual(['DenyBackendReadingPlans']);
  expect(
    statementsOf(runner, 'backend').some(s => allows(s, 's3:GetObject')),
  ).toBe(false);
  // Nor could it decrypt one: its use of the artifacts key is GenerateDataKey only.
  const backendKeyUse = statementsOf(runner, 'artifacts_key').filter(s =>
    s.principals.some(p =>
      p.identifiers.includes('${aws_iam_role.backend.arn}'),
    ),
  );
  expect(backendKeyUse.flatMap(s => s.actions)).toEqual([
    'kms:GenerateDataKey',
  ]);
}

function bucketIsPrivateEncryptedAndTlsOnly({ runner }: Deploy) {
  expect(
    resource(runner, 'aws_s3_bucket_public_access_block', 'artifacts'),
  ).toMatchObject({
    block_public_acls: true,
    block_public_policy: true,
    ignore_public_acls: true,
    restrict_public_buckets: true,
  });
  expect(
    resource(runner, 'aws_s3_bucket_ownership_controls', 'artifacts').rule,
  ).toEqual([{ object_ownership: 'BucketOwnerEnforced' }]);
  expect(
    resource(runner, 'aws_s3_bucket_versioning', 'artifacts')
      .versioning_configuration,
  ).toEqual([{ status: 'Enabled' }]);
  expect(
    resource(
      runner,
      'aws_s3_bucket_server_side_encryption_configuration',
      'artifacts',
    ).rule,
  ).toEqual([
    {
      apply_server_side_encryption_by_default: [
        {
          sse_algorithm: 'aws:kms',
          kms_master_key_id: '${aws_kms_key.artifacts.arn}',
        },
      ],
      bucket_key_enabled: true,
    },
  ]);
  const policy = statementsOf(runner, 'artifacts_bucket');
  const everyone = [{ type: '*', identifiers: ['*'] }];
  expect(
    policy
      .filter(s => s.effect === 'Deny' && s.principals.length === 1)
      .map(s => s.sid),
  ).toEqual(
    expect.arrayContaining([
      'DenyInsecureTransport',
      'DenyPutWithoutSseKms',
      'DenyPutWithAnotherKey',
    ]),
  );
  expect(
    statementWithSid(runner, 'artifacts_bucket', 'DenyInsecureTransport'),
  ).toMatchObject({
    effect: 'Deny',
    actions: ['s3:*'],
    resources: [
      '${aws_s3_bucket.artifacts.arn}',
      '${aws_s3_bucket.artifacts.arn}/*',
    ],
    principals: everyone,
    conditions: [
      { test: 'Bool', variable: 'aws:SecureTransport', values: ['false'] },
    ],
  });
  expect(
    statementWithSid(runner, 'artifacts_bucket', 'DenyPutWithoutSseKms'),
  ).toMatchObject({
    effect: 'Deny',
    actions: ['s3:PutObject'],
    principals: everyone,
    conditions: [
      {
        test: 'StringNotEquals',
        variable: 's3:x-amz-server-side-encryption',
        values: ['aws:kms'],
      },
    ],
  });
  expect(
    statementWithSid(runner, 'artifacts_bucket', 'DenyPutWithAnotherKey'),
  ).toMatchObject({
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

function plansAndMarkersAreCreateOnlyAndNeverDeleted({ runner }: Deploy) {
  const everyone = [{ type: '*', identifiers: ['*'] }];
  const plansAndMarkers = [
    '${aws_s3_bucket.artifacts.arn}/plans/*',
    '${aws_s3_bucket.artifacts.arn}/seen-jobs/*',
  ];
  // s3:if-none-match: the condition key AWS documents for enforcing conditional writes.
  expect(
    statementWithSid(
      runner,
      'artifacts_bucket',
      'DenyOverwritingPlansAndMarkers',
    ),
  ).toEqual(
    expect.objectContaining({
      effect: 'Deny',
      actions: ['s3:PutObject'],
      resources: plansAndMarkers,
      principals: everyone,
      conditions: [
        { test: 'Null', variable: 's3:if-none-match', values: ['true'] },
      ],
    }),
  );
  expect(
    statementWithSid(runner, 'artifacts_bucket', 'DenyDeletingPlansAndMarkers'),
  ).toEqual(
    expect.objectContaining({
      effect: 'Deny',
      actions: ['s3:DeleteObject', 's3:DeleteObjectVersion'],
      resources: plansAndMarkers,
      principals: everyone,
      conditions: [],
    }),
  );
  // Whatever a role's own policies say, even s3:*: no plan or marker is
  // replaced or deleted, by anyone.
  const bucket = renderedStatements(runner, 'artifacts_bucket');
  const anything = [wideDeployPolicy(['s3:*'])];
  for (const env of ENVIRONMENTS) {
    for (const principal of [
      plannerOf(env),
      applierOf(env),
      BACKEND_ROLE,
      roleArn('platform-admin'),
    ]) {
      for (const key of [planKey(env), bindingKey(env), markerKey(env)]) {
        const outcome = {
          overwrite: permitted(anything, bucket, {
            principal,
            ...put(key, { createOnly: false }),
          }),
          delete: permitted(anything, bucket, { principal, ...remove(key) }),
          deleteVersion: permitted(anything, bucket, {
            principal,
            ...remove(key),
            action: 's3:DeleteObjectVersion',
          }),
        };
        expect({ principal, key, ...outcome }).toEqual({
          principal,
          key,
          overwrite: false,
          delete: false,
          deleteVersion: false,
        });
      }
    }
  }
  // ...while the runner's own writes, create-only, go through.
  for (const env of ENVIRONMENTS) {
    const planner = renderedStatements(runner, 'planner_artifacts', env);
    const applier = renderedStatements(runner, 'applier_artifacts', env);
    expect({
      env,
      plan: permitted(planner, bucket, {
        principal: plannerOf(env),
        ...put(planKey(env)),
      }),
      binding: permitted(planner, bucket, {
        principal: plannerOf(env),
        ...put(bindingKey(env)),
      }),
      plannerMarker: permitted(planner, bucket, {
        principal: plannerOf(env),
        ...put(markerKey(env)),
      }),
      applierMarker: permitted(applier, bucket, {
        principal: applierOf(env),
        ...put(markerKey(env)),
      }),
    }).toEqual({
      env,
      plan: true,
      binding: true,
      plannerMarker: true,
      applierMarker: true,
    });
  }
}

function eachEnvironmentsArtifactsServeOnlyItsOwnRoles({ runner }: Deploy) {
  const bucket = renderedStatements(runner, 'artifacts_bucket');
  const backend = renderedStatements(runner, 'backend');
  // Deploy policies are the platform team's (a planner's default
  // ReadOnlyAccess reads every bucket): the bucket policy must hold even if
  // a role was given all of S3.
  const anything = wideDeployPolicy(['s3:*']);
  for (const env of ENVIRONMENTS) {
    const other = ENVIRONMENTS.find(o => o !== env)!;
    const planner = (request: Omit<Request, 'principal'>) =>
      permitted(
        [...renderedStatements(runner, 'planner_artifacts', env), anything],
        bucket,
        {
          principal: plannerOf(env),
          ...request,
        },
      );
    const applier = (request: Omit<Request, 'principal'>) =>
      permitted(
        [...renderedStatements(runner, 'applier_artifacts', env), anything],
        bucket,
        {
          principal: applierOf(env),
          ...request,
        },
      );
    const stranger = (request: Omit<Request, 'principal'>) =>
      permitted([anything], bucket, {
        principal: roleArn('platform-admin'),
        ...request,
      });
    const version = (request: Omit<Request, 'principal'>) => ({
      ...request,
      action: 's3:GetObjectVersion',
    });
    expect({
      env,
      plannerReadsItsJob: planner(get(jobKey(env))),
      plannerReadsAPlan: planner(get(planKey(env))),
      plannerReadsABinding: planner(get(bindingKey(env))),
      plannerReadsAPlanVersion: planner(version(get(planKey(env)))),
      applierReadsItsJob: applier(get(jobKey(env))),
      applierReadsItsPlan: applier(get(planKey(env))),
      applierReadsItsBinding: applier(get(bindingKey(env))),
      applierCreatesAPlan: applier(put(planKey(env))),
      applierCreatesABinding: applier(put(bindingKey(env))),
      plannerReadsOthersJob: planner(get(jobKey(other))),
      applierReadsOthersJob: applier(get(jobKey(other))),
      applierReadsOthersPlan: applier(get(planKey(other))),
      applierReadsOthersPlanVersion: applier(version(get(planKey(other)))),
      plannerCreatesOthersPlan: planner(put(planKey(other))),
      plannerMarksOthersJob: planner(put(markerKey(other))),
      applierMarksOthersJob: applier(put(markerKey(other))),
      strangerReadsJob: stranger(get(jobKey(env))),
      strangerReadsPlan: stranger(get(planKey(env))),
      strangerCreatesPlan: stranger(put(planKey(env))),
      strangerMarksJob: stranger(put(markerKey(env))),
      backendLeavesJob: permitted(backend, bucket, {
        principal: BACKEND_ROLE,
        ...put(jobKey(env), { createOnly: false }),
      }),
      backendReadsPlan: permitted([...backend, anything], bucket, {
        principal: BACKEND_ROLE,
        ...get(planKey(env)),
      }),
    }).toEqual({
      env,
      plannerReadsItsJob: true,
      plannerReadsAPlan: false,
      plannerReadsABinding: false,
      plannerReadsAPlanVersion: false,
      applierReadsItsJob: true,
      applierReadsItsPlan: true,
      applierReadsItsBinding: true,
      applierCreatesAPlan: false,
      applierCreatesABinding: false,
      plannerReadsOthersJob: false,
      applierReadsOthersJob: false,
      applierReadsOthersPlan: false,
      applierReadsOthersPlanVersion: false,
      plannerCreatesOthersPlan: false,
      plannerMarksOthersJob: false,
      applierMarksOthersJob: false,
      strangerReadsJob: false,
      strangerReadsPlan: false,
      strangerCreatesPlan: false,
      strangerMarksJob: false,
      backendLeavesJob: true,
      backendReadsPlan: false,
    });
  }
}

function runnerRolesReachOnlyTheirOwnArtifacts({ runner }: Deploy) {
  for (const env of ENVIRONMENTS) {
    const others = ENVIRONMENTS.filter(o => o !== env);
    const ownPrefixes = [`jobs/${env}/`, `plans/${env}/`, `seen-jobs/${env}/`];
    const objects = (keys: string[]) =>
      sorted(keys.map(key => `${BUCKET_ARN}/${key}`));
    for (const [role, document, reads, creates] of [
      [
        'planner',
        'planner_artifacts',
        [`jobs/${env}/*`],
        [`plans/${env}/*`, `seen-jobs/${env}/*`],
      ],
      [
        'applier',
        'applier_artifacts',
        [`jobs/${env}/*`, `plans/${env}/*`],
        [`seen-jobs/${env}/*`],
      ],
    ] as const) {
      const where = `${env}'s ${role}`;
      const statements = renderedStatements(runner, document, env);
      // Nothing of another environment: no prefix, no role.
      expect({
        where,
        others: others.filter(o => names(JSON.stringify(statements), o)),
      }).toEqual({ where, others: [] });
      // Exactly these actions; in particular no CloudWatch Logs: only the
      // execution role writes the log stream the backend reads as the result.
      expect({
        where,
        actions: sorted(statements.flatMap(s => s.actions)),
      }).toEqual({
        where,
        actions: [
          'kms:Decrypt',
          'kms:GenerateDataKey',
          's3:GetObject',
          's3:ListBucket',
          's3:PutObject',
        ],
      });
      expect(
        statements.every(
          s => s.effect === 'Allow' && s.notActions.length === 0,
        ),
      ).toBe(true);
      const on = (action: string) =>
        sorted(
          statements.filter(s => allows(s, action)).flatMap(s => s.resources),
        );
      expect({
        where,
        reads: on('s3:GetObject'),
        creates: on('s3:PutObject'),
      }).toEqual({
        where,
        reads: objects([...reads]),
        creates: objects([...creates]),
      });
      // Every write is create-only (If-None-Match: *).
      for (const write of statements.filter(s => allows(s, 's3:PutObject'))) {
        expect({ where, sid: write.sid, conditions: write.conditions }).toEqual(
          {
            where,
            sid: write.sid,
            conditions: [
              { test: 'Null', variable: 's3:if-none-match', values: ['false'] },
            ],
          },
        );
      }
      // ListBucket only so that S3 answers 404, not 403, for a missing
      // object, and only under this environment's own prefixes.
      const listing = statements.filter(s => allows(s, 's3:ListBucket'));
      expect(listing.length).toBeGreaterThan(0);
      for (const s of listing) {
        expect({
          where,
          resources: s.resources,
          conditions: s.conditions.map(c => `${c.test} ${c.variable}`),
        }).toEqual({
          where,
          resources: [BUCKET_ARN],
          conditions: ['StringLike s3:prefix'],
        });
        const outside = s.conditions[0].values.filter(
          v => !ownPrefixes.some(prefix => v.startsWith(prefix)),
        );
        expect({ where, outside }).toEqual({ where, outside: [] });
      }
      expect({ where, keys: on('kms:Decrypt') }).toEqual({
        where,
        keys: [ARTIFACTS_KEY],
      });
    }
  }
}

function eachEnvironmentHasItsOwnIdentity({ runner }: Deploy) {
  const rendered = render(runner);
  for (const env of ENVIRONMENTS) {
    expect({
      env,
      planner: rendered.resources['aws_iam_role.planner'][env].name,
      applier: rendered.resources['aws_iam_role.applier'][env].name,
      planFamily:
        rendered.resources['aws_ecs_task_definition.plan'][env].family,
      applyFamily:
        rendered.resources['aws_ecs_task_definition.apply'][env].family,
      planRole:
        rendered.resources['aws_ecs_task_definition.plan'][env].task_role_arn,
      applyRole:
        rendered.resources['aws_ecs_task_definition.apply'][env].task_role_arn,
    }).toEqual({
      env,
      planner: `sealed-runner-${env}-planner`,
      applier: `sealed-runner-${env}-applier`,
      planFamily: `sealed-runner-${env}-plan`,
      applyFamily: `sealed-runner-${env}-apply`,
      planRole: plannerOf(env),
      applyRole: applierOf(env),
    });
  }
  for (const [name, role] of [
    ['planner_artifacts', 'planner'],
    ['applier_artifacts', 'applier'],
  ]) {
    expect(resource(runner, 'aws_iam_role_policy', name)).toMatchObject({
      for_each: '${var.environments}',
      role: `\${aws_iam_role.${role}[each.key].id}`,
      policy: `\${data.aws_iam_policy_document.${name}[each.key].json}`,
    });
    expect(runner.data.aws_iam_policy_document[name].for_each).toBe(
      '${var.environments}',
    );
  }
  // Deploy credentials: each environment's own policies, on its own roles only.
  expect(Object.keys(runner.variable)).not.toEqual(
    expect.arrayContaining(['planner_policy_arns']),
  );
  expect(Object.keys(runner.variable)).not.toEqual(
    expect.arrayContaining(['applier_policy_arns']),
  );
  const attachments = (role: 'planner' | 'applier') =>
    Object.fromEntries(
      ENVIRONMENTS.flatMap(env =>
        (
          TFVARS.environments[env][`${role}_policy_arns`] ??
          (role === 'planner' ? ['arn:aws:iam::aws:policy/ReadOnlyAccess'] : [])
        ).map((arn: string) => [
          `${env} ${arn}`,
          { environment: env, policy_arn: arn },
        ]),
      ),
    );
  for (const role of ['planner', 'applier'] as const) {
    expect({
      role,
      attachments: rendered.locals[`${role}_policy_attachments`],
    }).toEqual({
      role,
      attachments: attachments(role),
    });
    expect(
      resource(runner, 'aws_iam_role_policy_attachment', `${role}_deploy`),
    ).toMatchObject({
      for_each: `\${local.${role}_policy_attachments}`,
      role: `\${aws_iam_role.${role}[each.value.environment].name}`,
      policy_arn: '${each.value.policy_arn}',
    });
  }
}

function applyCredentialsHaveNoDefault({ runner }: Deploy) {
  const type = String(runner.variable.environments.type);
  expect(type).toMatch(
    /\bplanner_policy_arns\s*=\s*optional\(list\(string\), \["arn:aws:iam::aws:policy\/ReadOnlyAccess"\]\)/,
  );
  // Terraform itself refuses an environment without deploy policies, or with none.
  const dev = (applier?: string[]) => ({
    ...TFVARS,
    environments: {
      ...TFVARS.environments,
      dev: {
        applyBranches: ['*'],
        ...(applier ? { applier_policy_arns: applier } : {}),
      },
    },
  });
  for (const tfvars of [dev(), dev([])]) {
    expect(() => render(runner, tfvars)).toThrow(/applier_policy_arns/);
  }
  expect(() =>
    render(runner, {
      ...TFVARS,
      environments: {
        ...TFVARS.environments,
        Prod_EU: TFVARS.environments.prod,
      },
    }),
  ).toThrow(/Environment names must be/);
}

function taskDefinitionsAreLockedDown({ runner }: Deploy) {
  for (const [name, role] of [
    ['plan', 'planner'],
    ['apply', 'applier'],
  ]) {
    expect(resource(runner, 'aws_ecs_task_definition', name)).toMatchObject({
      for_each: '${var.environments}',
      family: `\${local.task_families[each.key].${name}}`,
      requires_compatibilities: ['FARGATE'],
      network_mode: 'awsvpc',
      task_role_arn: `\${aws_iam_role.${role}[each.key].arn}`,
      execution_role_arn: '${aws_iam_role.execution.arn}',
      container_definitions:
        '${jsonencode([local.runner_containers[each.key]])}',
      volume: [{ name: 'work' }, { name: 'tmp' }],
    });
  }
  expect(runner.locals.container_name).toBe('runner');
  // The backend reads runner/runner/<task id>.
  expect(runner.locals.log_stream_prefix).toBe('runner');
  const rendered = render(runner);
  for (const env of ENVIRONMENTS) {
    for (const family of ['plan', 'apply'] as const) {
      const where = `${env}'s ${family}`;
      const container = containerOf(rendered, family, env);
      const { capabilities, ...linuxParameters } = container.linuxParameters;
      expect({
        where,
        ...container,
        environment: undefined,
        entryPoint: undefined,
        linuxParameters,
      }).toEqual({
        where,
        name: 'runner',
        image: TFVARS.runner_image,
        essential: true,
        // Root in the container: only root can run git and Terraform as the sandbox user.
        user: '0:0',
        readonlyRootFilesystem: true,
        mountPoints: [
          { sourceVolume: 'work', containerPath: '/work', readOnly: false },
          { sourceVolume: 'tmp', containerPath: '/tmp', readOnly: false },
        ],
        portMappings: [],
        linuxParameters: { initProcessEnabled: true },
        stopTimeout: 120,
        logConfiguration: {
          logDriver: 'awslogs',
          options: {
            'awslogs-group': '/sealed-runner/runner',
            'awslogs-region': REGION,
            'awslogs-stream-prefix': 'runner',
          },
        },
        environment: undefined,
        entryPoint: undefined,
      });
      // Of Docker's defaults exactly those the sandbox needs, and nothing added.
      const kept = DOCKER_DEFAULT_CAPABILITIES.filter(
        cap =>
          !capabilities.drop.includes('ALL') &&
          !capabilities.drop.includes(cap),
      );
      expect({ where, add: capabilities.add, kept }).toEqual({
        where,
        add: [],
        kept: KEPT_CAPABILITIES,
      });
    }
  }
}

function eachTaskDefinitionCarriesOnlyItsEnvironmentsConfig({
  runner,
}: Deploy) {
  const rendered = render(runner);
  for (const env of ENVIRONMENTS) {
    const others = ENVIRONMENTS.filter(o => o !== env);
    for (const family of ['plan', 'apply'] as const) {
      const where = `${env}'s ${family}`;
      const container = containerOf(rendered, family, env);
      const variables = container.environment as {
        name: string;
        value: string;
      }[];
      expect({ where, variables: variables.map(v => v.name) }).toEqual({
        where,
        variables: ['SEALED_RUNNER_CONFIG'],
      });
      const json = variables[0].value;
      // Pinned: the entry point refuses any other config (RunTask can override the environment).
      expect({ where, entryPoint: container.entryPoint }).toEqual({
        where,
        entryPoint: [
          '/usr/local/bin/sealed-runner-entrypoint',
          `--config-sha256=${createHash('sha256')
            .update(json, 'utf8')
            .digest('hex')}`,
        ],
      });
      expect(container).not.toHaveProperty('command');
      // A config this runner accepts...
      const parsed = runnerConfigSchema.safeParse(JSON.parse(json));
      expect({ where, issues: parsed.error?.issues ?? [] }).toEqual({
        where,
        issues: [],
      });
      // ...naming this environment, its two roles, and the uid sandbox only.
      const config = JSON.parse(json);
      const { planPolicy = {}, applyBranches } = TFVARS.environments[env];
      expect({
        where,
        environments: config.environments,
        taskRoles: config.taskRoles,
        sandbox: config.sandbox,
      }).toEqual({
        where,
        environments: {
          [env]: {
            applyBranches,
            planPolicy: {
              allowCodeExecution: false,
              providers: [],
              providerArguments: [],
              backends: [],
              allowNetwork: false,
              ...planPolicy,
            },
          },
        },
        taskRoles: { [env]: { plan: plannerOf(env), apply: applierOf(env) } },
        sandbox: SANDBOX,
      });
      // The public key is random base64: anything else names no other environment.
      const withoutKey = JSON.stringify({ ...config, jobPublicKey: undefined });
      expect({
        where,
        others: others.filter(o => names(withoutKey, o)),
      }).toEqual({ where, others: [] });
      expect(config.jobPublicKey).toBe(JOB_PUBLIC_KEY);
      expect(config.artifacts).toEqual({
        bucket: BUCKET,
        kmsKeyId: ARTIFACTS_KEY,
        region: REGION,
      });
    }
  }
  expect(runner.locals.runner_config_shared.jobPublicKey).toBe(
    '${data.aws_kms_public_key.job_signing.public_key_pem}',
  );
}

function outputsAreKeyedByEnvironment({ runner }: Deploy) {
  const { outputs } = render(runner);
  const families = Object.fromEntries(
    ENVIRONMENTS.map(env => [
      env,
      {
        plan: `sealed-runner-${env}-plan`,
        apply: `sealed-runner-${env}-apply`,
      },
    ]),
  );
  expect(outputs.task_definitions).toEqual(families);
  expect(outputs.app_config.sealedRunner.runner.ecs.taskDefinitions).toEqual(
    families,
  );
  expect(outputs.task_roles).toEqual(
    Object.fromEntries(
      ENVIRONMENTS.map(env => [
        env,
        { plan: plannerOf(env), apply: applierOf(env) },
      ]),
    ),
  );
  for (const gone of [
    'task_definition_families',
    'planner_role_arn',
    'applier_role_arn',
  ]) {
    expect(Object.keys(runner.output)).not.toContain(gone);
  }
}

/** Environments whose per-environment bucket policy statements still fit (deploy/README.md says so). */
const MAX_ENVIRONMENTS = 12;

function bucketPolicyFitsTheSizeLimit({ runner }: Deploy) {
  expect(resource(runner, 'aws_s3_bucket_policy', 'artifacts').policy).toBe(
    '${data.aws_iam_policy_document.artifacts_bucket.minified_json}',
  );
  const many = Object.fromEntries(
    Array.from({ length: MAX_ENVIRONMENTS }, (_, i) => [
      `team-sandbox-${String(i + 1).padStart(2, '0')}`,
      {
        applyBranches: ['main'],
        applier_policy_arns: [`arn:aws:iam::${ACCOUNT}:policy/deploy-${i}`],
      },
    ]),
  );
  const statements = renderedStatements(runner, 'artifacts_bucket', '_', {
    ...TFVARS,
    environments: many,
  });
  const policy = JSON.stringify({
    Version: '2012-10-17',
    Statement: statements.map(s => ({
      Sid: s.sid,
      Effect: s.effect,
      Principal: s.principals.some(p => p.type === '*')
        ? '*'
        : { AWS: s.principals.flatMap(p => p.identifiers) },
      Action: s.actions,
      Resource: s.resources,
      Condition: Object.fromEntries(
        s.conditions.map(c => [c.test, { [c.variable]: c.values }]),
      ),
    })),
  });
  // S3 refuses a bucket policy over 20 KB.
  expect(policy.length).toBeLessThan(20 * 1024);
}

function imageMustBePinnedByDigest({ runner }: Deploy) {
  const validations = runner.variable.runner_image.validation as Block[];
  const conditionText: string = validations[0].condition;
  const pattern =
    /^\$\{can\(regex\("((?:[^"\\]|\\.)*)", var\.runner_image\)\)\}$/.exec(
      conditionText,
    );
  expect(pattern).not.toBeNull();
  const accepts = new RegExp(pattern![1].replace(/\\\\/g, '\\'));
  expect({
    ecr: accepts.test(
      `123456789012.dkr.ecr.eu-west-1.amazonaws.com/sealed-runner@${EXAMPLE_DIGEST}`,
    ),
    tagAndDigest: accepts.test(
      `ghcr.io/acme/sealed-runner:1.4.0@${EXAMPLE_DIGEST}`,
    ),
    tag: accepts.test('ghcr.io/acme/sealed-runner:1.4.0'),
    latest: accepts.test('ghcr.io/acme/sealed-runner:latest'),
    shortDigest: accepts.test('ghcr.io/acme/sealed-runner@sha256:0123abcd'),
    upperCaseDigest: accepts.test(
      `ghcr.io/acme/sealed-runner@${EXAMPLE_DIGEST.toUpperCase()}`,
    ),
  }).toEqual({
    ecr: true,
    tagAndDigest: true,
    tag: false,
    latest: false,
    shortDigest: false,
    upperCaseDigest: false,
  });
  expect(runner.variable.runner_image.default).toBeUndefined();
}

function signingKeyIsEd25519AndOnlyTheBackendSigns({
  runner,
  guardrails,
}: Deploy) {
  expect(resource(runner, 'aws_kms_key', 'job_signing')).toMatchObject({
    customer_master_key_spec: 'ECC_NIST_EDWARDS25519',
    key_usage: 'SIGN_VERIFY',
    policy: '${data.aws_iam_policy_document.job_signing_key.json}',
  });
  const signers = sorted(
    [...allStatements(runner), ...allStatements(guardrails)]
      .filter(s => allows(s, 'kms:Sign'))
      .map(
        s =>
          `${s.document}/${s.sid}: ${s.principals
            .flatMap(p => p.identifiers)
            .join(', ')}`,
      ),
  );
  // The key policy names the backend role; the backend's own policy is the other half.
  expect(signers).toEqual([
    'backend/SignJobs: ',
    'job_signing_key/OnlyTheBackendSigns: ${aws_iam_role.backend.arn}',
  ]);
  const sign = statementWithSid(
    runner,
    'job_signing_key',
    'OnlyTheBackendSigns',
  );
  expect(condition(sign, 'StringEquals', 'kms:SigningAlgorithm')).toEqual([
    'ED25519_SHA_512',
  ]);
  expect(condition(sign, 'StringEquals', 'kms:MessageType')).toEqual(['RAW']);
  // Nobody may hand use of a key on.
  const granting = [
    ...allStatements(runner),
    ...allStatements(guardrails),
  ].filter(s => allows(s, 'kms:CreateGrant'));
  expect(granting.map(s => `${s.document}/${s.sid}`)).toEqual([]);
  expect(runner.data.aws_kms_public_key.job_signing.key_id).toBe(
    '${aws_kms_key.job_signing.arn}',
  );
  expect(runner.locals.runner_config_shared.jobPublicKey).toBe(
    '${data.aws_kms_public_key.job_signing.public_key_pem}',
  );
}

function artifactsKeyRotatesAndServesOnlyTheRunnerAndBackend({
  runner,
}: Deploy) {
  expect(resource(runner, 'aws_kms_key', 'artifacts')).toMatchObject({
    customer_master_key_spec: 'SYMMETRIC_DEFAULT',
    enable_key_rotation: true,
  });
  const uses = renderedStatements(runner, 'artifacts_key').map(s => [
    sorted(s.principals.flatMap(p => p.identifiers)),
    s.actions,
  ]);
  expect(uses).toEqual([
    [
      [`arn:aws:iam::${ACCOUNT}:root`],
      runner.locals.key_administration_actions,
    ],
    [
      sorted(ENVIRONMENTS.flatMap(env => [plannerOf(env), applierOf(env)])),
      ['kms:Decrypt', 'kms:GenerateDataKey'],
    ],
    [[BACKEND_ROLE], ['kms:GenerateDataKey']],
  ]);
  // The account administers the keys but cannot use them.
  for (const use of [
    'kms:Decrypt',
    'kms:Encrypt',
    'kms:GenerateDataKey',
    'kms:Sign',
    'kms:ReEncryptFrom',
  ]) {
    expect({
      [use]: (runner.locals.key_administration_actions as string[]).some(a =>
        actionMatches(a, use),
      ),
    }).toEqual({ [use]: false });
  }
}

function artifactsExpire({ runner }: Deploy) {
  const rules = resource(
    runner,
    'aws_s3_bucket_lifecycle_configuration',
    'artifacts',
  ).rule as Block[];
  const expiry = Object.fromEntries(
    rules
      .filter(r => r.expiration)
      .map(r => [r.filter[0].prefix, r.expiration[0].days]),
  );
  expect(expiry).toEqual({
    'jobs/': 2,
    'seen-jobs/': 2,
    'plans/': '${var.plan_retention_days}',
  });
  expect(runner.variable.plan_retention_days.default).toBe(30);
}

function scpDeniesMutationOutsideThePipeline({ guardrails }: Deploy) {
  const statement = statementWithSid(
    guardrails,
    'guardrails_scp',
    'DenyChangesOutsideThePipeline',
  );
  expect(statement).toMatchObject({
    effect: 'Deny',
    actions: [],
    resources: ['*'],
  });
  expect(statement.notActions).toEqual(guardrails.locals.read_only_actions);
  const unreviewed = statement.notActions.filter(
    a =>
      !/^\*:(BatchGet|Describe|Filter|Get|List|Lookup|Search)\*$/.test(a) &&
      !REVIEWED_READ_ONLY_EXTRAS.includes(a),
  );
  expect(unreviewed).toEqual([]);
  const exempt = condition(statement, 'ArnNotLike', 'aws:PrincipalArn');
  expect(exempt).toEqual([
    '${concat([var.applier_role_arn, var.break_glass_role_arn], var.workload_role_arn_patterns)}',
  ]);
  const iam = statementWithSid(
    guardrails,
    'guardrails_scp',
    'DenyIamChangesOutsideThePipeline',
  );
  expect(condition(iam, 'ArnNotLike', 'aws:PrincipalArn')).toEqual([
    '${var.applier_role_arn}',
    '${var.break_glass_role_arn}',
  ]);
  expect(iam.actions.some(a => actionMatches(a, 'iam:CreateRole'))).toBe(true);
  expect(iam.actions.some(a => actionMatches(a, 'iam:AttachRolePolicy'))).toBe(
    true,
  );
  expect(
    iam.actions.some(a => actionMatches(a, 'iam:PutRolePermissionsBoundary')),
  ).toBe(true);
  const scp = resource(guardrails, 'aws_organizations_policy', 'guardrails');
  expect(scp).toMatchObject({
    type: 'SERVICE_CONTROL_POLICY',
    content: '${data.aws_iam_policy_document.guardrails_scp.minified_json}',
  });
  expect(
    resource(guardrails, 'aws_organizations_policy_attachment', 'guardrails')
      .for_each,
  ).toBe('${var.manage_scp ? toset(var.scp_target_ids) : toset([])}');
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
    expect({
      sid,
      action,
      effect: statement.effect,
      denied: statement.actions.some(a => actionMatches(a, action)),
    }).toEqual({ sid, action, effect: 'Deny', denied: true });
    expect({
      sid,
      exempt: condition(statement, 'ArnNotLike', 'aws:PrincipalArn'),
    }).toEqual({ sid, exempt: breakGlassOnly });
  }
  const alarm = statementWithSid(
    guardrails,
    'guardrails_scp',
    'DenyAlteringTheBreakGlassAlarm',
  );
  expect(alarm.resources).toEqual([
    'arn:*:events:*:*:rule/sealed-runner-break-glass-*',
    'arn:*:sns:*:*:sealed-runner-break-glass*',
    'arn:*:s3:::sealed-runner-guardrails-trail-*',
  ]);
  // ...and those patterns name the resources alarm.tf and trail.tf create.
  const arnOf = (service: string, name: string) =>
    `arn:aws:${service}:us-east-1:123456789012:${name}`;
  const protectedNames = [
    ...Object.values<string>(guardrails.locals.alarm_rule_names).map(n =>
      arnOf('events', `rule/${resolveLocals(guardrails, n)}`),
    ),
    arnOf(
      'sns',
      resolveLocals(
        guardrails,
        resource(guardrails, 'aws_sns_topic', 'break_glass').name,
      ),
    ),
    `arn:aws:s3:::${resolveLocals(
      guardrails,
      resource(guardrails, 'aws_s3_bucket', 'trail').bucket_prefix,
    )}0123`,
  ];
  expect(
    protectedNames.filter(
      arn => !alarm.resources.some(pattern => actionMatches(pattern, arn)),
    ),
  ).toEqual([]);
  const key = statementWithSid(
    guardrails,
    'guardrails_scp',
    'DenyAlteringTheAlarmKey',
  );
  expect(
    condition(key, 'ForAnyValue:StringEquals', 'kms:ResourceAliases'),
  ).toEqual([
    resolveLocals(
      guardrails,
      resource(guardrails, 'aws_kms_alias', 'alarm').name,
    ),
  ]);
}

function scpFitsTheSizeLimit({ guardrails }: Deploy) {
  const arn =
    'arn:aws:iam::*:role/aws-reserved/sso.amazonaws.com/eu-west-1/AWSReservedSSO_BreakGlassAdministrator_0123456789abcdef';
  const values = (list: string[]) =>
    list.flatMap(v =>
      v.startsWith('${concat(')
        ? [
            arn,
            arn,
            ...(guardrails.variable.workload_role_arn_patterns
              .default as string[]),
          ]
        : [v.startsWith('${var.') ? arn : v],
    );
  const rendered = JSON.stringify({
    Version: '2012-10-17',
    Statement: statementsOf(guardrails, 'guardrails_scp').map(s => ({
      Sid: s.sid,
      Effect: s.effect,
      ...(s.actions.length
        ? { Action: s.actions }
        : { NotAction: s.notActions }),
      Resource: s.resources,
      Condition: Object.fromEntries(
        s.conditions.map(c => [c.test, { [c.variable]: values(c.values) }]),
      ),
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
      eventName: [
        'AssumeRole',
        'AssumeRoleWithSAML',
        'AssumeRoleWithWebIdentity',
      ],
      requestParameters: {
        roleArn: [{ wildcard: '${var.break_glass_role_arn}' }],
      },
    },
  });
  const signIn = guardrails.locals.break_glass_console_sign_in_pattern;
  expect(signIn).toEqual({
    source: ['aws.signin'],
    'detail-type': ['AWS Console Sign In via CloudTrail'],
    detail: {
      eventName: ['ConsoleLogin'],
      userIdentity: {
        arn: [
          {
            wildcard:
              'arn:*:sts::*:assumed-role/${local.break_glass_role_name}/*',
          },
        ],
      },
    },
  });
  expect(guardrails.locals.break_glass_role_name).toBe(
    '${element(reverse(split("/", var.break_glass_role_arn)), 0)}',
  );
  for (const [rule, pattern] of [
    ['break_glass_assume_role', 'break_glass_assume_role_pattern'],
    ['break_glass_console_sign_in', 'break_glass_console_sign_in_pattern'],
  ]) {
    expect(
      resource(guardrails, 'aws_cloudwatch_event_rule', rule).event_pattern,
    ).toBe(`\${jsonencode(local.${pattern})}`);
    expect(
      resource(guardrails, 'aws_cloudwatch_event_target', rule),
    ).toMatchObject({
      rule: `\${aws_cloudwatch_event_rule.${rule}[0].name}`,
      arn: '${aws_sns_topic.break_glass[0].arn}',
    });
  }
  expect(
    resource(guardrails, 'aws_sns_topic', 'break_glass').kms_master_key_id,
  ).toBe('${aws_kms_key.alarm[0].arn}');
  expect(resource(guardrails, 'aws_kms_key', 'alarm').enable_key_rotation).toBe(
    true,
  );
  const publish = statementWithSid(
    guardrails,
    'break_glass_topic',
    'OnlyTheAlarmRulesPublish',
  );
  expect(publish.principals).toEqual([
    { type: 'Service', identifiers: ['events.amazonaws.com'] },
  ]);
  expect(publish.conditions).toEqual([
    {
      test: 'ArnEquals',
      variable: 'aws:SourceArn',
      values: listOf(guardrails, '${local.alarm_rule_arns}'),
    },
  ]);
  expect(guardrails.locals.alarm_rule_arns).toContain(
    'values(local.alarm_rule_names)',
  );
}

const check = {
  everyPolicyIsAnAttachedPolicyDocument,
  referencesResolve,
  backendActionSetIsExact,
  runTaskOnlyTheEnvironmentsFamiliesOnTheCluster,
  passRoleOnlyTheRunnerRoles,
  taskControlOnlyOnTheCluster,
  backendReadsOnlyRunnerLogsAndWritesOnlyJobs,
  noWildcardActionsInAllows,
  noAllowOnAnyResource,
  backendDeniedReadingPlans,
  bucketIsPrivateEncryptedAndTlsOnly,
  plansAndMarkersAreCreateOnlyAndNeverDeleted,
  eachEnvironmentsArtifactsServeOnlyItsOwnRoles,
  bucketPolicyFitsTheSizeLimit,
  artifactsExpire,
  eachEnvironmentHasItsOwnIdentity,
  runnerRolesReachOnlyTheirOwnArtifacts,
  applyCredentialsHaveNoDefault,
  taskDefinitionsAreLockedDown,
  eachTaskDefinitionCarriesOnlyItsEnvironmentsConfig,
  outputsAreKeyedByEnvironment,
  imageMustBePinnedByDigest,
  signingKeyIsEd25519AndOnlyTheBackendSigns,
  artifactsKeyRotatesAndServesOnlyTheRunnerAndBackend,
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
    const fmt = spawnSync(
      'terraform',
      ['fmt', '-check', '-recursive', '-diff', DEPLOY],
      {
        encoding: 'utf8',
        env: TERRAFORM_ENV,
      },
    );
    expect({
      status: fmt.status,
      diff: fmt.stdout,
      error: fmt.error?.message,
    }).toEqual({
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
  it("runs only every environment's plan and apply task definition families, on the runner cluster, without ECS Exec", () =>
    check.runTaskOnlyTheEnvironmentsFamiliesOnTheCluster(deploy));
  it("passes only the environments' planner and applier roles and the execution role, and only to ECS tasks", () =>
    check.passRoleOnlyTheRunnerRoles(deploy));
  it('describes, stops and tags only tasks of the runner cluster', () =>
    check.taskControlOnlyOnTheCluster(deploy));
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
  it('keeps plans and seen-job markers create-only (If-None-Match) and undeletable, for every principal', () =>
    check.plansAndMarkersAreCreateOnlyAndNeverDeleted(deploy));
  it("serves each environment's jobs, plans and markers only to its own roles, whatever their deploy policies", () =>
    check.eachEnvironmentsArtifactsServeOnlyItsOwnRoles(deploy));
  it(`fits the bucket policy in 20 KB for ${MAX_ENVIRONMENTS} environments`, () =>
    check.bucketPolicyFitsTheSizeLimit(deploy));
  it('expires jobs/ and seen-jobs/ after 2 days and plans/ after plan_retention_days', () =>
    check.artifactsExpire(deploy));
  it('accepts the runner image only by digest', () =>
    check.imageMustBePinnedByDigest(deploy));
  it('signs jobs with an Ed25519 SIGN_VERIFY key that only the backend role may use to Sign', () =>
    check.signingKeyIsEd25519AndOnlyTheBackendSigns(deploy));
  it('rotates the artifacts key and lets only the runner roles and the backend use it', () =>
    check.artifactsKeyRotatesAndServesOnlyTheRunnerAndBackend(deploy));
});

describe('one identity per environment', () => {
  it('gives each environment its own planner and applier roles, task definitions and deploy policies', () =>
    check.eachEnvironmentHasItsOwnIdentity(deploy));
  it("lets a planner read only its environment's jobs and create its plans and markers, an applier read its jobs and plans and create its markers; no logs", () =>
    check.runnerRolesReachOnlyTheirOwnArtifacts(deploy));
  it('gives apply credentials no default: every environment names its own', () =>
    check.applyCredentialsHaveNoDefault(deploy));
  it('runs tasks on Fargate/awsvpc, read-only root, as root with six capabilities, awslogs prefix "runner"', () =>
    check.taskDefinitionsAreLockedDown(deploy));
  it('pins in each task definition a runner config naming only its environment, its roles and the uid sandbox', () =>
    check.eachTaskDefinitionCarriesOnlyItsEnvironmentsConfig(deploy));
  it('outputs task definitions and roles keyed by environment', () =>
    check.outputsAreKeyedByEnvironment(deploy));
});

describe('the account guardrails', () => {
  it('deny every change except to the applier, break-glass and workload roles; IAM changes to the first two only', () =>
    check.scpDeniesMutationOutsideThePipeline(deploy));
  it('leave leaving the organization, CloudTrail and the alarm to the break-glass role alone', () =>
    check.scpKeepsTheAuditTrailAndAlarmToBreakGlass(deploy));
  it('fit in an SCP (5,120 characters)', () =>
    check.scpFitsTheSizeLimit(deploy));
  it('offer the same read-only ceiling as a permissions boundary', () =>
    check.boundaryIsTheSameCeiling(deploy));
  it('alarm on AssumeRole* of the break-glass role and console sign-ins with it, to an encrypted topic', () =>
    check.alarmWatchesTheBreakGlassRole(deploy));
});

// ---------------------------------------------------------------------------
// The checks can fail: each widening below, applied to a copy of the parsed
// modules, must be caught.

type Widening = [string, (d: Deploy) => void, (d: Deploy) => void];

function documentBlocks(module: TerraformModule, document: string): Block[] {
  return module.data.aws_iam_policy_document[document].statement;
}

function statementBlock(
  module: TerraformModule,
  document: string,
  sid: string,
): Block {
  return documentBlocks(module, document).find(s => s.sid === sid)!;
}

function removeStatement(
  module: TerraformModule,
  document: string,
  sid: string,
) {
  const statements = documentBlocks(module, document);
  statements.splice(
    statements.findIndex(s => s.sid === sid),
    1,
  );
}

/** Removes a dynamic statement block of the bucket policy by the start of its sid. */
function removeDynamicStatement(
  module: TerraformModule,
  document: string,
  sidPrefix: string,
) {
  const dynamic: Block[] =
    module.data.aws_iam_policy_document[document].dynamic.statement;
  dynamic.splice(
    dynamic.findIndex(d => String(d.content[0].sid).startsWith(sidPrefix)),
    1,
  );
}

const WIDENINGS: Widening[] = [
  [
    'a policy written as a JSON string',
    d =>
      (d.runner.resource.aws_iam_role_policy.backend.policy =
        '{"Statement":[{"Effect":"Allow","Action":"*"}]}'),
    check.everyPolicyIsAnAttachedPolicyDocument,
  ],
  [
    'a reference to a key nobody declared',
    d =>
      statementBlock(d.runner, 'backend', 'EncryptJobs').resources.push(
        '${aws_kms_key.other.arn}',
      ),
    check.referencesResolve,
  ],
  [
    'a wildcard action in the backend policy',
    d =>
      statementBlock(d.runner, 'backend', 'StartRunnerTasks').actions.push(
        'ecs:*',
      ),
    check.noWildcardActionsInAllows,
  ],
  [
    'a wildcard action in the backend policy (the exact action set)',
    d =>
      statementBlock(d.runner, 'backend', 'StartRunnerTasks').actions.push(
        'ecs:*',
      ),
    check.backendActionSetIsExact,
  ],
  [
    'a new action for the backend',
    d =>
      statementBlock(d.runner, 'backend', 'LeaveJobsForTheRunner').actions.push(
        's3:GetObject',
      ),
    check.backendActionSetIsExact,
  ],
  [
    'RunTask on any task definition',
    d =>
      (statementBlock(d.runner, 'backend', 'StartRunnerTasks').resources = [
        '*',
      ]),
    check.runTaskOnlyTheEnvironmentsFamiliesOnTheCluster,
  ],
  [
    'RunTask on every family of the account',
    d =>
      (statementBlock(d.runner, 'backend', 'StartRunnerTasks').resources =
        '${[for arn in local.task_definition_arns : replace(arn, "/sealed-runner-.*/", "*")]}'),
    check.runTaskOnlyTheEnvironmentsFamiliesOnTheCluster,
  ],
  [
    'RunTask on any cluster',
    d =>
      (statementBlock(d.runner, 'backend', 'StartRunnerTasks').condition = []),
    check.runTaskOnlyTheEnvironmentsFamiliesOnTheCluster,
  ],
  [
    'PassRole on any role',
    d =>
      (statementBlock(d.runner, 'backend', 'PassOnlyTheRunnerRoles').resources =
        ['*']),
    check.passRoleOnlyTheRunnerRoles,
  ],
  [
    'PassRole to any service',
    d =>
      (statementBlock(d.runner, 'backend', 'PassOnlyTheRunnerRoles').condition =
        []),
    check.passRoleOnlyTheRunnerRoles,
  ],
  [
    'StopTask on any cluster',
    d =>
      (statementBlock(
        d.runner,
        'backend',
        'WatchAndStopRunnerTasks',
      ).resources = ['arn:aws:ecs:*:*:task/*']),
    check.taskControlOnlyOnTheCluster,
  ],
  [
    'an Allow on Resource "*"',
    d =>
      (statementBlock(
        d.runner,
        'planner_artifacts',
        'CreateOwnPlansAndMarkers',
      ).resources = ['*']),
    check.noAllowOnAnyResource,
  ],
  [
    'no bucket-policy deny of plans/* for the backend',
    d =>
      removeStatement(d.runner, 'artifacts_bucket', 'DenyBackendReadingPlans'),
    check.backendDeniedReadingPlans,
  ],
  [
    'the bucket policy no longer requiring TLS',
    d => removeStatement(d.runner, 'artifacts_bucket', 'DenyInsecureTransport'),
    check.bucketIsPrivateEncryptedAndTlsOnly,
  ],
  [
    'a public bucket policy allowed',
    d =>
      (resource(
        d.runner,
        'aws_s3_bucket_public_access_block',
        'artifacts',
      ).block_public_policy = false),
    check.bucketIsPrivateEncryptedAndTlsOnly,
  ],
  [
    'plans and markers overwritable (no If-None-Match demanded)',
    d =>
      removeStatement(
        d.runner,
        'artifacts_bucket',
        'DenyOverwritingPlansAndMarkers',
      ),
    check.plansAndMarkersAreCreateOnlyAndNeverDeleted,
  ],
  [
    'markers deletable (a job could run twice)',
    d =>
      removeStatement(
        d.runner,
        'artifacts_bucket',
        'DenyDeletingPlansAndMarkers',
      ),
    check.plansAndMarkersAreCreateOnlyAndNeverDeleted,
  ],
  [
    'old plan versions deletable',
    d =>
      (statementBlock(
        d.runner,
        'artifacts_bucket',
        'DenyDeletingPlansAndMarkers',
      ).actions = ['s3:DeleteObject']),
    check.plansAndMarkersAreCreateOnlyAndNeverDeleted,
  ],
  [
    "another environment's (or any) plans readable with a wide deploy policy",
    d =>
      removeDynamicStatement(
        d.runner,
        'artifacts_bucket',
        'OnlyOwnApplierReadsPlans',
      ),
    check.eachEnvironmentsArtifactsServeOnlyItsOwnRoles,
  ],
  [
    "another environment's jobs readable with a wide deploy policy",
    d =>
      removeDynamicStatement(
        d.runner,
        'artifacts_bucket',
        'OnlyOwnRunnersReadJobs',
      ),
    check.eachEnvironmentsArtifactsServeOnlyItsOwnRoles,
  ],
  [
    'plans creatable by an applier with a wide deploy policy',
    d =>
      removeDynamicStatement(
        d.runner,
        'artifacts_bucket',
        'OnlyOwnPlannerCreatesPlans',
      ),
    check.eachEnvironmentsArtifactsServeOnlyItsOwnRoles,
  ],
  [
    "markers creatable by another environment's roles",
    d =>
      removeDynamicStatement(
        d.runner,
        'artifacts_bucket',
        'OnlyOwnRunnersMarkJobs',
      ),
    check.eachEnvironmentsArtifactsServeOnlyItsOwnRoles,
  ],
  [
    'the planner allowed to read plans',
    d =>
      statementBlock(
        d.runner,
        'planner_artifacts',
        'ReadOwnJobs',
      ).resources.push('${aws_s3_bucket.artifacts.arn}/plans/${each.key}/*'),
    check.runnerRolesReachOnlyTheirOwnArtifacts,
  ],
  [
    "dev's applier allowed to read prod's plans",
    d =>
      statementBlock(
        d.runner,
        'applier_artifacts',
        'ReadOwnJobsAndPlans',
      ).resources.push('${aws_s3_bucket.artifacts.arn}/plans/prod/*'),
    check.runnerRolesReachOnlyTheirOwnArtifacts,
  ],
  [
    'a planner reading every environment’s jobs',
    d =>
      (statementBlock(d.runner, 'planner_artifacts', 'ReadOwnJobs').resources =
        ['${local.jobs_objects}']),
    check.runnerRolesReachOnlyTheirOwnArtifacts,
  ],
  [
    'the applier allowed to overwrite plans',
    d =>
      statementBlock(
        d.runner,
        'applier_artifacts',
        'CreateOwnMarkers',
      ).resources.push('${aws_s3_bucket.artifacts.arn}/plans/${each.key}/*'),
    check.runnerRolesReachOnlyTheirOwnArtifacts,
  ],
  [
    "a planner's writes no longer create-only",
    d =>
      (statementBlock(
        d.runner,
        'planner_artifacts',
        'CreateOwnPlansAndMarkers',
      ).condition = []),
    check.runnerRolesReachOnlyTheirOwnArtifacts,
  ],
  [
    'ListBucket of the whole bucket',
    d =>
      (statementBlock(
        d.runner,
        'applier_artifacts',
        'TellMissingFromDenied',
      ).condition = []),
    check.runnerRolesReachOnlyTheirOwnArtifacts,
  ],
  [
    "ListBucket under every environment's prefix",
    d =>
      (statementBlock(
        d.runner,
        'planner_artifacts',
        'TellMissingFromDenied',
      ).condition[0].values = ['jobs/*']),
    check.runnerRolesReachOnlyTheirOwnArtifacts,
  ],
  [
    'a task role allowed to write logs',
    d =>
      documentBlocks(d.runner, 'planner_artifacts').push({
        sid: 'WriteLogs',
        effect: 'Allow',
        actions: ['logs:PutLogEvents'],
        resources: ['${aws_cloudwatch_log_group.runner.arn}:log-stream:*'],
      }),
    check.runnerRolesReachOnlyTheirOwnArtifacts,
  ],
  [
    'one role shared by every environment',
    d =>
      (resource(d.runner, 'aws_iam_role', 'applier').name =
        'sealed-runner-applier'),
    check.eachEnvironmentHasItsOwnIdentity,
  ],
  [
    "prod's plan task run with dev's planner",
    d =>
      (resource(d.runner, 'aws_ecs_task_definition', 'plan').task_role_arn =
        '${aws_iam_role.planner["dev"].arn}'),
    check.eachEnvironmentHasItsOwnIdentity,
  ],
  [
    "an environment's deploy policies attached to every environment's applier",
    d =>
      (d.runner.locals.applier_policy_attachments =
        d.runner.locals.applier_policy_attachments.replace(
          'for arn in toset(environment.applier_policy_arns)',
          'for arn in toset(flatten(values(var.environments)[*].applier_policy_arns))',
        )),
    check.eachEnvironmentHasItsOwnIdentity,
  ],
  [
    'apply credentials with a default',
    d =>
      (d.runner.variable.environments.type =
        d.runner.variable.environments.type.replace(
          'applier_policy_arns = list(string)',
          'applier_policy_arns = optional(list(string), ["arn:aws:iam::aws:policy/AdministratorAccess"])',
        )),
    check.applyCredentialsHaveNoDefault,
  ],
  [
    'apply credentials allowed to be empty',
    d =>
      (d.runner.variable.environments.validation =
        d.runner.variable.environments.validation.filter(
          (v: Block) => !String(v.condition).includes('applier_policy_arns'),
        )),
    check.applyCredentialsHaveNoDefault,
  ],
  [
    'a writable root filesystem',
    d =>
      (d.runner.locals.runner_container_shared.readonlyRootFilesystem = false),
    check.taskDefinitionsAreLockedDown,
  ],
  [
    'a capability the sandbox does not need',
    d =>
      (d.runner.locals.runner_container_shared.linuxParameters.capabilities.drop =
        d.runner.locals.runner_container_shared.linuxParameters.capabilities.drop.filter(
          (c: string) => c !== 'NET_RAW',
        )),
    check.taskDefinitionsAreLockedDown,
  ],
  [
    'a capability added',
    d =>
      d.runner.locals.runner_container_shared.linuxParameters.capabilities.add.push(
        'SYS_PTRACE',
      ),
    check.taskDefinitionsAreLockedDown,
  ],
  [
    'a command the entry point does not expect',
    d => (d.runner.locals.runner_container_shared.command = ['--help']),
    check.eachTaskDefinitionCarriesOnlyItsEnvironmentsConfig,
  ],
  [
    'a config the entry point does not pin',
    d =>
      (d.runner.locals.runner_containers =
        d.runner.locals.runner_containers.replace(
          'sha256(config_json)',
          'sha256("{}")',
        )),
    check.eachTaskDefinitionCarriesOnlyItsEnvironmentsConfig,
  ],
  [
    "a runner config naming another environment's role",
    d =>
      (d.runner.locals.runner_configs = d.runner.locals.runner_configs.replace(
        'aws_iam_role.applier[name].arn',
        'aws_iam_role.applier["prod"].arn',
      )),
    check.eachTaskDefinitionCarriesOnlyItsEnvironmentsConfig,
  ],
  [
    'a runner config naming every environment',
    d =>
      (d.runner.locals.runner_configs = d.runner.locals.runner_configs.replace(
        /environments = \{[\s\S]*?\n {6}\}\n/,
        'environments = { for n, e in var.environments : n => { applyBranches = e.applyBranches, planPolicy = e.planPolicy } }\n',
      )),
    check.eachTaskDefinitionCarriesOnlyItsEnvironmentsConfig,
  ],
  [
    'the runner without a sandbox',
    d => (d.runner.locals.runner_config_shared.sandbox = false),
    check.eachTaskDefinitionCarriesOnlyItsEnvironmentsConfig,
  ],
  [
    'the outputs no longer per environment',
    d =>
      (d.runner.output.task_definitions.value =
        '${local.task_families["dev"]}'),
    check.outputsAreKeyedByEnvironment,
  ],
  [
    'an image accepted by tag',
    d =>
      (d.runner.variable.runner_image.validation[0].condition =
        '${can(regex(":", var.runner_image))}'),
    check.imageMustBePinnedByDigest,
  ],
  [
    'the planner allowed to Sign',
    d =>
      statementBlock(
        d.runner,
        'job_signing_key',
        'OnlyTheBackendSigns',
      ).principals[0].identifiers.push('${aws_iam_role.planner["dev"].arn}'),
    check.signingKeyIsEd25519AndOnlyTheBackendSigns,
  ],
  [
    'the account root allowed to use the artifacts key',
    d => d.runner.locals.key_administration_actions.push('kms:Decrypt'),
    check.artifactsKeyRotatesAndServesOnlyTheRunnerAndBackend,
  ],
  [
    'a mutating action left to everyone by the SCP',
    d => d.guardrails.locals.read_only_actions.push('*:Put*'),
    check.scpDeniesMutationOutsideThePipeline,
  ],
  [
    'workload roles allowed to change IAM',
    d =>
      (statementBlock(
        d.guardrails,
        'guardrails_scp',
        'DenyIamChangesOutsideThePipeline',
      ).condition[0].values =
        '${concat([var.applier_role_arn, var.break_glass_role_arn], var.workload_role_arn_patterns)}'),
    check.scpDeniesMutationOutsideThePipeline,
  ],
  [
    'the applier allowed to stop CloudTrail',
    d =>
      statementBlock(
        d.guardrails,
        'guardrails_scp',
        'DenyDisablingCloudTrail',
      ).condition[0].values.push('${var.applier_role_arn}'),
    check.scpKeepsTheAuditTrailAndAlarmToBreakGlass,
  ],
  [
    'the alarm missing federated sign-ins',
    d =>
      d.guardrails.locals.break_glass_assume_role_pattern.detail.eventName.splice(
        1,
        1,
      ),
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
