import {
  CreateTableCommand,
  DescribeTableCommand,
  type CreateTableCommandInput,
  type DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
import { setTimeout as sleep } from 'node:timers/promises';
import { errorName, guard } from '../sdk-errors.js';

/**
 * Creates the table when missing and waits until it is ACTIVE. Safe when many tasks
 * race to create the same table: the loser sees ResourceInUseException and waits.
 */
export async function ensureDynamoTable(
  client: DynamoDBClient,
  input: CreateTableCommandInput & { TableName: string },
): Promise<void> {
  await guard(async () => {
    let status = await describeStatus(client, input.TableName);
    if (status === undefined) {
      try {
        await client.send(new CreateTableCommand(input));
      } catch (error) {
        if (errorName(error) !== 'ResourceInUseException') throw error;
      }
      status = await describeStatus(client, input.TableName);
    }
    const deadline = Date.now() + 120_000;
    let delay = 50;
    while (status !== 'ACTIVE') {
      if (Date.now() > deadline) throw new Error(`Table ${input.TableName} did not become ACTIVE`);
      await sleep(delay);
      delay = Math.min(delay * 2, 2000);
      status = await describeStatus(client, input.TableName);
    }
  });
}

async function describeStatus(client: DynamoDBClient, table: string): Promise<string | undefined> {
  try {
    const out = await client.send(new DescribeTableCommand({ TableName: table }));
    return out.Table?.TableStatus;
  } catch (error) {
    if (errorName(error) === 'ResourceNotFoundException') return undefined;
    throw error;
  }
}
