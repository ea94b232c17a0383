import { readFileSync } from 'node:fs';
import { resolve as resolvePath } from 'node:path';
import * as common from '@sealed-runner/backstage-plugin-sealed-runner-common';
import { parse as parseYaml } from 'yaml';

/*
 * Keeps openapi.yaml honest: the documented routes, request schemas and
 * response shapes are compared with the router's source, the zod request
 * schemas and the API types, so that drift fails CI.
 */

interface Schema {
  $ref?: string;
  type?: string;
  properties?: Record<string, Schema>;
  required?: string[];
  additionalProperties?: boolean;
  enum?: string[];
  pattern?: string;
  minLength?: number;
  maxLength?: number;
  maximum?: number;
}

interface Parameter {
  $ref?: string;
  name: string;
  in: 'query' | 'path' | 'header' | 'cookie';
  required?: boolean;
  schema: Schema;
}

interface Operation {
  parameters?: Parameter[];
  requestBody?: { content: Record<string, { schema: Schema }> };
  responses: Record<string, unknown>;
  security?: unknown[];
}

interface OpenApiDocument {
  openapi: string;
  security?: unknown[];
  paths: Record<string, Record<string, unknown> & { parameters?: Parameter[] }>;
  components: {
    schemas: Record<string, Schema>;
    parameters: Record<string, Parameter>;
  };
}

/** The zod surface this test relies on (duck-typed, no zod import needed). */
interface ZodObjectLike {
  shape: Record<string, { isOptional(): boolean }>;
  /** A strict object refuses unknown keys with a `never` catchall. */
  def?: { catchall?: { def?: { type?: string } } };
}

interface ZodLike {
  safeParse(value: unknown): { success: boolean };
}

const HTTP_METHODS = [
  'get',
  'put',
  'post',
  'delete',
  'patch',
  'options',
  'head',
  'trace',
];

const doc = parseYaml(
  readFileSync(resolvePath(__dirname, '../openapi.yaml'), 'utf8'),
) as OpenApiDocument;

const routerSource = readFileSync(
  resolvePath(__dirname, 'http/router.ts'),
  'utf8',
);

/** Follows a local `$ref` (`#/components/...`). */
function deref<T extends { $ref?: string }>(node: T): T {
  if (!node.$ref) {
    return node;
  }
  const target = node.$ref
    .replace(/^#\//, '')
    .split('/')
    .reduce<unknown>(
      (value, key) => (value as Record<string, unknown> | undefined)?.[key],
      doc,
    );
  if (target === undefined) {
    throw new Error(`unresolved $ref ${node.$ref}`);
  }
  return deref(target as T);
}

interface RegisteredRoute {
  method: string;
  path: string;
  /** Name of the zod schema the handler parses req.body / req.query / req.params with. */
  parses: Partial<Record<'body' | 'query' | 'params', string>>;
}

/** The routes router.ts registers, with the schemas each handler parses. */
function registeredRoutes(): RegisteredRoute[] {
  const calls = [
    ...routerSource.matchAll(
      /\brouter\.(get|post|put|patch|delete)\(\s*'([^']+)'/g,
    ),
  ];
  return calls.map((call, i) => {
    const handler = routerSource.slice(
      call.index,
      calls[i + 1]?.index ?? routerSource.length,
    );
    const parses: RegisteredRoute['parses'] = {};
    for (const [, schemaName, source] of handler.matchAll(
      /\bparse\(\s*(\w+)\s*,\s*req\.(body|query|params)\b/g,
    )) {
      parses[source as keyof RegisteredRoute['parses']] = schemaName;
    }
    return {
      method: call[1],
      path: call[2].replace(/:(\w+)/g, '{$1}'),
      parses,
    };
  });
}

function operation(method: string, path: string): Operation {
  const operationObject = doc.paths[path]?.[method] as Operation | undefined;
  if (!operationObject) {
    throw new Error(`openapi.yaml has no ${method.toUpperCase()} ${path}`);
  }
  return operationObject;
}

function parametersOf(
  method: string,
  path: string,
  location: Parameter['in'],
): Parameter[] {
  return [
    ...(doc.paths[path].parameters ?? []),
    ...(operation(method, path).parameters ?? []),
  ]
    .map(deref)
    .filter(p => p.in === location);
}

function zodObject(name: string): ZodObjectLike {
  const schema = (common as unknown as Record<string, unknown>)[name] as
    | ZodObjectLike
    | undefined;
  if (!schema?.shape) {
    throw new Error(
      `${name} is not a zod object schema exported by the common package`,
    );
  }
  return schema;
}

const keysOf = (schema: ZodObjectLike) => Object.keys(schema.shape).sort();
const requiredKeysOf = (schema: ZodObjectLike) =>
  Object.keys(schema.shape)
    .filter(key => !schema.shape[key].isOptional())
    .sort();

/** What the test compares of a strict object schema. */
function describeSchema(schema: Schema) {
  return {
    type: schema.type,
    additionalProperties: schema.additionalProperties,
    keys: Object.keys(schema.properties ?? {}).sort(),
    required: [...(schema.required ?? [])].sort(),
  };
}

/** The same for a zod object schema. */
function describeZod(schema: ZodObjectLike) {
  return {
    type: 'object',
    additionalProperties:
      schema.def?.catchall?.def?.type === 'never' ? false : undefined,
    keys: keysOf(schema),
    required: requiredKeysOf(schema),
  };
}

const routes = registeredRoutes();
const routeName = (r: { method: string; path: string }) =>
  `${r.method.toUpperCase()} ${r.path}`;

describe('openapi.yaml', () => {
  it('is an OpenAPI 3.0.3 document', () => {
    expect(doc.openapi).toBe('3.0.3');
    expect(doc.security).toEqual([{ bearerAuth: [] }]);
  });

  it('documents exactly the routes registered in router.ts', () => {
    expect(routes.length).toBeGreaterThan(0);
    const documented = Object.entries(doc.paths).flatMap(([path, item]) =>
      Object.keys(item)
        .filter(key => HTTP_METHODS.includes(key))
        .map(method => routeName({ method, path })),
    );
    expect(documented.sort()).toEqual(routes.map(routeName).sort());
  });

  it('needs no authentication for /health only', () => {
    expect(operation('get', '/health').security).toEqual([]);
  });

  it('documents authentication and input errors on every other route', () => {
    const others = routes.filter(r => r.path !== '/health');
    expect(
      others.map(r => ({
        route: routeName(r),
        security: operation(r.method, r.path).security,
        errors: ['400', '401', '403'].filter(
          code => code in operation(r.method, r.path).responses,
        ),
      })),
    ).toEqual(
      others.map(r => ({
        route: routeName(r),
        security: undefined,
        errors: ['400', '401', '403'],
      })),
    );
  });

  describe.each(routes.map(r => [routeName(r), r] as const))(
    '%s',
    (_, route) => {
      it('documents the request body the handler parses', () => {
        const body = operation(route.method, route.path).requestBody;
        const documented =
          body &&
          describeSchema(deref(body.content['application/json'].schema));
        const parsed =
          route.parses.body && describeZod(zodObject(route.parses.body));
        expect(documented).toEqual(parsed);
      });

      it('documents the query parameters the handler parses', () => {
        const query = parametersOf(route.method, route.path, 'query');
        const zod = route.parses.query
          ? zodObject(route.parses.query)
          : { shape: {} };
        expect({
          keys: query.map(p => p.name).sort(),
          required: query
            .filter(p => p.required)
            .map(p => p.name)
            .sort(),
        }).toEqual({ keys: keysOf(zod), required: requiredKeysOf(zod) });
      });

      it('documents the path parameters of its template', () => {
        const path = parametersOf(route.method, route.path, 'path');
        const inTemplate = [...route.path.matchAll(/\{(\w+)\}/g)]
          .map(m => m[1])
          .sort();
        expect(path.map(p => p.name).sort()).toEqual(inTemplate);
        expect(path.every(p => p.required === true)).toBe(true);
        const zod = route.parses.params
          ? zodObject(route.parses.params)
          : { shape: {} };
        expect(inTemplate).toEqual(keysOf(zod));
      });
    },
  );

  it('limits GET /runs like the zod schema', () => {
    const limit = parametersOf('get', '/runs', 'query').find(
      p => p.name === 'limit',
    )!;
    expect(limit.schema.maximum).toBe(common.MAX_RUN_LIST_LIMIT);
  });

  it('bounds break-glass requests like the zod schemas', () => {
    const open = deref(doc.components.schemas.OpenBreakGlassRequest);
    expect(open.properties!.durationMinutes.maximum).toBe(
      common.MAX_BREAK_GLASS_DURATION_MINUTES,
    );
    const limit = parametersOf('get', '/break-glass', 'query').find(
      p => p.name === 'limit',
    )!;
    expect(limit.schema.maximum).toBe(common.MAX_BREAK_GLASS_LIST_LIMIT);
    const ticket = new RegExp(open.properties!.ticket.pattern!, 'u');
    const samples = [
      'INC-4711',
      'JIRA:OPS-7',
      'https://x/browse/OPS-7',
      'a b',
      'x;y',
      '',
    ];
    expect(samples.map(t => [t, ticket.test(t)])).toEqual(
      samples.map(t => [t, common.breakGlassTicketSchema.safeParse(t).success]),
    );
  });

  it('lists every run status', () => {
    expect(doc.components.schemas.RunStatus.enum).toEqual([
      ...common.RUN_STATUSES,
    ]);
  });

  // The Run type as CONTRACT.md (v1) defines it.
  const CONTRACT_RUN_KEYS = [
    'id',
    'entityRef',
    'environment',
    'operation',
    'status',
    'ref',
    'commitSha',
    'requestedBy',
    'createdAt',
    'startedAt',
    'finishedAt',
    'planRunId',
    'plan',
    'changes',
    'approvals',
    'error',
  ];
  const CONTRACT_TARGET_KEYS = [
    'entityRef',
    'environment',
    'repository',
    'path',
    'applyBranches',
    'requiredApprovals',
    'deployable',
    'reason',
    'locked',
    'lastRun',
  ];

  // Every key of the API types with its optionality: typed against the
  // types themselves, so type checking fails when a key is added, removed
  // or changes optionality, until this list (and then the YAML) follows.
  type Keys<T> = {
    [K in keyof Required<T>]: undefined extends T[K] ? 'optional' : 'required';
  };
  const RUN_KEYS: Keys<common.Run> = {
    id: 'required',
    entityRef: 'required',
    environment: 'required',
    operation: 'required',
    status: 'required',
    ref: 'required',
    commitSha: 'required',
    requestedBy: 'required',
    createdAt: 'required',
    startedAt: 'optional',
    finishedAt: 'optional',
    planRunId: 'optional',
    plan: 'optional',
    changes: 'optional',
    approvals: 'required',
    error: 'optional',
    supersededBy: 'optional',
    applyRunId: 'optional',
    breakGlass: 'optional',
  };
  const TARGET_KEYS: Keys<common.Target> = {
    entityRef: 'required',
    environment: 'required',
    repository: 'required',
    path: 'required',
    applyBranches: 'required',
    requiredApprovals: 'required',
    approvers: 'optional',
    sandboxed: 'required',
    deployable: 'required',
    reason: 'optional',
    locked: 'required',
    lockedBy: 'optional',
    lastRun: 'optional',
  };
  const BREAK_GLASS_SESSION_KEYS: Keys<common.BreakGlassSession> = {
    id: 'required',
    entityRef: 'required',
    environment: 'required',
    openedBy: 'required',
    reason: 'required',
    ticket: 'optional',
    openedAt: 'required',
    expiresAt: 'required',
    closedAt: 'optional',
    closedBy: 'optional',
    closeReason: 'optional',
    closeNote: 'optional',
    uses: 'required',
  };
  const BREAK_GLASS_USE_KEYS: Keys<common.BreakGlassUse> = {
    runId: 'required',
    operation: 'required',
    at: 'required',
    bypassed: 'required',
  };
  const RUN_BREAK_GLASS_KEYS: Keys<common.RunBreakGlass> = {
    sessionId: 'required',
    openedBy: 'required',
    reason: 'required',
  };
  const required = (keys: Record<string, string>) =>
    Object.keys(keys)
      .filter(key => keys[key] === 'required')
      .sort();

  it.each([
    ['Run', CONTRACT_RUN_KEYS, RUN_KEYS],
    ['Target', CONTRACT_TARGET_KEYS, TARGET_KEYS],
    ['BreakGlassSession', [], BREAK_GLASS_SESSION_KEYS],
    ['BreakGlassUse', [], BREAK_GLASS_USE_KEYS],
    ['RunBreakGlass', [], RUN_BREAK_GLASS_KEYS],
  ] as const)(
    'describes %s as the contract and the type do',
    (name, contractKeys, typeKeys) => {
      const schema = doc.components.schemas[name];
      const properties = Object.keys(schema.properties ?? {});
      expect(properties).toEqual(expect.arrayContaining([...contractKeys]));
      expect(properties.sort()).toEqual(Object.keys(typeKeys).sort());
      expect([...(schema.required ?? [])].sort()).toEqual(required(typeKeys));
    },
  );

  // Patterns are checked the way JSON Schema validators do (unicode regexp)
  // against the zod schemas the gate parses with, on values near each rule.
  const SAMPLES: Array<[string, ZodLike, string[]]> = [
    [
      'EntityRef',
      common.entityRefSchema,
      [
        'component:default/payments',
        'component:payments',
        'Component:default/Payments',
        'resource:my-ns/db.primary_1',
        'payments',
        'component:/payments',
        'component:Default/payments',
        'component:default/-payments',
        'component:default/payments-',
        'component:default/pay ments',
        '1component:default/payments',
        `component:default/${'a'.repeat(63)}`,
        `component:default/${'a'.repeat(64)}`,
        '',
      ],
    ],
    [
      'EnvironmentName',
      common.environmentSchema,
      [
        'dev',
        'prod',
        'eu-west-1',
        'a',
        '1',
        'a'.repeat(32),
        'a'.repeat(33),
        'Prod',
        '-dev',
        'dev-',
        'dev_1',
        'a.b',
        'dev#x',
        '',
      ],
    ],
    [
      'BranchName',
      common.branchSchema,
      [
        'main',
        'feature/x',
        'release-1.2',
        'user+fix',
        'v1.0.0',
        'a'.repeat(200),
        'a'.repeat(201),
        '-x',
        '+x',
        '/x',
        'x/',
        'x.',
        'a..b',
        'a//b',
        'HEAD',
        'HEADS',
        'refs/heads/main',
        'refsx/y',
        '.hidden',
        'a/.hidden',
        'a.lock',
        'a.lock/b',
        'a.locked',
        'a b',
        'a~1',
        'a:b',
        '',
      ],
    ],
    [
      'CommitSha',
      common.commitShaSchema,
      [
        '9fceb02d0ae598e95dc970b74767f19372d61af8',
        '9fceb02',
        'A'.repeat(40),
        'a'.repeat(41),
        'g'.repeat(40),
      ],
    ],
    [
      'RunId',
      common.runIdParamSchema.shape.id,
      [
        '3f1c2a4e-8b7d-4c6e-9a15-2d4b6f8e0c31',
        '3F1C2A4E-8B7D-4C6E-9A15-2D4B6F8E0C31',
        '3f1c2a4e-8b7d-0c6e-9a15-2d4b6f8e0c31',
        '3f1c2a4e-8b7d-4c6e-7a15-2d4b6f8e0c31',
        '3f1c2a4e8b7d4c6e9a152d4b6f8e0c31',
        'plan-1',
      ],
    ],
  ];

  it.each(SAMPLES)(
    '%s pattern accepts what the gate accepts',
    (name, zod, samples) => {
      const schema = doc.components.schemas[name];
      const pattern = new RegExp(schema.pattern!, 'u');
      const byPattern = (value: string) =>
        pattern.test(value) &&
        value.length <= (schema.maxLength ?? Infinity) &&
        value.length >= (schema.minLength ?? 0);
      expect(samples.map(value => [value, byPattern(value)])).toEqual(
        samples.map(value => [value, zod.safeParse(value).success]),
      );
    },
  );
});
