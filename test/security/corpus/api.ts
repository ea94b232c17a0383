import { gzipSync } from 'node:zlib';
import { Case, Outcome, show } from '../framework';
import { rawRequest } from '../harness/rawHttp';
import {
  CanaryTargets,
  hostileStrings,
  ONE_MEGABYTE,
  Primitive,
  refTricks,
  TYPE_CONFUSION,
} from './primitives';

/** Who sends a request: a demo identity, nobody, or a given (forged) token. */
export type Caller =
  | 'erin'
  | 'pat'
  | 'anonymous'
  | { token: string; label: string };

export interface HttpInput {
  as: Caller;
  method: 'GET' | 'POST';
  /** Below /api/sealed-runner, sent as written. */
  path: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
  /** An event stream: read briefly, never to its end. */
  stream?: boolean;
}

export interface HttpExpect {
  /** Acceptable statuses; default any 4xx. */
  statuses?: number[];
}

export type HttpCase = Case<HttpInput, HttpExpect>;

export interface ApiContext {
  baseUrl: string;
  tokens: { erin: string; pat: string };
  /** A finished plan of payments/dev (succeeded), requested by Erin. */
  controlRunId: string;
  canary: CanaryTargets;
}

const VALID_PLAN = {
  entityRef: 'component:default/payments',
  environment: 'dev',
  operation: 'plan',
};
const JSON_HEADERS = { 'content-type': 'application/json' };

function tokenOf(ctx: ApiContext, as: Caller): string | undefined {
  if (as === 'anonymous') return undefined;
  if (as === 'erin' || as === 'pat') return ctx.tokens[as];
  return as.token;
}

/** Sends one case and judges the answer: a 4xx with a reason, never 5xx, never a hang. */
export async function runHttpCase(
  ctx: ApiContext,
  c: HttpCase,
): Promise<Outcome> {
  const token = tokenOf(ctx, c.input.as);
  let response;
  try {
    response = await rawRequest(ctx.baseUrl, {
      method: c.input.method,
      path: `/api/sealed-runner${c.input.path}`,
      headers: {
        ...(token ? { authorization: `Bearer ${token}` } : {}),
        ...c.input.headers,
      },
      body: c.input.body,
      timeoutMs: c.input.stream ? 5_000 : 30_000,
      maxBytes: c.input.stream ? 4096 : undefined,
    });
  } catch (error) {
    // The server may close the connection on a body it will not read.
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ECONNRESET' || code === 'EPIPE') {
      return {
        refused: true,
        problems: [],
        observed: `connection closed by the server (${code})`,
      };
    }
    throw error;
  }
  if (response.timedOut) {
    return {
      refused: false,
      crash: 'no answer within the timeout',
      problems: [],
      observed: 'timed out',
    };
  }
  const { status } = response;
  const problems: string[] = [];
  const refused = status >= 400 && status < 500;
  if (refused && c.expect.statuses && !c.expect.statuses.includes(status)) {
    problems.push(`status ${status}, expected ${c.expect.statuses.join('/')}`);
  }
  // The gate's refusals carry Backstage's error body with a reason.
  const isJson = String(response.headers['content-type'] ?? '').includes(
    'application/json',
  );
  if (
    refused &&
    isJson &&
    !(
      typeof response.json?.error?.message === 'string' &&
      response.json.error.message.trim()
    )
  ) {
    problems.push('refused without a reason in the error body');
  }
  const reason = response.json?.error?.message ?? response.text;
  return {
    refused,
    fiveXX: status >= 500,
    problems,
    observed: `${status} ${show(reason, 200)}`,
  };
}

const enc = encodeURIComponent;

function labelled(
  values: Primitive[],
  types = true,
): Array<{ label: string; value: unknown }> {
  return [...values, ...(types ? TYPE_CONFUSION : [])];
}

/** POST /runs with one hostile field; the other fields are a valid plan of payments/dev. */
function createRunFieldCases(ctx: ApiContext): HttpCase[] {
  const cases: HttpCase[] = [];
  const strings = hostileStrings(ctx.canary);
  const field = (
    name: string,
    values: Array<{ label: string; value: unknown }>,
    boundary: HttpCase['boundary'] = 'api',
  ) => {
    const seen = new Set<string>();
    for (const { label, value } of values) {
      let unique = label;
      for (let n = 2; seen.has(unique); n++) unique = `${label} #${n}`;
      seen.add(unique);
      cases.push({
        boundary,
        name: `POST /runs ${name} = ${unique}`,
        input: {
          as: 'erin',
          method: 'POST',
          path: '/runs',
          headers: JSON_HEADERS,
          body: JSON.stringify({ ...VALID_PLAN, [name]: value }),
        },
        expect: {},
      });
    }
  };
  field('entityRef', [
    ...labelled(strings),
    { label: '1 MB', value: ONE_MEGABYTE },
    { label: 'bare name', value: 'payments' },
    { label: 'other kind', value: 'user:default/erin' },
  ]);
  field('environment', [
    ...labelled(strings),
    { label: 'unconfigured', value: 'staging' },
    { label: 'upper case', value: 'DEV' },
  ]);
  field('operation', [
    ...labelled(strings),
    { label: 'apply', value: 'apply' },
    { label: 'destroy', value: 'destroy' },
    { label: 'upper case', value: 'PLAN' },
  ]);
  field(
    'ref',
    [...refTricks(ctx.canary), ...labelled(strings)],
    'git-refs-urls',
  );
  return cases;
}

function structuralBodyCases(ctx: ApiContext): HttpCase[] {
  const post = (
    name: string,
    body: string | Buffer,
    headers: Record<string, string> = JSON_HEADERS,
    statuses?: number[],
  ): HttpCase => ({
    boundary: 'api',
    name: `POST /runs ${name}`,
    input: { as: 'erin', method: 'POST', path: '/runs', headers, body },
    expect: statuses ? { statuses } : {},
  });
  const valid = JSON.stringify(VALID_PLAN);
  const withField = (extra: string) => `${valid.slice(0, -1)},${extra}}`;
  return [
    post(
      'missing entityRef',
      JSON.stringify({ environment: 'dev', operation: 'plan' }),
    ),
    post(
      'missing environment',
      JSON.stringify({ entityRef: VALID_PLAN.entityRef, operation: 'plan' }),
    ),
    post(
      'missing operation',
      JSON.stringify({ entityRef: VALID_PLAN.entityRef, environment: 'dev' }),
    ),
    post('empty object', '{}'),
    post('unknown field', withField('"extra":1')),
    post('__proto__ field', withField('"__proto__":{"operation":"apply"}')),
    post(
      'constructor field',
      withField('"constructor":{"prototype":{"isAdmin":true}}'),
    ),
    post('prototype field', withField('"prototype":{}')),
    post(
      'requestedBy field (impersonation)',
      withField('"requestedBy":"user:default/pat"'),
    ),
    post(
      'commitSha field (pick a commit)',
      withField(`"commitSha":"${'a'.repeat(40)}"`),
    ),
    post(
      'repository field (pick a repository)',
      withField(`"repository":"file://${ctx.canary.sibling}/evil.git"`),
    ),
    post('path field (pick a folder)', withField('"path":"../../etc"')),
    post(
      'approvals field',
      withField('"approvals":[{"by":"user:default/pat"}]'),
    ),
    post('breakGlass field', withField('"breakGlass":true')),
    post('body is an array', `[${valid}]`),
    post('body is a string', JSON.stringify(valid)),
    post('body is a number', '1'),
    post('body is null', 'null'),
    post('body is true', 'true'),
    post(
      '100k-element array field',
      JSON.stringify({
        ...VALID_PLAN,
        ref: Array.from({ length: 100_000 }, () => 0),
      }),
    ),
    post(
      '7,000-element array field (under the size limit)',
      JSON.stringify({
        ...VALID_PLAN,
        ref: Array.from({ length: 7000 }, () => 0),
      }),
    ),
    post(
      'deeply nested (7,000 levels, under the size limit)',
      `${'['.repeat(7000)}${']'.repeat(7000)}`,
    ),
    post(
      'deeply nested (100k levels)',
      `${'['.repeat(100_000)}${']'.repeat(100_000)}`,
    ),
    post(
      'deeply nested object field',
      withField(`"x":${'{"a":'.repeat(3000)}1${'}'.repeat(3000)}`),
    ),
    post('10 MB body', `{"entityRef":"${'x'.repeat(10 * 1024 * 1024)}"}`),
    post('invalid JSON: open brace', '{'),
    post('invalid JSON: missing value', '{"entityRef":}'),
    post(
      'invalid JSON: single quotes',
      "{'entityRef':'component:default/payments'}",
    ),
    post('invalid JSON: trailing comma', withField('"a":1,')),
    post('invalid JSON: NaN', '{"entityRef":NaN}'),
    post('invalid JSON: truncated', valid.slice(0, -1)),
    post('invalid JSON: NUL byte', `${valid}\u0000`),
    post('invalid JSON: comment', `/* */${valid}`),
    post('text/plain content type', valid, { 'content-type': 'text/plain' }),
    post(
      'form content type',
      'entityRef=component%3Adefault%2Fpayments&environment=dev&operation=plan',
      { 'content-type': 'application/x-www-form-urlencoded' },
    ),
    post('multipart content type', valid, {
      'content-type': 'multipart/form-data; boundary=x',
    }),
    post(
      'XML content type',
      '<run><entityRef>component:default/payments</entityRef></run>',
      { 'content-type': 'application/xml' },
    ),
    post('no content type', valid, {}),
    post('Latin-1 charset', Buffer.from(valid, 'latin1'), {
      'content-type': 'application/json; charset=iso-8859-1',
    }),
    post(
      'gzip bomb (10 MB inflated)',
      gzipSync(Buffer.from(`{"entityRef":"${'0'.repeat(10 * 1024 * 1024)}"}`)),
      { ...JSON_HEADERS, 'content-encoding': 'gzip' },
    ),
    post('deflate garbage', Buffer.from('not deflate'), {
      ...JSON_HEADERS,
      'content-encoding': 'deflate',
    }),
    post('unknown content encoding', valid, {
      ...JSON_HEADERS,
      'content-encoding': 'br',
    }),
  ];
}

/** Run ids that are not run ids, on every route that takes one. */
function hostileIdCases(ctx: ApiContext): HttpCase[] {
  const id = ctx.controlRunId;
  const ids: Array<[string, string]> = [
    ['dotdot', '..'],
    ['encoded traversal to /health', '..%2f..%2fhealth'],
    ['encoded dots', '%2e%2e'],
    ['encoded backslashes', '..%5c..%5c'],
    ['__proto__', '__proto__'],
    ['constructor', 'constructor'],
    ['prototype', 'prototype'],
    ['upper-case id of a real run', id.toUpperCase()],
    ['nil uuid', '00000000-0000-0000-0000-000000000000'],
    ['max uuid', 'ffffffff-ffff-ffff-ffff-ffffffffffff'],
    ['id + NUL', `${id}%00`],
    ['id + newline', `${id}%0a`],
    ['id + space', `${id}%20`],
    ['id + extra character', `${id}x`],
    ['id minus a character', id.slice(0, -1)],
    ['10,000 characters', 'a'.repeat(10_000)],
    ['SQL injection', "'%20OR%20'1'%3D'1"],
    ['SQL injection with the id', `${id}'%20OR%201%3D1--`],
    ['wildcard', '*'],
    ['percent', '%25'],
    ['right-to-left override + id', `%E2%80%AE${id}`],
    ['number', '1'],
    ['negative number', '-1'],
    ['null', 'null'],
    ['undefined', 'undefined'],
    ['[object Object]', '%5Bobject%20Object%5D'],
    ['two ids', `${id};${id}`],
    ['id with encoded traversal suffix', `${id}%2f..%2f..`],
    ['braces', '%7B%7D'],
  ];
  const routes: Array<{
    label: string;
    method: 'GET' | 'POST';
    suffix: string;
    body?: string;
    as: Caller;
    stream?: boolean;
  }> = [
    {
      label: 'POST approve',
      method: 'POST',
      suffix: '/approve',
      body: '{}',
      as: 'erin',
    },
    {
      label: 'POST apply',
      method: 'POST',
      suffix: '/apply',
      body: '{}',
      as: 'erin',
    },
    {
      label: 'POST cancel',
      method: 'POST',
      suffix: '/cancel',
      body: '{}',
      as: 'erin',
    },
    {
      label: 'POST release-lock',
      method: 'POST',
      suffix: '/release-lock',
      body: '{"reason":"adversarial suite probe"}',
      as: 'pat',
    },
    { label: 'GET run', method: 'GET', suffix: '', as: 'erin' },
    { label: 'GET logs', method: 'GET', suffix: '/logs', as: 'erin' },
    { label: 'GET history', method: 'GET', suffix: '/history', as: 'erin' },
    {
      label: 'GET logs/stream',
      method: 'GET',
      suffix: '/logs/stream',
      as: 'erin',
      stream: true,
    },
  ];
  return routes.flatMap(route =>
    ids.map(
      ([label, value]): HttpCase => ({
        boundary: 'api',
        name: `${route.label} with id ${label}`,
        input: {
          as: route.as,
          method: route.method,
          path: `/runs/${value}${route.suffix}`,
          ...(route.body ? { headers: JSON_HEADERS, body: route.body } : {}),
          stream: route.stream,
        },
        expect: {},
      }),
    ),
  );
}

/**
 * Hostile bodies on the control run's actions. A valid body would approve
 * (403: her own plan), apply (202: dev needs no approval) or cancel (409:
 * finished), so only 400 shows the body itself was refused.
 */
function actionBodyCases(ctx: ApiContext): HttpCase[] {
  const bodies: Array<[string, string]> = [
    ['unknown field', '{"x":1}'],
    ['__proto__', '{"__proto__":{"force":true}}'],
    ['constructor', '{"constructor":{"prototype":{"force":true}}}'],
    ['approvals', '{"approvals":[{"by":"user:default/pat"}]}'],
    ['approve as someone else', '{"by":"user:default/pat"}'],
    ['force', '{"force":true}'],
    ['another plan', '{"planRunId":"00000000-0000-0000-0000-000000000000"}'],
    ['another ref', '{"ref":"feature"}'],
    ['array', '[]'],
    ['array of object', '[{}]'],
    ['string', '"x"'],
    ['number', '1'],
    ['null', 'null'],
    ['invalid JSON', '{'],
    ['1 MB', `{"x":"${ONE_MEGABYTE}"}`],
    ['deeply nested', `${'{"a":'.repeat(3000)}1${'}'.repeat(3000)}`],
  ];
  const cases: HttpCase[] = [];
  for (const action of ['approve', 'apply', 'cancel']) {
    for (const [label, body] of bodies) {
      cases.push({
        boundary: 'api',
        name: `POST ${action} of the control run with body ${label}`,
        input: {
          as: 'erin',
          method: 'POST',
          path: `/runs/${ctx.controlRunId}/${action}`,
          headers: JSON_HEADERS,
          body,
        },
        expect: { statuses: [400] },
      });
    }
  }
  const reasons: Array<[string, unknown]> = [
    ['NUL', 'stuck runner\u0000'],
    [
      'newline (forged audit line)',
      'stuck runner\nINFO approved by user:default/ceo',
    ],
    ['carriage return', 'stuck\rrunner'],
    ['escape sequence', '\u001b[2Jstuck runner'],
    ['empty', ''],
    ['two characters', 'ok'],
    ['whitespace only', '     '],
    ['501 characters', 'r'.repeat(501)],
    ['number', 42],
    ['null', null],
    ['array', ['stuck runner']],
    ['object', { text: 'stuck runner' }],
  ];
  for (const [label, reason] of reasons) {
    cases.push({
      boundary: 'api',
      name: `POST release-lock as a platform admin with reason ${label}`,
      input: {
        as: 'pat',
        method: 'POST',
        path: `/runs/${ctx.controlRunId}/release-lock`,
        headers: JSON_HEADERS,
        body: JSON.stringify({ reason }),
      },
      expect: { statuses: [400] },
    });
  }
  cases.push(
    {
      boundary: 'api',
      name: 'POST release-lock with an extra field',
      input: {
        as: 'pat',
        method: 'POST',
        path: `/runs/${ctx.controlRunId}/release-lock`,
        headers: JSON_HEADERS,
        body: '{"reason":"stuck runner","force":true}',
      },
      expect: { statuses: [400] },
    },
    {
      boundary: 'api',
      name: 'POST release-lock with a __proto__ field',
      input: {
        as: 'pat',
        method: 'POST',
        path: `/runs/${ctx.controlRunId}/release-lock`,
        headers: JSON_HEADERS,
        body: '{"reason":"stuck runner","__proto__":{"x":1}}',
      },
      expect: { statuses: [400] },
    },
    {
      boundary: 'api',
      name: 'POST approve of her own plan (four-eyes)',
      input: {
        as: 'erin',
        method: 'POST',
        path: `/runs/${ctx.controlRunId}/approve`,
        headers: JSON_HEADERS,
        body: '{}',
      },
      expect: { statuses: [403] },
    },
    {
      boundary: 'api',
      name: 'POST release-lock by an engineer',
      input: {
        as: 'erin',
        method: 'POST',
        path: `/runs/${ctx.controlRunId}/release-lock`,
        headers: JSON_HEADERS,
        body: '{"reason":"let me in"}',
      },
      expect: { statuses: [403] },
    },
  );
  return cases;
}

function queryCases(ctx: ApiContext): HttpCase[] {
  const cases: HttpCase[] = [];
  const get = (
    name: string,
    path: string,
    extra: Partial<HttpInput> = {},
  ): HttpCase => ({
    boundary: 'api',
    name,
    input: { as: 'erin', method: 'GET', path, ...extra },
    expect: {},
  });
  const strings = hostileStrings(ctx.canary);
  const seen = new Set<string>();
  for (const { label, value } of strings) {
    let unique = label;
    for (let n = 2; seen.has(unique); n++) unique = `${label} #${n}`;
    seen.add(unique);
    cases.push(
      get(
        `GET /targets?entityRef=${unique}`,
        `/targets?entityRef=${enc(value)}`,
      ),
    );
  }
  cases.push(
    get('GET /targets without entityRef', '/targets'),
    get(
      'GET /targets with two entityRefs',
      `/targets?entityRef=${enc('component:default/payments')}&entityRef=${enc(
        'component:default/legacy-batch',
      )}`,
    ),
    get(
      'GET /targets with entityRef[]',
      `/targets?entityRef[]=${enc('component:default/payments')}`,
    ),
    get('GET /targets with entityRef[$ne]', '/targets?entityRef[$ne]=x'),
    get(
      'GET /targets with an unknown parameter',
      `/targets?entityRef=${enc('component:default/payments')}&all=true`,
    ),
    get(
      'GET /targets with constructor[prototype]',
      `/targets?entityRef=${enc(
        'component:default/payments',
      )}&constructor[prototype][x]=1`,
    ),
    get(
      'GET /targets with a 20 kB entityRef',
      `/targets?entityRef=${'a'.repeat(20_000)}`,
    ),
  );
  const runs = (label: string, query: string) =>
    cases.push(get(`GET /runs?${label}`, `/runs?${query}`));
  for (const { label, value } of strings.filter((_, i) => i % 6 === 0)) {
    runs(`entityRef=${label}`, `entityRef=${enc(value)}`);
    runs(`environment=${label}`, `environment=${enc(value)}`);
  }
  for (const status of [
    'QUEUED',
    'done',
    '',
    'queued;drop table runs',
    'queued%00',
    'constructor',
    'rejected%0a',
  ]) {
    runs(
      `status=${status}`,
      `status=${status.includes('%') ? status : enc(status)}`,
    );
  }
  for (const limit of [
    '-1',
    '0',
    '201',
    '1e3',
    '0x10',
    '10.5',
    '%2010',
    enc('１０'),
    '99999',
    '',
    'NaN',
    'Infinity',
    '10abc',
  ]) {
    runs(`limit=${limit}`, `limit=${limit}`);
  }
  runs('two statuses', 'status=queued&status=running');
  runs('two limits', 'limit=1&limit=2');
  runs('status[]', 'status[]=queued');
  runs('status[$ne]', 'status[$ne]=x');
  runs('limit[gt]', 'limit[gt]=0');
  runs('constructor[prototype]', 'constructor[prototype][x]=1');
  runs('offset (unknown)', 'offset=10');
  runs('sort (unknown)', 'sort=createdAt');
  runs('requestedBy (unknown)', `requestedBy=${enc('user:default/pat')}`);
  runs('operation (unknown)', 'operation=apply');
  runs('20 kB query', `entityRef=${'a'.repeat(20_000)}`);

  const id = ctx.controlRunId;
  for (const after of [
    '-1',
    'abc',
    '1e3',
    '0x1',
    '9999999999',
    '1.5',
    '%201',
    enc('１'),
    '',
    'NaN',
  ]) {
    cases.push(
      get(`GET logs?after=${after}`, `/runs/${id}/logs?after=${after}`),
    );
  }
  cases.push(
    get('GET logs with after[]', `/runs/${id}/logs?after[]=1`),
    get('GET logs with after[$gt]', `/runs/${id}/logs?after[$gt]=0`),
    get('GET logs with two afters', `/runs/${id}/logs?after=1&after=2`),
    get('GET logs with an unknown parameter', `/runs/${id}/logs?follow=true`),
  );
  for (const after of ['-1', 'abc', '9999999999', '1.5', '']) {
    cases.push(
      get(
        `GET logs/stream?after=${after}`,
        `/runs/${id}/logs/stream?after=${after}`,
        { stream: true },
      ),
    );
  }
  cases.push(
    get(
      'GET logs/stream with two afters',
      `/runs/${id}/logs/stream?after=1&after=2`,
      { stream: true },
    ),
  );
  for (const header of ['-1', 'abc', '99999999999', '1,2', ' ']) {
    cases.push(
      get(
        `GET logs/stream with Last-Event-ID ${show(header)}`,
        `/runs/${id}/logs/stream`,
        { stream: true, headers: { 'last-event-id': header } },
      ),
    );
  }
  return cases;
}

function base64url(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

/** Requests without valid credentials: every one must be 401 before anything else. */
function authCases(ctx: ApiContext): HttpCase[] {
  const [header, payload] = ctx.tokens.erin.split('.');
  const claims = JSON.parse(Buffer.from(payload, 'base64url').toString());
  const forged: Array<{ token: string; label: string }> = [
    { label: 'garbage token', token: 'garbage' },
    {
      label: 'alg none token as pat',
      token: `${base64url({ alg: 'none', typ: 'JWT' })}.${base64url({
        ...claims,
        sub: 'user:default/pat',
        ent: ['user:default/pat', 'group:default/platform-team'],
      })}.`,
    },
    {
      label: "erin's token with sub changed to pat",
      token: `${header}.${base64url({ ...claims, sub: 'user:default/pat' })}.${
        ctx.tokens.erin.split('.')[2]
      }`,
    },
    {
      label: "erin's token without its signature",
      token: `${header}.${payload}.`,
    },
    {
      label: "erin's token with platform-team claimed",
      token: `${header}.${base64url({
        ...claims,
        ent: [...(claims.ent ?? []), 'group:default/platform-team'],
      })}.${ctx.tokens.erin.split('.')[2]}`,
    },
    {
      label: 'expired-looking token',
      token: `${header}.${base64url({ ...claims, exp: 1 })}.${
        ctx.tokens.erin.split('.')[2]
      }`,
    },
  ];
  const endpoints: Array<{
    label: string;
    method: 'GET' | 'POST';
    path: string;
    body?: string;
  }> = [
    {
      label: 'GET /targets',
      method: 'GET',
      path: `/targets?entityRef=${enc('component:default/payments')}`,
    },
    {
      label: 'POST /runs',
      method: 'POST',
      path: '/runs',
      body: JSON.stringify(VALID_PLAN),
    },
    {
      label: 'POST approve',
      method: 'POST',
      path: `/runs/${ctx.controlRunId}/approve`,
      body: '{}',
    },
    {
      label: 'POST apply',
      method: 'POST',
      path: `/runs/${ctx.controlRunId}/apply`,
      body: '{}',
    },
    { label: 'GET /runs', method: 'GET', path: '/runs' },
    {
      label: 'GET logs',
      method: 'GET',
      path: `/runs/${ctx.controlRunId}/logs`,
    },
    {
      label: 'POST release-lock',
      method: 'POST',
      path: `/runs/${ctx.controlRunId}/release-lock`,
      body: '{"reason":"stuck runner"}',
    },
    {
      label: 'GET logs/stream',
      method: 'GET',
      path: `/runs/${ctx.controlRunId}/logs/stream`,
    },
  ];
  const cases: HttpCase[] = [];
  for (const endpoint of endpoints) {
    const input = (as: Caller): HttpInput => ({
      as,
      method: endpoint.method,
      path: endpoint.path,
      ...(endpoint.body ? { headers: JSON_HEADERS, body: endpoint.body } : {}),
      stream: endpoint.path.endsWith('/stream'),
    });
    cases.push({
      boundary: 'api',
      name: `${endpoint.label} without a token`,
      input: input('anonymous'),
      expect: { statuses: [401] },
    });
    for (const token of forged.slice(
      0,
      endpoint.method === 'POST' ? forged.length : 3,
    )) {
      cases.push({
        boundary: 'api',
        name: `${endpoint.label} with ${token.label}`,
        input: input(token),
        expect: { statuses: [401] },
      });
    }
  }
  cases.push({
    boundary: 'api',
    name: 'POST /runs with a token in the query string instead of the header',
    input: {
      as: 'anonymous',
      method: 'POST',
      path: `/runs?token=${ctx.tokens.erin}`,
      headers: JSON_HEADERS,
      body: JSON.stringify(VALID_PLAN),
    },
    expect: { statuses: [401] },
  });
  cases.push({
    boundary: 'api',
    name: 'POST /runs with Basic credentials',
    input: {
      as: 'anonymous',
      method: 'POST',
      path: '/runs',
      headers: {
        ...JSON_HEADERS,
        authorization: `Basic ${Buffer.from('erin:erin').toString('base64')}`,
      },
      body: JSON.stringify(VALID_PLAN),
    },
    expect: { statuses: [401] },
  });
  return cases;
}

/** The API corpus in batches; the health and run count are checked after each. */
export function apiBatches(
  ctx: ApiContext,
): Array<{ name: string; cases: HttpCase[] }> {
  return [
    { name: 'authentication', cases: authCases(ctx) },
    { name: 'POST /runs fields', cases: createRunFieldCases(ctx) },
    { name: 'POST /runs bodies', cases: structuralBodyCases(ctx) },
    { name: 'run ids', cases: hostileIdCases(ctx) },
    { name: 'action bodies', cases: actionBodyCases(ctx) },
    { name: 'query strings', cases: queryCases(ctx) },
  ];
}
