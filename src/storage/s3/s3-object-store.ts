import {
  CopyObjectCommand,
  CreateBucketCommand,
  DeleteBucketCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  type S3Client,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import type { Readable } from 'node:stream';
import type { ObjectInfo, ObjectStore, PutObjectOptions } from '../ports.js';
import { assertSafeKey } from '../object-keys.js';
import { errorName, guard } from '../sdk-errors.js';
import { applyProjectBucketLifecycle } from './bucket-lifecycle.js';

export interface S3ObjectStoreOptions {
  /** Days an ingested upload stays under processed/ (a lifecycle rule); 0 keeps it. Unset: no rules are set. */
  processedRetentionDays?: number;
  /** Days an export job's objects stay under exports/ (a lifecycle rule); 0 or unset keeps them. */
  exportRetentionDays?: number;
  /** Something worth a warning in the log that is not a failure (a store without lifecycle support). */
  onWarning?: (message: string, fields: Record<string, unknown>) => void;
}

const PART_SIZE = 8 * 1024 * 1024;

function isNotFound(error: unknown): boolean {
  const name = errorName(error);
  const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
  return name === 'NotFound' || name === 'NoSuchKey' || name === 'NoSuchBucket' || status === 404;
}

export class S3ObjectStore implements ObjectStore {
  constructor(
    private readonly client: S3Client,
    private readonly region: string,
    /** A bucket name under the service's prefix used only to prove S3 answers. */
    private readonly probeBucket: string,
    private readonly options: S3ObjectStoreOptions = {},
  ) {}

  async ensureBucket(bucket: string): Promise<void> {
    await guard(async () => {
      try {
        await this.client.send(new HeadBucketCommand({ Bucket: bucket }));
        return;
      } catch (error) {
        if (!isNotFound(error)) throw error;
      }
      try {
        await this.client.send(
          new CreateBucketCommand({
            Bucket: bucket,
            // us-east-1 is the one region that refuses an explicit location constraint.
            CreateBucketConfiguration:
              this.region === 'us-east-1' ? undefined : { LocationConstraint: this.region as never },
          }),
        );
      } catch (error) {
        if (errorName(error) !== 'BucketAlreadyOwnedByYou') throw error;
      }
    });
    await this.applyLifecycle(bucket);
  }

  /** Every ensure sets the rules again, so a changed retention reaches the bucket. */
  private async applyLifecycle(bucket: string): Promise<void> {
    const days = this.options.processedRetentionDays;
    if (days === undefined) return;
    await guard(() =>
      applyProjectBucketLifecycle(this.client, bucket, days, (error) =>
        this.options.onWarning?.('this S3 store has no lifecycle support: processed/ objects are kept (and exports/ ones), incomplete uploads not aborted', {
          event: 'bucket_lifecycle_unsupported',
          bucket,
          error: errorName(error) ?? String(error),
        }),
        this.options.exportRetentionDays ?? 0,
      ),
    );
  }

  async putStream(bucket: string, key: string, body: Readable, options: PutObjectOptions = {}): Promise<void> {
    const upload = new Upload({
      client: this.client,
      params: {
        Bucket: bucket,
        Key: assertSafeKey(key),
        Body: body,
        ContentType: options.contentType,
        Metadata: options.metadata,
      },
      partSize: PART_SIZE,
      queueSize: 4,
      // A failed multipart upload is aborted so no parts or object stay behind.
      leavePartsOnError: false,
    });
    const onAbort = () => void upload.abort().catch(() => undefined);
    options.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      if (options.signal?.aborted) throw options.signal.reason ?? new Error('aborted');
      await guard(() => upload.done());
    } catch (error) {
      // A stream error after a single-part upload started can still leave an object in some
      // S3 implementations: remove whatever is there under this fresh key.
      await this.delete(bucket, key).catch(() => undefined);
      throw error;
    } finally {
      options.signal?.removeEventListener('abort', onAbort);
    }
  }

  async getStream(bucket: string, key: string, options: { start?: number } = {}): Promise<Readable> {
    return guard(async () => {
      const out = await this.client.send(
        new GetObjectCommand({
          Bucket: bucket,
          Key: assertSafeKey(key),
          Range: options.start ? `bytes=${options.start}-` : undefined,
        }),
      );
      return out.Body as Readable;
    });
  }

  async head(bucket: string, key: string): Promise<ObjectInfo | null> {
    return guard(async () => {
      try {
        const out = await this.client.send(new HeadObjectCommand({ Bucket: bucket, Key: assertSafeKey(key) }));
        return {
          key,
          size: out.ContentLength ?? 0,
          lastModified: out.LastModified ?? new Date(0),
          etag: out.ETag,
          contentType: out.ContentType,
          metadata: out.Metadata,
        };
      } catch (error) {
        if (isNotFound(error)) return null;
        throw error;
      }
    });
  }

  async *list(bucket: string, prefix: string): AsyncIterable<ObjectInfo[]> {
    let token: string | undefined;
    do {
      const out = await guard(() =>
        this.client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token })),
      );
      yield (out.Contents ?? []).map((o) => ({
        key: o.Key ?? '',
        size: o.Size ?? 0,
        lastModified: o.LastModified ?? new Date(0),
        etag: o.ETag,
      }));
      token = out.IsTruncated ? out.NextContinuationToken : undefined;
    } while (token);
  }

  async move(bucket: string, fromKey: string, toKey: string): Promise<void> {
    await guard(async () => {
      try {
        const source = `${bucket}/${assertSafeKey(fromKey).split('/').map(encodeURIComponent).join('/')}`;
        await this.client.send(
          new CopyObjectCommand({ Bucket: bucket, Key: assertSafeKey(toKey), CopySource: source }),
        );
      } catch (error) {
        // A retried move whose first attempt already completed finds no source: fine if the target exists.
        if (isNotFound(error) && (await this.head(bucket, toKey))) return;
        throw error;
      }
      await this.client.send(new DeleteObjectCommand({ Bucket: bucket, Key: fromKey }));
    });
  }

  async delete(bucket: string, key: string): Promise<void> {
    await guard(() => this.client.send(new DeleteObjectCommand({ Bucket: bucket, Key: assertSafeKey(key) })));
  }

  async emptyBucket(bucket: string): Promise<number> {
    return guard(async () => {
      let keys: string[];
      try {
        const out = await this.client.send(new ListObjectsV2Command({ Bucket: bucket, MaxKeys: 1000 }));
        keys = (out.Contents ?? []).map((o) => o.Key!).filter((key) => key !== undefined);
      } catch (error) {
        if (isNotFound(error)) return 0;
        throw error;
      }
      if (keys.length === 0) return 0;
      await this.client.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: keys.map((Key) => ({ Key })), Quiet: true } }));
      return keys.length;
    });
  }

  async deleteBucket(bucket: string): Promise<void> {
    await guard(async () => {
      try {
        await this.client.send(new DeleteBucketCommand({ Bucket: bucket }));
      } catch (error) {
        if (!isNotFound(error)) throw error;
      }
    });
  }

  async ping(): Promise<void> {
    await guard(async () => {
      try {
        await this.client.send(new HeadBucketCommand({ Bucket: this.probeBucket }));
      } catch (error) {
        // Any HTTP answer (404 missing, 403 someone else's, 301 other region) proves S3 is reachable.
        const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
        if (status !== undefined && status < 500) return;
        throw error;
      }
    });
  }
}
