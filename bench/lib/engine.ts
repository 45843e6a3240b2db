// The storage engine a ceiling talks to: the same dynalite-on-LevelDB setup, SDK client
// configuration and direct calls for records Intake's embedded mode uses, or an AWS
// endpoint (DynamoDB Local) for the aws-mode figures. Writes are plain BatchWriteItem calls.
import {
  BatchWriteItemCommand,
  CreateTableCommand,
  DescribeTableCommand,
  GetItemCommand,
  ScanCommand,
  type BatchWriteItemCommandInput,
  type DynamoDBClient,
  type GetItemCommandInput,
  type ScanCommandInput,
  type WriteRequest,
} from '@aws-sdk/client-dynamodb';
import { setTimeout as sleep } from 'node:timers/promises';
import { createDynamoClient } from '../../src/storage/aws/clients.js';
import { startEmbeddedDynamo } from '../../src/storage/embedded/dynalite-engine.js';
import { EngineJsonClient } from '../../src/storage/embedded/engine-json-client.js';

export type EngineTarget =
  | { kind: 'embedded'; dir: string }
  | { kind: 'aws'; endpoint: string; region: string; credentials: { accessKeyId: string; secretAccessKey: string } };

/** The record calls go the way Intake's record store sends them (EngineJsonClient in embedded mode). */
export class Engine {
  constructor(
    readonly client: DynamoDBClient,
    private readonly json: EngineJsonClient | undefined,
    readonly close: () => Promise<void>,
  ) {}

  batchWriteItem(input: BatchWriteItemCommandInput) {
    return this.json ? this.json.call('BatchWriteItem', input) : this.client.send(new BatchWriteItemCommand(input));
  }

  getItem(input: GetItemCommandInput) {
    return this.json ? this.json.call('GetItem', input) : this.client.send(new GetItemCommand(input));
  }

  scan(input: ScanCommandInput) {
    return this.json ? this.json.call('Scan', input) : this.client.send(new ScanCommand(input));
  }
}

export async function openEngine(target: EngineTarget): Promise<Engine> {
  if (target.kind === 'embedded') {
    const engine = await startEmbeddedDynamo(target.dir);
    const client = createDynamoClient({
      region: 'local',
      dynamodbEndpoint: engine.endpoint,
      dynamodbRequestHandler: engine.requestHandler,
      credentials: { accessKeyId: 'embedded', secretAccessKey: 'embedded' },
    });
    return new Engine(client, new EngineJsonClient(engine.requestHandler), async () => {
      client.destroy();
      await engine.close();
    });
  }
  const client = createDynamoClient({ region: target.region, dynamodbEndpoint: target.endpoint, credentials: target.credentials });
  return new Engine(client, undefined, async () => client.destroy());
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
    const out = await engine.batchWriteItem({ RequestItems: { [table]: pending } });
    pending = out.UnprocessedItems?.[table] ?? [];
    if (pending.length > 0) await sleep(Math.min(1000, 10 * 2 ** attempt));
  }
}
