import { quote } from '@sealed-runner/backstage-plugin-sealed-runner-common';
import { randomUUID } from 'node:crypto';
import { link, mkdir, readFile, unlink, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import {
  GetObjectCommand,
  NoSuchKey,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import { RunnerConfig } from '@sealed-runner/backstage-plugin-sealed-runner-common/runner';

/**
 * What must outlive one runner: saved plans (an apply runs in another
 * process, on ECS in another task) and the markers of jobs already
 * accepted (single use). Keys are per environment, so each environment's
 * identity can be limited to its own: `plans/<env>/<runId>.tfplan` (and
 * `.tfplan.json`, its binding) and `seen-jobs/<env>/<runId>`; the ECS
 * runner also reads its job from `jobs/<env>/<runId>.json`. Nothing is ever
 * overwritten: every object is created exclusively.
 */
export interface ArtifactStore {
  /** The object's bytes, undefined if it does not exist; throws above `maxBytes`. */
  read(key: string, maxBytes: number): Promise<Buffer | undefined>;
  /** Creates an object exclusively: false if it already existed. */
  create(key: string, data?: Buffer | string): Promise<boolean>;
}

/** Keys are fixed by the runner; this guards against ever building another. */
const KEY =
  /^(jobs|plans|seen-jobs)\/[a-z0-9](?:[a-z0-9-]{0,30}[a-z0-9])?\/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}(\.tfplan|\.tfplan\.json|\.json)?$/;

function checkKey(key: string): string {
  if (!KEY.test(key)) {
    throw new Error(`not an artifact key: ${quote(key, 100)}`);
  }
  return key;
}

/** Local directories: the embedded default, where backend and runner share a host. */
export class LocalArtifactStore implements ArtifactStore {
  constructor(private readonly dirs: { plans: string; 'seen-jobs': string }) {}

  private path(key: string): string {
    const [prefix, environment, name] = checkKey(key).split('/');
    if (prefix === 'jobs') {
      throw new Error('the local runner reads its job on stdin');
    }
    return join(this.dirs[prefix as 'plans' | 'seen-jobs'], environment, name);
  }

  async read(key: string, maxBytes: number): Promise<Buffer | undefined> {
    const bytes = await readFile(this.path(key)).catch(error => {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
        return undefined;
      }
      throw error;
    });
    if (bytes && bytes.length > maxBytes) {
      throw new Error(`${key} is larger than ${maxBytes} bytes`);
    }
    return bytes;
  }

  async create(
    key: string,
    data: Buffer | string = Buffer.alloc(0),
  ): Promise<boolean> {
    const path = this.path(key);
    await mkdir(dirname(path), { recursive: true, mode: 0o700 });
    // Written whole under a private name, then linked into place: link()
    // fails if the key exists, so an object appears complete or not at all.
    const partial = `${path}.${randomUUID()}.partial`;
    await writeFile(partial, data, { mode: 0o600, flag: 'wx' });
    try {
      await link(partial, path);
      return true;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EEXIST') {
        return false;
      }
      throw error;
    } finally {
      await unlink(partial);
    }
  }
}

/**
 * The artifacts bucket of the ECS runner. Every object is written with
 * SSE-KMS under the runner's key (the bucket policy refuses anything
 * else); the backend may write `jobs/` but never read `plans/`.
 */
export class S3ArtifactStore implements ArtifactStore {
  constructor(
    private readonly client: S3Client,
    private readonly bucket: string,
    private readonly kmsKeyId: string,
  ) {}

  static fromConfig(
    artifacts: NonNullable<RunnerConfig['artifacts']>,
  ): S3ArtifactStore {
    const client = new S3Client({
      region: artifacts.region,
      ...(artifacts.endpoint
        ? { endpoint: artifacts.endpoint, forcePathStyle: true }
        : {}),
    });
    return new S3ArtifactStore(client, artifacts.bucket, artifacts.kmsKeyId);
  }

  async read(key: string, maxBytes: number): Promise<Buffer | undefined> {
    let response;
    try {
      response = await this.client.send(
        new GetObjectCommand({ Bucket: this.bucket, Key: checkKey(key) }),
      );
    } catch (error) {
      if (error instanceof NoSuchKey) {
        return undefined;
      }
      throw error;
    }
    if ((response.ContentLength ?? 0) > maxBytes) {
      response.Body?.transformToWebStream().cancel();
      throw new Error(`${key} is larger than ${maxBytes} bytes`);
    }
    return Buffer.from(await response.Body!.transformToByteArray());
  }

  async create(
    key: string,
    data: Buffer | string = Buffer.alloc(0),
  ): Promise<boolean> {
    try {
      await this.client.send(
        new PutObjectCommand({
          Bucket: this.bucket,
          Key: checkKey(key),
          Body: data,
          ContentLength: Buffer.byteLength(data),
          // Create-only: the bucket policy refuses a plans/ or seen-jobs/
          // write without it, so no identity can replace an object.
          IfNoneMatch: '*',
          ServerSideEncryption: 'aws:kms',
          SSEKMSKeyId: this.kmsKeyId,
        }),
      );
      return true;
    } catch (error) {
      // 412: the object exists. 409: a concurrent conditional write of the
      // same key is in flight — the other writer wins either way.
      const status = (error as S3ServiceException).$metadata?.httpStatusCode;
      if (status === 412 || status === 409) {
        return false;
      }
      throw error;
    }
  }
}

/** The store the runner's configuration names. */
export function artifactStore(config: RunnerConfig): ArtifactStore {
  return config.artifacts
    ? S3ArtifactStore.fromConfig(config.artifacts)
    : new LocalArtifactStore({
        plans: config.planDir,
        'seen-jobs': config.seenJobsDir,
      });
}
