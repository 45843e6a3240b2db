// Ceiling for reads: the Intake server's own database file (opened once the server has
// stopped: the database holds an exclusive lock while it runs), read through the same
// record store: listRecords pages of 1,000 through every record, then getRecord of
// random ids from `clients` concurrent loops.
import { performance } from 'node:perf_hooks';
import { ceilingInput, reportResult } from '../lib/children.js';
import { closedLoop } from '../lib/latency.js';
import { openSqliteEngine } from '../lib/sqlite-engine.js';

const input = ceilingInput<{ file: string; table: string; ids: string[]; clients: number; durationMs: number }>();
const engine = openSqliteEngine(input.file);

let records = 0;
let afterId: string | undefined;
const scanStarted = performance.now();
do {
  const page = await engine.records.listRecords(input.table, { limit: 1000, afterId });
  records += page.items.length;
  afterId = page.lastId;
} while (afterId !== undefined);
const scanSeconds = (performance.now() - scanStarted) / 1000;

const get = await closedLoop(
  async () => {
    const id = input.ids[Math.floor(Math.random() * input.ids.length)]!;
    if (!(await engine.records.getRecord(input.table, id))) throw new Error(`record ${id} not found`);
  },
  input.clients,
  input.durationMs,
);
engine.close();
reportResult({ records, scanSeconds, recordsPerSecond: records / scanSeconds, get });
