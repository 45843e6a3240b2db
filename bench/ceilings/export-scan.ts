// Ceiling for the streamed NDJSON export: the Intake server's own database file (opened once
// the server has stopped), read through the same record store in pages of the export's
// size, each record turned into the same NDJSON line the export writes (the records view's
// JSON text) and joined per page: the export's work without HTTP.
import { performance } from 'node:perf_hooks';
import { EXPORT_PAGE_SIZE } from '../../src/http/routes/export.routes.js';
import { recordJson } from '../../src/http/views/record.view.js';
import { ceilingInput, reportResult } from '../lib/children.js';
import { openSqliteEngine } from '../lib/sqlite-engine.js';

const input = ceilingInput<{ file: string; table: string }>();
const engine = openSqliteEngine(input.file);

let records = 0;
let chars = 0;
let afterId: string | undefined;
const started = performance.now();
do {
  const page = await engine.records.listRecords(input.table, { limit: EXPORT_PAGE_SIZE, afterId });
  let text = '';
  for (const record of page.items) text += `${recordJson(record)}\n`;
  chars += text.length;
  records += page.items.length;
  afterId = page.lastId;
} while (afterId !== undefined);
const seconds = (performance.now() - started) / 1000;
engine.close();
reportResult({ records, chars, seconds, recordsPerSecond: records / seconds });
