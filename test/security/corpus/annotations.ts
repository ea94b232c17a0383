import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Case, Outcome, show, stripAnsi } from '../framework';
import { rawRequest } from '../harness/rawHttp';
import { SecurityWorld } from '../harness/securityWorld';
import {
  controlCharacters,
  homoglyphs,
  optionInjection,
  terraformInterpolation,
  traversal,
  urlTricks,
} from './primitives';

/** One catalog file with one (hostile) entity, registered as a config location. */
export interface AnnotationInput {
  name: string;
  /** The file's text: JSON (which is YAML) or raw YAML. */
  text: string;
  /** Environments to request a plan for once the catalog has settled. */
  planEnvironments: string[];
}

export interface AnnotationExpect {
  /** Refused by the catalog, or listed with every target not deployable. */
  refused: true;
}

export type AnnotationCase = Case<AnnotationInput, AnnotationExpect>;

const PREFIX = 'sealed-runner.io';

function component(
  name: string,
  annotations: Record<string, unknown>,
  spec: Record<string, unknown> = {},
) {
  return {
    apiVersion: 'backstage.io/v1alpha1',
    kind: 'Component',
    metadata: { name, annotations },
    spec: {
      type: 'service',
      lifecycle: 'experimental',
      owner: 'group:default/payments-team',
      ...spec,
    },
  };
}

/**
 * Entities with hostile `sealed-runner.io/*` annotations. Each lives in its
 * own catalog file, so a refusal the catalog logs against the file is
 * attributed to its case.
 */
export function annotationCases(world: SecurityWorld): AnnotationCase[] {
  const c = world.canary;
  const live = world.root.demo.infrastructureLiveUrl;
  const cases: AnnotationCase[] = [];
  let n = 0;
  const add = (
    label: string,
    build: (name: string) => unknown,
    planEnvironments = ['dev'],
  ) => {
    const name = `sec-ann-${String(++n).padStart(3, '0')}`;
    const entity = build(name);
    cases.push({
      boundary: 'annotations',
      name: label,
      input: {
        name,
        text:
          typeof entity === 'string' ? entity : JSON.stringify(entity, null, 2),
        planEnvironments,
      },
      expect: { refused: true },
    });
  };

  for (const { label, value } of [
    ...urlTricks(c),
    ...optionInjection(c).slice(0, 3),
    ...terraformInterpolation().slice(0, 1),
    ...controlCharacters().slice(0, 2),
    { label: 'empty', value: '' },
    {
      label: 'service-catalog repository (allowlisted? no)',
      value: world.root.demo.serviceCatalogUrl,
    },
    { label: 'allowlisted + trailing slash', value: `${live}/` },
  ]) {
    add(`repository = ${label}`, name =>
      component(name, {
        [`${PREFIX}/repository`]: value,
        [`${PREFIX}/target.dev`]: 'live/dev/payments',
      }),
    );
  }
  for (const { label, value } of [
    ...traversal(),
    ...controlCharacters().slice(0, 4),
    ...terraformInterpolation().slice(0, 2),
    ...homoglyphs().slice(3, 4),
    { label: '4 kB', value: 'p/'.repeat(2048) },
    { label: 'empty', value: '' },
  ]) {
    add(`target.dev = ${label}`, name =>
      component(name, {
        [`${PREFIX}/repository`]: live,
        [`${PREFIX}/target.dev`]: value,
      }),
    );
  }
  for (const [label, environment] of [
    ['unconfigured environment', 'staging'],
    ['upper-case environment', 'DEV'],
    ['constructor environment', 'constructor'],
    ['prototype environment', 'prototype'],
    ['__proto__ environment', '__proto__'],
    ['empty environment', ''],
    ['trailing dash', 'dev-'],
    ['${} in the key', '${env}'],
    ['homoglyph environment', 'd\u0435v'],
    ['dotted environment', 'dev.evil'],
  ]) {
    add(
      `target.<${label}>`,
      name =>
        component(name, {
          [`${PREFIX}/repository`]: live,
          [`${PREFIX}/target.${environment}`]: 'live/dev/payments',
        }),
      [environment],
    );
  }
  // Service-catalog modules: a hostile source or version list must never be vetted.
  const moduleEntity = (name: string, source: unknown, versions: unknown) =>
    component(
      name,
      {
        [`${PREFIX}/module-source`]: source,
        [`${PREFIX}/module-versions`]: versions,
      },
      { type: 'terraform-module', owner: 'group:default/platform-team' },
    );
  for (const [label, source] of [
    [
      'ext transport',
      `git::ext::sh -c touch% ${c.sibling}/pwned-module-source`,
    ],
    ['registry address', 'hashicorp/consul/aws'],
    ['source with ?ref', `${world.root.demo.moduleSource}?ref=v2.0.0-rc1`],
    ['relative file URL', 'git::file://etc//passwd'],
    ['local path', '../../modules/web-service'],
    ['ssh option host', 'git::ssh://-oProxyCommand=x/repo.git'],
    ['${} source', '${file("/etc/passwd")}'],
    ['subdir traversal', `${world.root.demo.moduleSource}/../../../x`],
    ['NUL in source', `${world.root.demo.moduleSource}\u0000`],
    ['3 kB source', `git::https://github.com/${'a'.repeat(3000)}.git`],
  ]) {
    add(
      `module-source = ${label}`,
      name => moduleEntity(name, source, 'v1.0.0'),
      [],
    );
  }
  for (const [label, versions] of [
    ['option injection', '--upload-pack=x'],
    ['shell', 'v1.0.0; rm -rf /'],
    ['wildcard', '*'],
    ['full ref', 'refs/tags/v1.0.0'],
    ['HEAD', 'HEAD'],
    [
      '101 versions',
      Array.from({ length: 101 }, (_, i) => `v1.0.${i}`).join(', '),
    ],
    ['empty', ''],
    ['empty item', 'v1.0.0,,v1.1.0'],
  ]) {
    add(
      `module-versions = ${label}`,
      name => moduleEntity(name, world.root.demo.moduleSource, versions),
      [],
    );
  }
  // Type confusion: annotation values must be strings.
  add('repository as a number', name =>
    component(name, {
      [`${PREFIX}/repository`]: 123,
      [`${PREFIX}/target.dev`]: 'live/dev/payments',
    }),
  );
  add('target as a list', name =>
    component(name, {
      [`${PREFIX}/repository`]: live,
      [`${PREFIX}/target.dev`]: ['live/dev/payments'],
    }),
  );
  add('target as a map', name =>
    component(name, {
      [`${PREFIX}/repository`]: live,
      [`${PREFIX}/target.dev`]: { path: 'live/dev/payments' },
    }),
  );
  add('target as null', name =>
    component(name, {
      [`${PREFIX}/repository`]: live,
      [`${PREFIX}/target.dev`]: null,
    }),
  );
  add(
    'module-versions as a list',
    name => moduleEntity(name, world.root.demo.moduleSource, ['v2.0.0-rc1']),
    [],
  );
  // YAML-level hostility.
  add('YAML alias bomb', name => {
    const lines = ['a: &a ["x","x","x","x","x","x","x","x","x"]'];
    for (let i = 0; i < 8; i++) {
      lines.push(
        `${String.fromCharCode(98 + i)}: &${String.fromCharCode(
          98 + i,
        )} [${Array(9)
          .fill(`*${String.fromCharCode(97 + i)}`)
          .join(',')}]`,
      );
    }
    return [
      'apiVersion: backstage.io/v1alpha1',
      'kind: Component',
      'metadata:',
      `  name: ${name}`,
      '  annotations:',
      `    ${PREFIX}/repository: ${live}`,
      `    ${PREFIX}/target.dev: live/dev/payments`,
      'spec:',
      '  type: service',
      '  lifecycle: experimental',
      '  owner: group:default/payments-team',
      '  bomb:',
      ...lines.map(l => `    ${l}`),
    ].join('\n');
  });
  add(
    'annotation key with __proto__',
    name =>
      `{"apiVersion":"backstage.io/v1alpha1","kind":"Component","metadata":{"name":"${name}","annotations":{"${PREFIX}/repository":"${live}","${PREFIX}/target.dev":"../../etc","__proto__":{"${PREFIX}/target.dev":"live/dev/payments"}}},"spec":{"type":"service","lifecycle":"experimental","owner":"group:default/payments-team"}}`,
  );
  return cases;
}

export interface AnnotationContext {
  world: SecurityWorld;
  baseUrl: string;
  erinToken: string;
  logFile: string;
}

/** Writes one catalog file per case; returns the config locations for them. */
export async function writeAnnotationEntities(
  world: SecurityWorld,
  cases: AnnotationCase[],
) {
  const locations = [];
  for (const c of cases) {
    const file = join(world.entityDir, `${c.input.name}.yaml`);
    await writeFile(file, `${c.input.text}\n`);
    locations.push({ type: 'file', target: file });
  }
  return locations;
}

/** Catalog warnings (processing errors) that name an entity or its file. */
async function catalogWarnings(logFile: string): Promise<string[]> {
  const text = stripAnsi(await readFile(logFile, 'utf8').catch(() => ''));
  return text.split('\n').filter(line => /\bcatalog\s+warn\b/.test(line));
}

async function entityStatus(
  ctx: AnnotationContext,
  name: string,
): Promise<number> {
  const response = await rawRequest(ctx.baseUrl, {
    method: 'GET',
    path: `/api/catalog/entities/by-name/component/default/${name}`,
    headers: { authorization: `Bearer ${ctx.erinToken}` },
  });
  return response.status;
}

/**
 * Waits until the catalog has settled every case: the entity is stored, or
 * a processing error names it. Returns the names still unsettled.
 */
export async function waitForCatalog(
  ctx: AnnotationContext,
  names: string[],
  timeoutMs: number,
): Promise<string[]> {
  const deadline = Date.now() + timeoutMs;
  let pending = names;
  while (pending.length > 0 && Date.now() < deadline) {
    const warnings = (await catalogWarnings(ctx.logFile)).join('\n');
    const still: string[] = [];
    for (const name of pending) {
      if (warnings.includes(name)) continue;
      if ((await entityStatus(ctx, name)) === 200) continue;
      still.push(name);
    }
    pending = still;
    if (pending.length > 0) await new Promise(r => setTimeout(r, 500));
  }
  return pending;
}

/**
 * Judges one case once the catalog settled: refused by the catalog (not
 * stored, with a processing error naming it), or stored with every target
 * not deployable and a reason; and a plan request for it is refused.
 */
export async function runAnnotationCase(
  ctx: AnnotationContext,
  c: AnnotationCase,
): Promise<Outcome> {
  const { name } = c.input;
  const ref = `component:default/${name}`;
  const problems: string[] = [];
  let refused = false;
  let observed: string;
  const stored = (await entityStatus(ctx, name)) === 200;
  if (!stored) {
    const warning = (await catalogWarnings(ctx.logFile)).find(line =>
      line.includes(name),
    );
    refused = warning !== undefined;
    observed = warning
      ? `refused by the catalog: ${show(
          warning.replace(/^.*?warn\s+/, ''),
          200,
        )}`
      : 'not stored, and no processing error names it';
  } else {
    const targets = await rawRequest(ctx.baseUrl, {
      method: 'GET',
      path: `/api/sealed-runner/targets?entityRef=${encodeURIComponent(ref)}`,
      headers: { authorization: `Bearer ${ctx.erinToken}` },
    });
    const items: Array<{
      environment: string;
      deployable: boolean;
      reason?: string;
    }> = targets.json?.items ?? [];
    const deployable = items.filter(t => t.deployable || !t.reason);
    // A stored module entity is vetting input for the gate: hostile ones
    // must not get that far. A stored service must have only targets that
    // are not deployable, each with a reason.
    refused =
      c.input.planEnvironments.length > 0 &&
      targets.status === 200 &&
      deployable.length === 0;
    observed = `stored; targets ${show(
      items.map(
        t => `${t.environment}: ${t.deployable ? 'deployable' : t.reason}`,
      ),
      200,
    )}`;
    if (deployable.length > 0)
      problems.push(
        `deployable target(s): ${deployable
          .map(t => t.environment)
          .join(', ')}`,
      );
  }
  let fiveXX = false;
  for (const environment of c.input.planEnvironments) {
    const plan = await rawRequest(ctx.baseUrl, {
      method: 'POST',
      path: '/api/sealed-runner/runs',
      headers: {
        authorization: `Bearer ${ctx.erinToken}`,
        'content-type': 'application/json',
      },
      body: JSON.stringify({ entityRef: ref, environment, operation: 'plan' }),
    });
    if (plan.status >= 500) fiveXX = true;
    if (plan.status < 400 || plan.status >= 500) {
      problems.push(
        `POST /runs for ${environment} answered ${plan.status}: ${show(
          plan.text,
          150,
        )}`,
      );
    }
  }
  return { refused, fiveXX, problems, observed };
}

/**
 * Entities that try to take over what the platform team owns: a second
 * `payments` from another file (the catalog must keep the original), and a
 * module entity outside `modules.owners` vetting the unvetted version.
 */
export function takeoverCases(world: SecurityWorld): AnnotationCase[] {
  const evilPayments = component('payments', {
    [`${PREFIX}/repository`]: world.root.demo.serviceCatalogUrl,
    [`${PREFIX}/target.dev`]: 'modules/web-service',
  });
  const shadowModule = component(
    'sec-ann-shadow-module',
    {
      [`${PREFIX}/module-source`]: world.root.demo.moduleSource,
      [`${PREFIX}/module-versions`]: 'v1.0.0, v1.1.0, v2.0.0-rc1',
    },
    { type: 'terraform-module', owner: 'group:default/payments-team' },
  );
  return [
    {
      boundary: 'annotations',
      name: 'a second payments entity from another file (takeover)',
      input: {
        name: 'sec-ann-takeover-payments',
        text: JSON.stringify(evilPayments, null, 2),
        planEnvironments: [],
      },
      expect: { refused: true },
    },
    {
      boundary: 'annotations',
      name: 'a module entity outside modules.owners vetting v2.0.0-rc1',
      input: {
        name: 'sec-ann-shadow-module',
        text: JSON.stringify(shadowModule, null, 2),
        planEnvironments: [],
      },
      expect: { refused: true },
    },
  ];
}

/** The valid entity the annotation pipeline must accept (the positive control). */
export function controlEntity(world: SecurityWorld) {
  return component('sec-ann-control', {
    [`${PREFIX}/repository`]: world.root.demo.infrastructureLiveUrl,
    [`${PREFIX}/target.dev`]: 'live/dev/security-control',
  });
}

/** Judges the takeover cases: the original payments targets, and legacy-batch still rejected. */
export async function runTakeoverCase(
  ctx: AnnotationContext,
  c: AnnotationCase,
): Promise<Outcome> {
  const auth = { authorization: `Bearer ${ctx.erinToken}` };
  if (c.input.name === 'sec-ann-takeover-payments') {
    const targets = await rawRequest(ctx.baseUrl, {
      method: 'GET',
      path: `/api/sealed-runner/targets?entityRef=${encodeURIComponent(
        'component:default/payments',
      )}`,
      headers: auth,
    });
    const dev = targets.json?.items?.find(
      (t: { environment: string }) => t.environment === 'dev',
    );
    const intact =
      dev?.repository === ctx.world.root.demo.infrastructureLiveUrl &&
      dev?.path === 'live/dev/payments';
    return {
      refused: intact,
      fiveXX: targets.status >= 500,
      problems: [],
      observed: `payments dev target: ${show(
        dev && `${dev.repository} ${dev.path}`,
      )}`,
    };
  }
  const plan = await rawRequest(ctx.baseUrl, {
    method: 'POST',
    path: '/api/sealed-runner/runs',
    headers: { ...auth, 'content-type': 'application/json' },
    body: JSON.stringify({
      entityRef: 'component:default/legacy-batch',
      environment: 'prod',
      operation: 'plan',
    }),
  });
  if (plan.status !== 202) {
    return {
      refused: false,
      fiveXX: plan.status >= 500,
      problems: [`POST /runs answered ${plan.status}`],
      observed: show(plan.text),
    };
  }
  const deadline = Date.now() + 60_000;
  let run;
  do {
    await new Promise(r => setTimeout(r, 200));
    run = (
      await rawRequest(ctx.baseUrl, {
        method: 'GET',
        path: `/api/sealed-runner/runs/${plan.json.run.id}`,
        headers: auth,
      })
    ).json?.run;
  } while (
    run &&
    !['succeeded', 'failed', 'rejected', 'cancelled'].includes(run.status) &&
    Date.now() < deadline
  );
  const refused =
    run?.status === 'rejected' &&
    /v2\.0\.0-rc1.*not vetted/.test(run.error ?? '');
  return {
    refused,
    problems: [],
    observed: `legacy-batch prod plan ${run?.status}: ${show(
      run?.error ?? '',
    )}`,
  };
}

/** Where the registration takeover's entity lives: a feature branch any engineer may push. */
export const TAKEOVER_BRANCH = 'security/catalog-takeover';
export const TAKEOVER_FILE = 'catalog/vetting.yaml';

/**
 * The file an engineer pushes to a feature branch: a terraform-module
 * entity that claims to be owned by the platform team and vets the
 * unvetted v2.0.0-rc1.
 */
export function takeoverModuleFile(world: SecurityWorld): string {
  return JSON.stringify(
    component(
      'sec-self-vetted-module',
      {
        [`${PREFIX}/module-source`]: world.root.demo.moduleSource,
        [`${PREFIX}/module-versions`]: 'v2.0.0-rc1',
      },
      { type: 'terraform-module', owner: 'group:default/platform-team' },
    ),
    null,
    2,
  );
}

/**
 * An engineer registers, through the catalog API, a module entity from her
 * own feature branch that claims platform-team ownership. Vetting must not
 * follow: legacy-batch (which uses v2.0.0-rc1) must still be rejected. The
 * location is removed again afterwards, whatever happened.
 */
export async function runRegistrationTakeover(
  ctx: AnnotationContext,
): Promise<Outcome> {
  const auth = {
    authorization: `Bearer ${ctx.erinToken}`,
    'content-type': 'application/json',
  };
  const target = `${ctx.world.root.demo.infrastructureLiveUrl}?ref=${TAKEOVER_BRANCH}&path=${TAKEOVER_FILE}`;
  const created = await rawRequest(ctx.baseUrl, {
    method: 'POST',
    path: '/api/catalog/locations',
    headers: auth,
    body: JSON.stringify({ type: 'url', target }),
  });
  if (created.status !== 201) {
    return {
      refused: created.status >= 400 && created.status < 500,
      fiveXX: created.status >= 500,
      problems: [],
      observed: `POST /api/catalog/locations answered ${created.status}`,
    };
  }
  try {
    const deadline = Date.now() + 30_000;
    while (
      (await entityStatus(ctx, 'sec-self-vetted-module')) !== 200 &&
      Date.now() < deadline
    ) {
      await new Promise(r => setTimeout(r, 300));
    }
    const stored = (await entityStatus(ctx, 'sec-self-vetted-module')) === 200;
    const plan = await runTakeoverCase(ctx, {
      boundary: 'annotations',
      name: 'plan legacy-batch',
      input: { name: 'legacy-batch', text: '', planEnvironments: [] },
      expect: { refused: true },
    });
    return {
      ...plan,
      observed: `registered (entity ${stored ? 'stored' : 'not stored'}); ${
        plan.observed
      }`,
    };
  } finally {
    await rawRequest(ctx.baseUrl, {
      method: 'DELETE',
      path: `/api/catalog/locations/${created.json.location.id}`,
      headers: auth,
    });
  }
}
