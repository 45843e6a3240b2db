// Ceiling for reads: the same table in the same engine (the Intake server's own
// LevelDB directory, opened once the server has stopped), read the way Intake's record
// store reads it (bench/lib/engine.ts): Scan pages of 1,000 through every item, then
// GetItem of random ids by `clients` concurrent loops.
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { performance } from 'node:perf_hooks';
import { ceilingInput, reportResult } from '../lib/children.js';
import { openEngine } from '../lib/engine.js';
import { closedLoop } from '../lib/latency.js';

const input = ceilingInput<{ dir: string; table: string; ids: string[]; clients: number; durationMs: number }>();
const engine = await openEngine({ kind: 'embedded', dir: input.dir });

let records = 0;
let start: Record<string, AttributeValue> | undefined;
const scanStarted = performance.now();
do {
  const out = await engine.records.scan({ TableName: input.table, Limit: 1000, ExclusiveStartKey: start });
  records += out.Items?.length ?? 0;
  start = out.LastEvaluatedKey;
} while (start !== undefined);
const scanSeconds = (performance.now() - scanStarted) / 1000;

const get = await closedLoop(
  async () => {
    const id = input.ids[Math.floor(Math.random() * input.ids.length)]!;
    const out = await engine.records.getItem({ TableName: input.table, Key: { id: { S: id } }, ConsistentRead: true });
    if (!out.Item) throw new Error(`item ${id} not found`);
  },
  input.clients,
  input.durationMs,
);
await engine.close();
reportResult({ records, scanSeconds, recordsPerSecond: records / scanSeconds, get });
