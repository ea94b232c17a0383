import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { IncomingHttpHeaders } from 'node:http';

/** The AWS services the fake speaks. @public */
export type FakeAwsService = 'ecs' | 'logs' | 's3' | 'kms';

/** A request as the fake sees it, its whole body read. */
export interface WireRequest {
  method: string;
  /** The path exactly as sent, still percent-encoded (SigV4 signs it so for S3). */
  rawPath: string;
  /** The query string without `?`, as sent. */
  rawQuery: string;
  /** Node lower-cases header names. */
  headers: IncomingHttpHeaders;
  body: Buffer;
}

export interface WireResponse {
  status: number;
  headers: Record<string, string>;
  body?: Buffer | string;
}

/**
 * An error as a service answers it. Each service renders it in its own wire
 * shape: JSON `__type` for ECS, Logs and KMS, `<Error><Code>` XML for S3.
 * The SDK names the exception it throws after `code`.
 */
export class AwsError extends Error {
  constructor(readonly status: number, readonly code: string, message: string) {
    super(message);
  }
}

/** A JSON 1.1 operation: the parsed request body in, the response body out. */
export type JsonOperation = (input: WireInput) => unknown;
export type JsonOperations = Record<string, JsonOperation>;

/** The `X-Amz-Target` prefixes of the JSON 1.1 services the fake speaks. */
export const JSON_TARGETS: Record<string, Exclude<FakeAwsService, 's3'>> = {
  AmazonEC2ContainerServiceV20141113: 'ecs',
  Logs_20140328: 'logs',
  TrentService: 'kms',
};

export function jsonResponse(body: unknown, status = 200): WireResponse {
  return {
    status,
    headers: { 'content-type': 'application/x-amz-json-1.1' },
    body: JSON.stringify(body ?? {}),
  };
}

export function jsonErrorResponse(error: AwsError): WireResponse {
  return jsonResponse(
    { __type: error.code, message: error.message },
    error.status,
  );
}

/**
 * Typed reads from a JSON request body. A member of the wrong type is the
 * service's validation error, as AWS answers a hand-made request (the SDK
 * itself never sends one).
 */
export class WireInput {
  constructor(
    readonly value: Record<string, unknown>,
    private readonly invalid: (message: string) => AwsError,
  ) {}

  raw(name: string): unknown {
    return this.value[name];
  }

  has(name: string): boolean {
    return this.value[name] !== undefined && this.value[name] !== null;
  }

  string(name: string): string | undefined {
    const value = this.value[name];
    if (value === undefined || value === null) return undefined;
    if (typeof value !== 'string') {
      throw this.invalid(`${name} must be a string`);
    }
    return value;
  }

  requiredString(name: string): string {
    const value = this.string(name);
    if (value === undefined || value === '') {
      throw this.invalid(`${name} can not be blank.`);
    }
    return value;
  }

  number(name: string): number | undefined {
    const value = this.value[name];
    if (value === undefined || value === null) return undefined;
    if (typeof value !== 'number') {
      throw this.invalid(`${name} must be a number`);
    }
    return value;
  }

  boolean(name: string): boolean | undefined {
    const value = this.value[name];
    if (value === undefined || value === null) return undefined;
    if (typeof value !== 'boolean') {
      throw this.invalid(`${name} must be a boolean`);
    }
    return value;
  }

  array(name: string): unknown[] | undefined {
    const value = this.value[name];
    if (value === undefined || value === null) return undefined;
    if (!Array.isArray(value)) throw this.invalid(`${name} must be a list`);
    return value;
  }

  object(name: string): WireInput | undefined {
    const value = this.value[name];
    if (value === undefined || value === null) return undefined;
    return this.wrap(value, name);
  }

  /** Wraps a nested value (a list element) with the same error shape. */
  wrap(value: unknown, name: string): WireInput {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      throw this.invalid(`${name} must be a structure`);
    }
    return new WireInput(value as Record<string, unknown>, this.invalid);
  }
}

// --- SigV4 -----------------------------------------------------------------

/** Why a request's signature was refused; each service words it its own way. */
export type AuthFailure =
  | { reason: 'missing'; detail: string }
  | { reason: 'unknownAccessKey'; detail: string }
  | { reason: 'invalidToken'; detail: string }
  | { reason: 'wrongScope'; detail: string }
  | { reason: 'expired'; detail: string }
  | { reason: 'badSignature'; detail: string };

export interface SigningIdentity {
  accessKeyId: string;
  secretAccessKey: string;
  region: string;
  /** Session tokens handed out by the container credentials endpoint. */
  isSessionToken(token: string): boolean;
}

const AUTHORIZATION =
  /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, ?SignedHeaders=([a-z0-9;-]+), ?Signature=([0-9a-f]{64})$/;

/** AWS refuses a signature dated more than 15 minutes from its clock. */
const MAX_CLOCK_SKEW_MS = 15 * 60 * 1000;

/**
 * Verifies a request's SigV4 signature (header form) the way AWS does:
 * access key, credential scope (date, region, service), clock skew,
 * session token, then the signature over the canonical request. Presigned
 * (query-string) requests are not supported: nothing here sends them.
 *
 * `service` is the signing name: `ecs`, `logs`, `kms`, `s3`.
 */
export function verifySigV4(
  request: WireRequest,
  service: FakeAwsService,
  identity: SigningIdentity,
  now = Date.now(),
): AuthFailure | undefined {
  const authorization = header(request, 'authorization');
  if (!authorization) {
    return { reason: 'missing', detail: 'Missing Authentication Token' };
  }
  const match = AUTHORIZATION.exec(authorization);
  if (!match) {
    return {
      reason: 'badSignature',
      detail: 'Authorization header is not a SigV4 header.',
    };
  }
  const [
    ,
    accessKeyId,
    scopeDate,
    scopeRegion,
    scopeService,
    signedHeaderList,
    signature,
  ] = match;
  if (accessKeyId !== identity.accessKeyId) {
    return {
      reason: 'unknownAccessKey',
      detail: `The access key id ${accessKeyId} is not the fake's (${identity.accessKeyId}).`,
    };
  }
  const token = header(request, 'x-amz-security-token');
  if (token !== undefined && !identity.isSessionToken(token)) {
    return {
      reason: 'invalidToken',
      detail: 'The security token included in the request is invalid.',
    };
  }
  if (scopeRegion !== identity.region || scopeService !== service) {
    return {
      reason: 'wrongScope',
      detail: `Credential should be scoped to a valid region and service: got '${scopeRegion}/${scopeService}', expecting '${identity.region}/${service}'.`,
    };
  }
  const amzDate = header(request, 'x-amz-date') ?? '';
  const signedAt = Date.parse(
    amzDate.replace(
      /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/,
      '$1-$2-$3T$4:$5:$6Z',
    ),
  );
  if (Number.isNaN(signedAt) || !amzDate.startsWith(scopeDate)) {
    return {
      reason: 'badSignature',
      detail: 'X-Amz-Date is missing or does not match the credential scope.',
    };
  }
  if (Math.abs(now - signedAt) > MAX_CLOCK_SKEW_MS) {
    return {
      reason: 'expired',
      detail: `Signature expired: ${amzDate} is more than 15 minutes from the server's time.`,
    };
  }

  const signedHeaders = signedHeaderList.split(';');
  if (!signedHeaders.includes('host')) {
    return {
      reason: 'badSignature',
      detail: 'The host header must be signed.',
    };
  }
  const canonicalRequest = [
    request.method,
    canonicalPath(request.rawPath, service),
    canonicalQuery(request.rawQuery),
    ...signedHeaders.map(
      name => `${name}:${canonicalHeaderValue(request.headers[name])}`,
    ),
    '',
    signedHeaderList,
    // S3 says what it signed (a hex SHA-256, UNSIGNED-PAYLOAD or a
    // STREAMING-* marker); the other services sign the body's hash.
    header(request, 'x-amz-content-sha256') ?? sha256Hex(request.body),
  ].join('\n');
  const scope = `${scopeDate}/${scopeRegion}/${scopeService}/aws4_request`;
  const stringToSign = [
    'AWS4-HMAC-SHA256',
    amzDate,
    scope,
    sha256Hex(canonicalRequest),
  ].join('\n');
  let key = hmac(`AWS4${identity.secretAccessKey}`, scopeDate);
  for (const part of [scopeRegion, scopeService, 'aws4_request']) {
    key = hmac(key, part);
  }
  const expected = hmac(key, stringToSign);
  if (!timingSafeEqual(expected, Buffer.from(signature, 'hex'))) {
    return {
      reason: 'badSignature',
      detail:
        'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method.',
    };
  }
  return undefined;
}

export function header(request: WireRequest, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value.join(',') : value;
}

export function sha256Hex(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('hex');
}

function hmac(key: Buffer | string, data: string): Buffer {
  return createHmac('sha256', key).update(data).digest();
}

/** RFC 3986 encoding, as the SDK's signer escapes (encodeURIComponent leaves !'()* alone). */
function escapeUri(value: string): string {
  return encodeURIComponent(value).replace(
    /[!'()*]/g,
    c => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}

function canonicalPath(rawPath: string, service: FakeAwsService): string {
  // S3 signs the path as sent. Every other service signs it normalised and
  // encoded once more (AWS's "double encoding"); their path is always "/".
  if (service === 's3') return rawPath;
  const segments: string[] = [];
  for (const segment of rawPath.split('/')) {
    if (segment === '' || segment === '.') continue;
    if (segment === '..') segments.pop();
    else segments.push(segment);
  }
  const trailing = segments.length > 0 && rawPath.endsWith('/') ? '/' : '';
  return escapeUri(`/${segments.join('/')}${trailing}`).replace(/%2F/g, '/');
}

function canonicalQuery(rawQuery: string): string {
  if (!rawQuery) return '';
  return rawQuery
    .split('&')
    .filter(pair => pair !== '')
    .map(pair => {
      const at = pair.indexOf('=');
      const name = decodeURIComponent(at < 0 ? pair : pair.slice(0, at));
      const value = at < 0 ? '' : decodeURIComponent(pair.slice(at + 1));
      return [escapeUri(name), escapeUri(value)] as const;
    })
    .filter(([name]) => name.toLowerCase() !== 'x-amz-signature')
    .sort(([a, av], [b, bv]) => (a === b ? compare(av, bv) : compare(a, b)))
    .map(([name, value]) => `${name}=${value}`)
    .join('&');
}

function compare(a: string, b: string): number {
  if (a < b) return -1;
  return a > b ? 1 : 0;
}

function canonicalHeaderValue(value: string | string[] | undefined): string {
  const joined = Array.isArray(value) ? value.join(',') : value ?? '';
  return joined.trim().replace(/\s+/g, ' ');
}
