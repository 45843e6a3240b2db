// Proves the emulators started by the test setup behave like the AWS APIs the service
// relies on, with the same client settings the service's adapters use.
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CreateTableCommand,
  DeleteTableCommand,
  DescribeTableCommand,
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
} from '@aws-sdk/client-dynamodb';
import {
  CreateBucketCommand,
  DeleteBucketCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  S3Client,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { S3_EMULATOR_CLIENT_OPTIONS, testAwsEnv, uniqueName } from '../support/endpoints.js';

const env = testAwsEnv();
const clientBase = { region: env.region, credentials: env.credentials };

describe('DynamoDB Local', () => {
  const dynamo = new DynamoDBClient({ ...clientBase, endpoint: env.dynamodbEndpoint });
  const table = uniqueName('emu-ddb');

  beforeAll(async () => {
    await dynamo.send(
      new CreateTableCommand({
        TableName: table,
        BillingMode: 'PAY_PER_REQUEST',
        AttributeDefinitions: [
          { AttributeName: 'pk', AttributeType: 'S' },
          { AttributeName: 'sk', AttributeType: 'S' },
          { AttributeName: 'status', AttributeType: 'S' },
        ],
        KeySchema: [
          { AttributeName: 'pk', KeyType: 'HASH' },
          { AttributeName: 'sk', KeyType: 'RANGE' },
        ],
        GlobalSecondaryIndexes: [
          {
            IndexName: 'by-status',
            KeySchema: [
              { AttributeName: 'status', KeyType: 'HASH' },
              { AttributeName: 'sk', KeyType: 'RANGE' },
            ],
            Projection: { ProjectionType: 'ALL' },
          },
        ],
      }),
    );
  });

  afterAll(async () => {
    await dynamo.send(new DeleteTableCommand({ TableName: table }));
    dynamo.destroy();
  });

  it('creates the table with its index, active at once', async () => {
    const { Table } = await dynamo.send(new DescribeTableCommand({ TableName: table }));
    expect(Table?.TableStatus).toBe('ACTIVE');
    expect(Table?.GlobalSecondaryIndexes?.map((index) => index.IndexName)).toEqual(['by-status']);
  });

  it('puts, gets and queries items on the table and the index', async () => {
    const items = [
      { pk: 'job#1', sk: '001', status: 'done' },
      { pk: 'job#1', sk: '002', status: 'pending' },
      { pk: 'job#2', sk: '003', status: 'pending' },
    ];
    for (const item of items) {
      await dynamo.send(
        new PutItemCommand({
          TableName: table,
          Item: { pk: { S: item.pk }, sk: { S: item.sk }, status: { S: item.status } },
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      );
    }

    const got = await dynamo.send(new GetItemCommand({ TableName: table, Key: { pk: { S: 'job#1' }, sk: { S: '002' } } }));
    expect(got.Item?.status?.S).toBe('pending');

    const byKey = await dynamo.send(
      new QueryCommand({
        TableName: table,
        KeyConditionExpression: 'pk = :pk',
        ExpressionAttributeValues: { ':pk': { S: 'job#1' } },
      }),
    );
    expect(byKey.Items?.map((item) => item.sk?.S)).toEqual(['001', '002']);

    const byStatus = await dynamo.send(
      new QueryCommand({
        TableName: table,
        IndexName: 'by-status',
        KeyConditionExpression: '#status = :status',
        ExpressionAttributeNames: { '#status': 'status' },
        ExpressionAttributeValues: { ':status': { S: 'pending' } },
      }),
    );
    expect(byStatus.Items?.map((item) => item.pk?.S)).toEqual(['job#1', 'job#2']);
  });

  it('rejects a conditional put of an existing item', async () => {
    const put = new PutItemCommand({
      TableName: table,
      Item: { pk: { S: 'job#1' }, sk: { S: '001' }, status: { S: 'again' } },
      ConditionExpression: 'attribute_not_exists(pk)',
    });
    await expect(dynamo.send(put)).rejects.toMatchObject({ name: 'ConditionalCheckFailedException' });
  });
});

// Deterministic content, so any byte range can be recomputed without keeping the object.
function byteAt(position: number): number {
  return (position * 31 + (position >>> 11)) & 0xff;
}

function expectedBytes(start: number, endInclusive: number): Buffer {
  const bytes = Buffer.alloc(endInclusive - start + 1);
  for (let i = 0; i < bytes.length; i++) bytes[i] = byteAt(start + i);
  return bytes;
}

// An odd size, so the last multipart part is short and not aligned to anything.
const OBJECT_SIZE = 12 * 1024 * 1024 + 4_321;

async function* generatedContent(size: number, chunkSize = 64 * 1024): AsyncGenerator<Buffer> {
  for (let offset = 0; offset < size; offset += chunkSize) {
    yield expectedBytes(offset, Math.min(size, offset + chunkSize) - 1);
  }
}

describe('fauxqs S3', () => {
  const s3 = new S3Client({ ...clientBase, endpoint: env.s3Endpoint, ...S3_EMULATOR_CLIENT_OPTIONS });
  const bucket = uniqueName('emu-s3');
  const key = 'uploads/2024/data file.bin';

  beforeAll(async () => {
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  });

  afterAll(async () => {
    await s3.send(new DeleteBucketCommand({ Bucket: bucket }));
    s3.destroy();
  });

  it('uploads a 12 MB stream in parts, then lists, reads ranges, reads it whole and deletes it', async () => {
    const upload = new Upload({
      client: s3,
      params: { Bucket: bucket, Key: key, Body: Readable.from(generatedContent(OBJECT_SIZE)), ContentType: 'application/octet-stream' },
      partSize: 5 * 1024 * 1024,
      queueSize: 2,
    });
    const uploaded = await upload.done();
    // A multipart ETag ends in -<number of parts>: 5 + 5 + 2.004 MiB.
    expect(uploaded.ETag).toMatch(/-3"?$/);

    const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
    expect(head.ContentLength).toBe(OBJECT_SIZE);

    const listed = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'uploads/' }));
    expect(listed.Contents?.map((object) => [object.Key, object.Size])).toEqual([[key, OBJECT_SIZE]]);

    // A range that straddles the first part boundary.
    const start = 5 * 1024 * 1024 - 100;
    const end = start + 999;
    const ranged = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key, Range: `bytes=${start}-${end}` }));
    expect(ranged.ContentLength).toBe(1000);
    expect(ranged.ContentRange).toBe(`bytes ${start}-${end}/${OBJECT_SIZE}`);
    const rangeBytes = Buffer.from(await ranged.Body!.transformToByteArray());
    expect(rangeBytes.equals(expectedBytes(start, end))).toBe(true);

    const whole = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    const actualHash = createHash('sha256');
    for await (const chunk of whole.Body as Readable) actualHash.update(chunk as Buffer);
    const expectedHash = createHash('sha256');
    for await (const chunk of generatedContent(OBJECT_SIZE)) expectedHash.update(chunk);
    expect(actualHash.digest('hex')).toBe(expectedHash.digest('hex'));

    await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
    await expect(s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }))).rejects.toMatchObject({
      $metadata: { httpStatusCode: 404 },
    });
    const afterDelete = await s3.send(new ListObjectsV2Command({ Bucket: bucket }));
    expect(afterDelete.KeyCount ?? 0).toBe(0);
  });

  it('answers NoSuchKey for a missing object', async () => {
    await expect(s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'missing.txt' }))).rejects.toMatchObject({
      name: 'NoSuchKey',
    });
  });
});
