import { createHash, randomUUID } from 'node:crypto';
import { AwsError, header, WireRequest, WireResponse } from './protocol';
import { FakeKms } from './kms';

/** An object as the fake S3 stores it. @public */
export interface FakeS3Object {
  body: Buffer;
  /** `x-amz-meta-*` headers, names without the prefix. */
  metadata: Record<string, string>;
  /** `x-amz-server-side-encryption` as stored (`aws:kms`, `AES256`). */
  sse?: string;
  /** The SSE-KMS key's ARN, whichever form the request named it in. */
  kmsKeyId?: string;
  contentType: string;
  /** Quoted MD5 of the body, as S3 returns it. */
  etag: string;
}

interface StoredObject extends FakeS3Object {
  lastModified: Date;
  /** The flexible checksum the upload carried (`x-amz-checksum-<algorithm>`). */
  checksum?: { header: string; value: string };
}

const CHECKSUM_HEADERS = [
  'x-amz-checksum-crc32',
  'x-amz-checksum-crc32c',
  'x-amz-checksum-crc64nvme',
  'x-amz-checksum-sha1',
  'x-amz-checksum-sha256',
];

/** The payload-hash values that announce an aws-chunked body. */
const STREAMING_PAYLOAD = /^STREAMING-/;

function xmlEscape(value: string): string {
  return value.replace(/[<>&'"]/g, c => `&#${c.charCodeAt(0)};`);
}

function notImplemented(what: string): AwsError {
  return new AwsError(
    501,
    'NotImplemented',
    `The fake S3 does not implement ${what}.`,
  );
}

/** The bucket and key a path-style request names (`/<bucket>/<key>`). */
function parsePath(rawPath: string): { bucket: string; key: string } {
  const [, bucket = '', ...rest] = rawPath.split('/');
  return {
    bucket: decodeURIComponent(bucket),
    key: decodeURIComponent(rest.join('/')),
  };
}

/** The S3 operation a REST request is, by method, path and query. */
export function s3Operation(request: WireRequest): string {
  const { key } = parsePath(request.rawPath);
  const query = new URLSearchParams(request.rawQuery);
  if (query.has('uploads') || query.has('uploadId')) return 'MultipartUpload';
  if (!key) {
    const bucketOps: Record<string, string> = {
      HEAD: 'HeadBucket',
      GET: 'ListObjects',
      PUT: 'CreateBucket',
      DELETE: 'DeleteBucket',
      POST: 'DeleteObjects',
    };
    return bucketOps[request.method] ?? request.method;
  }
  if (request.method === 'PUT' && header(request, 'x-amz-copy-source')) {
    return 'CopyObject';
  }
  const objectOps: Record<string, string> = {
    PUT: 'PutObject',
    GET: 'GetObject',
    HEAD: 'HeadObject',
    DELETE: 'DeleteObject',
  };
  return objectOps[request.method] ?? request.method;
}

/** S3's error shape: XML, and no body at all for a HEAD request. */
export function s3ErrorResponse(
  error: AwsError,
  request: WireRequest,
): WireResponse {
  const requestId = randomUUID().replace(/-/g, '').slice(0, 16).toUpperCase();
  const headers = {
    'content-type': 'application/xml',
    'x-amz-request-id': requestId,
  };
  if (request.method === 'HEAD') {
    return { status: error.status, headers };
  }
  const { key } = parsePath(request.rawPath);
  const body = [
    '<?xml version="1.0" encoding="UTF-8"?>\n<Error>',
    `<Code>${xmlEscape(error.code)}</Code>`,
    `<Message>${xmlEscape(error.message)}</Message>`,
    error.code === 'NoSuchKey' ? `<Key>${xmlEscape(key)}</Key>` : '',
    `<RequestId>${requestId}</RequestId><HostId>fake</HostId></Error>`,
  ].join('');
  return { status: error.status, headers, body };
}

/**
 * S3, path-style: PutObject, GetObject, HeadObject, DeleteObject and
 * HeadBucket on the configured buckets. The rest answers 501 NotImplemented,
 * so a test never mistakes a missing feature for a passing one.
 */
export class FakeS3 {
  private readonly buckets = new Map<string, Map<string, StoredObject>>();

  constructor(
    buckets: string[],
    private readonly options: {
      requireKmsEncryption: boolean;
      kms: FakeKms;
      region: string;
      accountId: string;
    },
  ) {
    for (const bucket of buckets) this.buckets.set(bucket, new Map());
  }

  object(bucket: string, key: string): FakeS3Object | undefined {
    const stored = this.buckets.get(bucket)?.get(key);
    if (!stored) return undefined;
    const { lastModified, checksum, ...object } = stored;
    return {
      ...object,
      body: Buffer.from(object.body),
      metadata: { ...object.metadata },
    };
  }

  /** Stores an object directly, past the bucket policy (a test's setup). */
  putObject(bucket: string, key: string, body: Buffer | string): void {
    const data = Buffer.from(body);
    this.bucket(bucket).set(key, {
      body: data,
      metadata: {},
      contentType: 'binary/octet-stream',
      etag: `"${createHash('md5').update(data).digest('hex')}"`,
      lastModified: new Date(),
    });
  }

  handle(request: WireRequest): WireResponse {
    const { bucket, key } = parsePath(request.rawPath);
    const operation = s3Operation(request);
    const objects = this.bucket(bucket);
    switch (operation) {
      case 'PutObject':
        return this.put(request, objects, key);
      case 'GetObject':
      case 'HeadObject':
        return this.get(request, objects, key);
      case 'DeleteObject':
        objects.delete(key);
        return { status: 204, headers: {} };
      case 'HeadBucket':
        return {
          status: 200,
          headers: { 'x-amz-bucket-region': this.options.region },
        };
      default:
        throw notImplemented(operation);
    }
  }

  private bucket(name: string): Map<string, StoredObject> {
    const objects = this.buckets.get(name);
    if (!objects) {
      throw new AwsError(
        404,
        'NoSuchBucket',
        'The specified bucket does not exist',
      );
    }
    return objects;
  }

  private put(
    request: WireRequest,
    objects: Map<string, StoredObject>,
    key: string,
  ): WireResponse {
    const { sse, kmsKeyId } = this.encryption(request, key);
    const body = decodeBody(request);
    const checksum = verifyChecksums(request, body.data, body.trailers);

    // Conditional writes are checked last, against what is stored when the
    // body has arrived: the object may have appeared meanwhile.
    const existing = objects.get(key);
    const ifNoneMatch = header(request, 'if-none-match');
    if (ifNoneMatch !== undefined) {
      if (ifNoneMatch !== '*') {
        throw notImplemented(
          `If-None-Match: ${ifNoneMatch} on PutObject (only *)`,
        );
      }
      if (existing) throw preconditionFailed('If-None-Match');
    }
    const ifMatch = header(request, 'if-match');
    if (ifMatch !== undefined) {
      if (!existing) {
        throw new AwsError(
          404,
          'NoSuchKey',
          'The specified key does not exist.',
        );
      }
      if (ifMatch !== existing.etag) throw preconditionFailed('If-Match');
    }

    const metadata: Record<string, string> = {};
    for (const [name, value] of Object.entries(request.headers)) {
      if (name.startsWith('x-amz-meta-') && typeof value === 'string') {
        metadata[name.slice('x-amz-meta-'.length)] = value;
      }
    }
    const stored: StoredObject = {
      body: body.data,
      metadata,
      sse,
      kmsKeyId,
      contentType: header(request, 'content-type') ?? 'binary/octet-stream',
      etag: `"${createHash('md5').update(body.data).digest('hex')}"`,
      lastModified: new Date(),
      checksum,
    };
    objects.set(key, stored);
    const headers: Record<string, string> = {
      etag: stored.etag,
      ...encryptionHeaders(stored),
    };
    if (checksum) headers[checksum.header] = checksum.value;
    return { status: 200, headers };
  }

  /**
   * The SSE the request asks for, checked as the bucket policy and S3 do:
   * the policy denies a PutObject whose `x-amz-server-side-encryption` is
   * not `aws:kms`, and S3 refuses a KMS key id it cannot find.
   */
  private encryption(
    request: WireRequest,
    key: string,
  ): { sse?: string; kmsKeyId?: string } {
    const sse = header(request, 'x-amz-server-side-encryption');
    const kmsKeyHeader = header(
      request,
      'x-amz-server-side-encryption-aws-kms-key-id',
    );
    if (
      sse !== undefined &&
      !['AES256', 'aws:kms', 'aws:kms:dsse'].includes(sse)
    ) {
      throw new AwsError(
        400,
        'InvalidArgument',
        `Server Side Encryption with value ${sse} not supported.`,
      );
    }
    if (kmsKeyHeader !== undefined && !sse?.startsWith('aws:kms')) {
      throw new AwsError(
        400,
        'InvalidArgument',
        'x-amz-server-side-encryption-aws-kms-key-id is only valid with x-amz-server-side-encryption: aws:kms.',
      );
    }
    if (this.options.requireKmsEncryption && sse !== 'aws:kms') {
      throw new AwsError(
        403,
        'AccessDenied',
        `Access Denied: not authorized to perform s3:PutObject on resource "${key}" with an explicit deny in a resource-based policy (the bucket requires x-amz-server-side-encryption: aws:kms, got ${
          sse ?? 'none'
        }).`,
      );
    }
    if (!sse?.startsWith('aws:kms')) return { sse };
    if (kmsKeyHeader === undefined) {
      // Without a key id S3 uses the account's AWS managed key.
      return {
        sse,
        kmsKeyId: `arn:aws:kms:${this.options.region}:${this.options.accountId}:alias/aws/s3`,
      };
    }
    let kmsKey;
    try {
      kmsKey = this.options.kms.resolve(kmsKeyHeader);
    } catch {
      throw new AwsError(
        400,
        'KMS.NotFoundException',
        `Invalid keyId '${kmsKeyHeader}'`,
      );
    }
    if (kmsKey.usage !== 'ENCRYPT_DECRYPT') {
      throw new AwsError(
        400,
        'KMS.InvalidKeyUsageException',
        `The KMS key ${kmsKey.keyArn} is not a symmetric encryption key (its usage is ${kmsKey.usage}).`,
      );
    }
    return { sse, kmsKeyId: kmsKey.keyArn };
  }

  private get(
    request: WireRequest,
    objects: Map<string, StoredObject>,
    key: string,
  ): WireResponse {
    for (const name of [
      'range',
      'if-match',
      'if-none-match',
      'if-modified-since',
      'if-unmodified-since',
    ]) {
      if (header(request, name) !== undefined) {
        throw notImplemented(`${name} on ${request.method}`);
      }
    }
    const object = objects.get(key);
    if (!object) {
      throw new AwsError(404, 'NoSuchKey', 'The specified key does not exist.');
    }
    const headers: Record<string, string> = {
      'content-type': object.contentType,
      'content-length': String(object.body.length),
      etag: object.etag,
      'last-modified': object.lastModified.toUTCString(),
      'accept-ranges': 'bytes',
      ...encryptionHeaders(object),
    };
    for (const [name, value] of Object.entries(object.metadata)) {
      headers[`x-amz-meta-${name}`] = value;
    }
    // S3 returns the stored checksum only when asked; the SDK asks by
    // default (responseChecksumValidation WHEN_SUPPORTED) and verifies the
    // body against it.
    if (
      object.checksum &&
      header(request, 'x-amz-checksum-mode') === 'ENABLED'
    ) {
      headers[object.checksum.header] = object.checksum.value;
    }
    return {
      status: 200,
      headers,
      body: request.method === 'HEAD' ? undefined : object.body,
    };
  }
}

function encryptionHeaders(object: FakeS3Object): Record<string, string> {
  const headers: Record<string, string> = {};
  if (object.sse) headers['x-amz-server-side-encryption'] = object.sse;
  if (object.kmsKeyId) {
    headers['x-amz-server-side-encryption-aws-kms-key-id'] = object.kmsKeyId;
  }
  return headers;
}

function preconditionFailed(condition: string): AwsError {
  return new AwsError(
    412,
    'PreconditionFailed',
    `At least one of the pre-conditions you specified did not hold (${condition}).`,
  );
}

/**
 * The object's bytes. client-s3 computes a CRC32 checksum for every upload
 * by default (requestChecksumCalculation WHEN_SUPPORTED since 3.729): a
 * Buffer or string body goes as is with an `x-amz-checksum-crc32` header,
 * but a stream body goes `aws-chunked` — HTTP chunked transfer on the
 * outside, and inside `<hex size>\r\n<bytes>\r\n` chunks, a `0\r\n` chunk
 * and the checksum as a trailer (`x-amz-checksum-crc32:<base64>\r\n\r\n`),
 * with `x-amz-content-sha256: STREAMING-UNSIGNED-PAYLOAD-TRAILER` and the
 * real length in `x-amz-decoded-content-length`. Storing that body as it
 * came would corrupt every streamed object.
 */
function decodeBody(request: WireRequest): {
  data: Buffer;
  trailers: Record<string, string>;
} {
  const payloadHash = header(request, 'x-amz-content-sha256') ?? '';
  const encodings = (header(request, 'content-encoding') ?? '')
    .split(',')
    .map(e => e.trim());
  if (
    !encodings.includes('aws-chunked') &&
    !STREAMING_PAYLOAD.test(payloadHash)
  ) {
    if (
      /^[0-9a-f]{64}$/.test(payloadHash) &&
      createHash('sha256').update(request.body).digest('hex') !== payloadHash
    ) {
      throw new AwsError(
        400,
        'XAmzContentSHA256Mismatch',
        "The provided 'x-amz-content-sha256' header does not match what was computed.",
      );
    }
    return { data: request.body, trailers: {} };
  }
  const decoded = decodeAwsChunked(request.body);
  const declared = header(request, 'x-amz-decoded-content-length');
  if (declared === undefined) {
    throw new AwsError(
      411,
      'MissingContentLength',
      'You must provide the Content-Length HTTP header (x-amz-decoded-content-length).',
    );
  }
  if (Number(declared) !== decoded.data.length) {
    throw new AwsError(
      400,
      'IncompleteBody',
      `You did not provide the number of bytes specified by x-amz-decoded-content-length (${declared}, got ${decoded.data.length}).`,
    );
  }
  return decoded;
}

function malformedChunks(detail: string): AwsError {
  return new AwsError(
    400,
    'InvalidRequest',
    `Malformed aws-chunked body: ${detail}`,
  );
}

/** Decodes an aws-chunked body (chunk signatures, if any, are not checked). */
export function decodeAwsChunked(body: Buffer): {
  data: Buffer;
  trailers: Record<string, string>;
} {
  const chunks: Buffer[] = [];
  let offset = 0;
  for (;;) {
    const lineEnd = body.indexOf('\r\n', offset);
    if (lineEnd < 0) throw malformedChunks('missing chunk header');
    // `<hex size>` or, for signed chunks, `<hex size>;chunk-signature=<sig>`.
    const sizeField = body.toString('latin1', offset, lineEnd).split(';')[0];
    if (!/^[0-9a-fA-F]+$/.test(sizeField)) {
      throw malformedChunks(`bad chunk size '${sizeField}'`);
    }
    const size = parseInt(sizeField, 16);
    offset = lineEnd + 2;
    if (size === 0) break;
    if (
      offset + size + 2 > body.length ||
      body.toString('latin1', offset + size, offset + size + 2) !== '\r\n'
    ) {
      throw malformedChunks('chunk shorter than its size');
    }
    chunks.push(body.subarray(offset, offset + size));
    offset += size + 2;
  }
  const trailers: Record<string, string> = {};
  while (offset < body.length) {
    let lineEnd = body.indexOf('\r\n', offset);
    if (lineEnd < 0) lineEnd = body.length;
    const line = body.toString('latin1', offset, lineEnd);
    offset = lineEnd + 2;
    if (line === '') break;
    const colon = line.indexOf(':');
    if (colon < 0) throw malformedChunks(`bad trailer '${line}'`);
    trailers[line.slice(0, colon).trim().toLowerCase()] = line
      .slice(colon + 1)
      .trim();
  }
  return { data: Buffer.concat(chunks), trailers };
}

/**
 * Checks the integrity headers S3 checks — Content-MD5 and the flexible
 * checksum, from a header or an aws-chunked trailer — and returns the
 * checksum to store. CRC32C and CRC64NVME are stored unchecked (node:crypto
 * has neither).
 */
function verifyChecksums(
  request: WireRequest,
  data: Buffer,
  trailers: Record<string, string>,
): StoredObject['checksum'] {
  const md5 = header(request, 'content-md5');
  if (
    md5 !== undefined &&
    createHash('md5').update(data).digest('base64') !== md5
  ) {
    throw new AwsError(
      400,
      'BadDigest',
      'The Content-MD5 you specified did not match what we received.',
    );
  }
  const name = CHECKSUM_HEADERS.find(
    h => header(request, h) !== undefined || trailers[h] !== undefined,
  );
  if (!name) return undefined;
  const value = (header(request, name) ?? trailers[name])!;
  const algorithm = name.slice('x-amz-checksum-'.length);
  const computed = computeChecksum(algorithm, data);
  if (computed !== undefined && computed !== value) {
    throw new AwsError(
      400,
      'BadDigest',
      `The ${algorithm.toUpperCase()} you specified did not match the calculated checksum.`,
    );
  }
  return { header: name, value };
}

function computeChecksum(algorithm: string, data: Buffer): string | undefined {
  switch (algorithm) {
    case 'crc32': {
      const checksum = Buffer.alloc(4);
      checksum.writeUInt32BE(crc32(data));
      return checksum.toString('base64');
    }
    case 'sha1':
    case 'sha256':
      return createHash(algorithm).update(data).digest('base64');
    default:
      return undefined;
  }
}

const CRC32_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k += 1) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

/** CRC-32 (IEEE), the SDK's default checksum (zlib.crc32 is Node ≥ 20.15 only). */
export function crc32(data: Buffer): number {
  let crc = 0xffffffff;
  for (const byte of data) crc = CRC32_TABLE[(crc ^ byte) & 0xff] ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}
