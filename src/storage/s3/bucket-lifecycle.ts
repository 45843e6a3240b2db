import { PutBucketLifecycleConfigurationCommand, type LifecycleRule, type S3Client } from '@aws-sdk/client-s3';
import { PREFIXES } from '../object-keys.js';
import { errorName } from '../sdk-errors.js';

/** Days after which S3 removes the parts of a multipart upload that never completed (a crashed task's). */
const ABORT_INCOMPLETE_UPLOAD_DAYS = 1;

/**
 * The lifecycle rules of a project bucket. Putting a lifecycle configuration replaces the
 * whole of it, so it always says everything: incomplete multipart uploads are aborted, and
 * ingested uploads under processed/ expire after `processedRetentionDays` (no such rule
 * when it is 0: they are kept for good), and so do export jobs' objects under exports/ after
 * `exportRetentionDays`.
 */
export function projectBucketLifecycle(bucket: string, processedRetentionDays: number, exportRetentionDays = 0) {
  const rules: LifecycleRule[] = [
    {
      ID: 'intake-abort-incomplete-uploads',
      Status: 'Enabled',
      Filter: { Prefix: '' },
      AbortIncompleteMultipartUpload: { DaysAfterInitiation: ABORT_INCOMPLETE_UPLOAD_DAYS },
    },
  ];
  if (processedRetentionDays > 0) {
    rules.push({
      ID: 'intake-processed-retention',
      Status: 'Enabled',
      Filter: { Prefix: PREFIXES.processed },
      Expiration: { Days: processedRetentionDays },
    });
  }
  if (exportRetentionDays > 0) {
    rules.push({ ID: 'intake-export-retention', Status: 'Enabled', Filter: { Prefix: PREFIXES.exports }, Expiration: { Days: exportRetentionDays } });
  }
  return { Bucket: bucket, LifecycleConfiguration: { Rules: rules } };
}

/** S3-compatible stores (emulators, some appliances) that have no lifecycle support answer so. */
export function isLifecycleUnsupported(error: unknown): boolean {
  const status = (error as { $metadata?: { httpStatusCode?: number } } | null)?.$metadata?.httpStatusCode;
  return errorName(error) === 'NotImplemented' || status === 501;
}

/**
 * Sets the bucket's lifecycle rules. A store without lifecycle support is told apart from a
 * failure: the bucket is used as it is (nothing expires there) and `onUnsupported` is told,
 * for the log. Every other error is thrown.
 */
export async function applyProjectBucketLifecycle(
  client: S3Client,
  bucket: string,
  processedRetentionDays: number,
  onUnsupported: (error: unknown) => void,
  exportRetentionDays = 0,
): Promise<'applied' | 'unsupported'> {
  try {
    await client.send(new PutBucketLifecycleConfigurationCommand(projectBucketLifecycle(bucket, processedRetentionDays, exportRetentionDays)));
    return 'applied';
  } catch (error) {
    if (!isLifecycleUnsupported(error)) throw error;
    onUnsupported(error);
    return 'unsupported';
  }
}
