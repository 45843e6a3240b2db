import { Aws, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type { IConstruct } from 'constructs';

/**
 * What the Intake process itself may do in AWS, and nothing more.
 *
 * Intake creates its storage at run time: the control table `<prefix>control` at start,
 * and per project a table `<prefix><projectId>-records` and a bucket
 * `<prefix><projectId>`. So the role may create tables and buckets, but only under
 * the prefix, and it holds no admin action (no UpdateTable, no policies, no ACLs, no `*`).
 * Deleting a project through the API drops its records table and its bucket: DeleteTable
 * is granted on project record tables only (`<prefix>*-records`, never the control
 * table), DeleteBucket on the account's buckets under the prefix. Every statement names
 * its actions one by one.
 *
 * The lists are exactly the calls the adapters in src/storage/dynamodb and src/storage/s3 make;
 * test/unit/infra.test.ts reads those adapters and fails when the two drift apart, so a
 * new SDK call is granted here deliberately rather than found by AccessDenied in AWS.
 */
export const DYNAMODB_ACTIONS = [
  'dynamodb:CreateTable',
  'dynamodb:DescribeTable',
  'dynamodb:GetItem',
  'dynamodb:PutItem',
  'dynamodb:UpdateItem',
  // Deleting a record, erasing a customer's idempotency claims, dropping a quarantine entry.
  'dynamodb:DeleteItem',
  'dynamodb:Query',
  'dynamodb:Scan',
  'dynamodb:BatchWriteItem',
  'dynamodb:BatchGetItem',
  // The control table's TTL, turned on by the service when a table lacks it.
  'dynamodb:DescribeTimeToLive',
  'dynamodb:UpdateTimeToLive',
] as const;

/**
 * Bucket-level actions; ListBucket covers HeadBucket and ListObjectsV2. PutLifecycleConfiguration
 * is how a project bucket gets its rules (processed/ retention, incomplete multipart uploads).
 */
export const S3_BUCKET_ACTIONS = ['s3:ListBucket', 's3:PutLifecycleConfiguration'] as const;

/**
 * Object-level actions. PutObject covers the multipart Create/UploadPart/Complete calls
 * of lib-storage's Upload, which aborts (AbortMultipartUpload) when an upload fails;
 * GetObject covers HeadObject and, with PutObject, CopyObject.
 */
export const S3_OBJECT_ACTIONS = ['s3:GetObject', 's3:PutObject', 's3:DeleteObject', 's3:AbortMultipartUpload'] as const;

export interface PrefixArns {
  readonly tables: string;
  /** Project record tables only, `<prefix>*-records`: what a project's deletion may drop. */
  readonly projectTables: string;
  readonly tableIndexes: string;
  readonly buckets: string;
  readonly objects: string;
}

/** The four resource patterns the task role is limited to. */
export function prefixArns(scope: IConstruct, namePrefix: string): PrefixArns {
  const stack = Stack.of(scope);
  const tables = stack.formatArn({ service: 'dynamodb', resource: 'table', resourceName: `${namePrefix}*` });
  return {
    tables,
    projectTables: stack.formatArn({ service: 'dynamodb', resource: 'table', resourceName: `${namePrefix}*-records` }),
    tableIndexes: `${tables}/index/*`,
    buckets: `arn:${Aws.PARTITION}:s3:::${namePrefix}*`,
    objects: `arn:${Aws.PARTITION}:s3:::${namePrefix}*/*`,
  };
}

export function grantIntakeStorage(role: iam.IRole, namePrefix: string): PrefixArns {
  const arns = prefixArns(role, namePrefix);
  role.addToPrincipalPolicy(
    new iam.PolicyStatement({
      sid: 'IntakeTables',
      actions: [...DYNAMODB_ACTIONS],
      resources: [arns.tables, arns.tableIndexes],
    }),
  );
  // CreateBucket stands alone: the bucket has no owner yet, so the account condition
  // below cannot apply to it.
  role.addToPrincipalPolicy(
    new iam.PolicyStatement({
      sid: 'IntakeCreateBuckets',
      actions: ['s3:CreateBucket'],
      resources: [arns.buckets],
    }),
  );
  // Bucket names are global: `<prefix>*` also matches other accounts' buckets. The
  // account condition keeps the role on buckets this account owns.
  const ownAccount = { StringEquals: { 's3:ResourceAccount': Aws.ACCOUNT_ID } };
  role.addToPrincipalPolicy(
    new iam.PolicyStatement({
      sid: 'IntakeBuckets',
      actions: [...S3_BUCKET_ACTIONS],
      resources: [arns.buckets],
      conditions: ownAccount,
    }),
  );
  // A project's deletion: its records table (the control table does not end in -records)
  // and its emptied bucket.
  role.addToPrincipalPolicy(
    new iam.PolicyStatement({
      sid: 'IntakeDeleteProjectTables',
      actions: ['dynamodb:DeleteTable'],
      resources: [arns.projectTables],
    }),
  );
  role.addToPrincipalPolicy(
    new iam.PolicyStatement({
      sid: 'IntakeDeleteProjectBuckets',
      actions: ['s3:DeleteBucket'],
      resources: [arns.buckets],
      conditions: ownAccount,
    }),
  );
  role.addToPrincipalPolicy(
    new iam.PolicyStatement({
      sid: 'IntakeObjects',
      actions: [...S3_OBJECT_ACTIONS],
      resources: [arns.objects],
      conditions: ownAccount,
    }),
  );
  return arns;
}
