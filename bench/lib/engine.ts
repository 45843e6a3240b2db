// The storage engine a ceiling talks to: the same dynalite-on-LevelDB setup, SDK client
// configuration and direct calls for records Intake's embedded mode uses, or an AWS
// endpoint (DynamoDB Local) for the aws-mode figures. Writes are plain BatchWriteItem calls.
import { CreateTableCommand, DescribeTableCommand, type DynamoDBClient, type WriteRequest } from '@aws-sdk/client-dynamodb';
import { setTimeout as sleep } from 'node:timers/promises';
import { createDynamoClient, embeddedClientOptions } from '../../src/storage/aws/clients.js';
import { RecordCalls } from '../../src/storage/aws/dynamo-record-store.js';
import { startEmbeddedDynamo } from '../../src/storage/embedded/dynalite-engine.js';
import { EngineJsonClient } from '../../src/storage/embedded/engine-json-client.js';

export type EngineTarget =
  | { kind: 'embedded'; dir: string }
  | { kind: 'aws'; endpoint: string; region: string; credentials: { accessKeyId: string; secretAccessKey: string } };

export interface Engine {
  client: DynamoDBClient;
  /** The record calls, sent as Intake's record store sends them (straight to the embedded engine). */
  records: RecordCalls;
  close(): Promise<void>;
}

export async function openEngine(target: EngineTarget): Promise<Engine> {
  if (target.kind === 'embedded') {
    const engine = await startEmbeddedDynamo(target.dir);
    const client = createDynamoClient(embeddedClientOptions(engine));
    return {
      client,
      records: new RecordCalls(client, new EngineJsonClient(engine.requestHandler)),
      async close() {
        client.destroy();
        await engine.close();
      },
    };
  }
  const client = createDynamoClient({ region: target.region, dynamodbEndpoint: target.endpoint, credentials: target.credentials });
  return { client, records: new RecordCalls(client), close: async () => client.destroy() };
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

export interface PlainRecord {
  id: string;
  data: string;
  source: string;
  ingestedAt: string;
}

export function putRequest(record: PlainRecord): WriteRequest {
  return { PutRequest: { Item: { id: { S: record.id }, d: { S: record.data }, s: { S: record.source }, t: { S: record.ingestedAt } } } };
}

/** One BatchWriteItem of up to 25 puts, re-sending unprocessed items until none are left. */
export async function writeBatch(engine: Engine, table: string, requests: WriteRequest[]): Promise<void> {
  let pending = requests;
  for (let attempt = 1; pending.length > 0; attempt++) {
    const out = await engine.records.batchWriteItem({ RequestItems: { [table]: pending } });
    pending = out.UnprocessedItems?.[table] ?? [];
    if (pending.length > 0) await sleep(Math.min(1000, 10 * 2 ** attempt));
  }
}
