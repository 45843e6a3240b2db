// DynamoDB (Local, for the aws-mode figure) as a ceiling reaches it: the SDK client Intake
// builds, a records table of the same schema, and plain BatchWriteItem calls carrying the
// items Intake's record store writes, with none of the store's own logic around them.
import { BatchWriteItemCommand, CreateTableCommand, DescribeTableCommand, type DynamoDBClient, type WriteRequest } from '@aws-sdk/client-dynamodb';
import { setTimeout as sleep } from 'node:timers/promises';
import type { StoredRecord } from '../../src/domain/model.js';
import { createDynamoClient } from '../../src/storage/dynamodb/dynamo-client.js';

export interface DynamoTarget {
  endpoint: string;
  region: string;
  credentials: { accessKeyId: string; secretAccessKey: string };
}

export function openDynamo(target: DynamoTarget): DynamoDBClient {
  return createDynamoClient({ region: target.region, endpoint: target.endpoint, credentials: target.credentials });
}

/** A records table with the schema Intake gives a project's table. */
export async function createRecordsTable(client: DynamoDBClient, table: string): Promise<void> {
  await client.send(
    new CreateTableCommand({
      TableName: table,
      AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }],
      KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
      BillingMode: 'PAY_PER_REQUEST',
    }),
  );
  for (;;) {
    const out = await client.send(new DescribeTableCommand({ TableName: table }));
    if (out.Table?.TableStatus === 'ACTIVE') return;
    await sleep(50);
  }
}

/** The item of a record, with the short attribute names Intake's DynamoDB record store uses. */
export function putRequest(record: StoredRecord): WriteRequest {
  return { PutRequest: { Item: { id: { S: record.id }, d: { S: record.data }, s: { S: record.source }, t: { S: record.ingestedAt } } } };
}

/** One BatchWriteItem of up to 25 puts, re-sending unprocessed items until none are left. */
export async function writeBatch(client: DynamoDBClient, table: string, requests: WriteRequest[]): Promise<void> {
  let pending = requests;
  for (let attempt = 1; pending.length > 0; attempt++) {
    const out = await client.send(new BatchWriteItemCommand({ RequestItems: { [table]: pending } }));
    pending = out.UnprocessedItems?.[table] ?? [];
    if (pending.length > 0) await sleep(Math.min(1000, 10 * 2 ** attempt));
  }
}
