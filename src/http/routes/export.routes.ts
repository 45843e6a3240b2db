import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import type { Router } from 'express';
import { Counter, type Registry } from 'prom-client';
import { AppError, errors } from '../../errors.js';
import { parseExportRequest, type ExportRequest } from '../../export/export-request.js';
import { RecordExport } from '../../export/record-export.js';
import { acceptParameters } from '../query-params.js';
import type { RouteDeps } from '../route-deps.js';

/** Records per store read: a DynamoDB page stays under its 1 MB read limit for typical records. */
export const EXPORT_PAGE_SIZE = 500;

const CONTENT_TYPES = { ndjson: 'application/x-ndjson', csv: 'text/csv', json: 'application/json' } as const;

const exportParameters = acceptParameters('format', 'fields', 'gzip', 'bom', 'raw', 'since', 'where.<field>', 'where.<field>.prefix');

export function registerExportRoutes(router: Router, deps: RouteDeps): void {
  const { requireProject } = deps.guards;
  const { records, metrics, logger } = deps;
  const pagesRead = exportPagesCounter(metrics.registry);
  const exporter = new RecordExport(records, { pageSize: EXPORT_PAGE_SIZE, onPage: () => pagesRead.inc() });

  router.get('/v1/projects/:projectId/export', requireProject('records:read'), exportParameters, async (req, res) => {
    const project = res.locals.project!;
    const request = parseExportRequest(req.query as Record<string, unknown>, req.get('accept-encoding'));
    const filter = records.whereFilter(project, req.query as Record<string, unknown>);
    // One index serves an export: the write-time index or a field's, not both at once.
    if (request.since !== undefined && filter !== undefined) throw errors.validation('since and a where. filter cannot be combined.');
    const gone = new AbortController();
    res.on('close', () => gone.abort());

    const chunks = exporter.chunks(project, request, filter, gone.signal);
    // The first chunk comes after the first page (and CSV's header pass): a store or index
    // error up to here is still answered with its own status and error body.
    const first = await chunks.next();
    res.status(200).set(exportHeaders(project.id, request));
    const body = Readable.from(withFirst(first, chunks), { objectMode: false, highWaterMark: 64 * 1024 });
    try {
      await (request.gzipFile || request.gzipEncoding ? pipeline(body, createGzip(), res) : pipeline(body, res));
    } catch (error) {
      if (gone.signal.aborted && !(error instanceof AppError)) {
        logger.info('export stopped: the client went away', { requestId: res.locals.requestId, projectId: project.id });
        return;
      }
      // Past the headers: the error handler destroys the socket, so the chunked body never
      // ends cleanly and no client takes a cut export for a whole one.
      throw error;
    }
  });
}

async function* withFirst(first: IteratorResult<Buffer>, rest: AsyncGenerator<Buffer>): AsyncGenerator<Buffer> {
  if (first.done === true) return;
  yield first.value;
  yield* rest;
}

function exportHeaders(projectId: string, request: ExportRequest): Record<string, string> {
  const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
  const fileName = `${projectId}-${stamp}.${request.format}${request.gzipFile ? '.gz' : ''}`;
  const headers: Record<string, string> = {
    'Content-Type': request.gzipFile ? 'application/gzip' : `${CONTENT_TYPES[request.format]}; charset=utf-8`,
    'Content-Disposition': `attachment; filename="${fileName}"`,
    'Cache-Control': 'no-store',
    Vary: 'Accept-Encoding',
  };
  if (request.gzipEncoding) headers['Content-Encoding'] = 'gzip';
  return headers;
}

const PAGES_METRIC = 'intake_export_pages_read_total';

/** Pages read from the record store by streamed exports (a client that leaves stops the count). */
function exportPagesCounter(registry: Registry): Counter {
  const existing = registry.getSingleMetric(PAGES_METRIC);
  if (existing instanceof Counter) return existing;
  return new Counter({ name: PAGES_METRIC, help: 'Record pages read by streamed exports.', registers: [registry] });
}
