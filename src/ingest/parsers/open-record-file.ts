import type { Readable } from 'node:stream';
import { openByteSource, type ByteSource } from './byte-source.js';
import { detectDelimiter } from './csv-dialect.js';
import { openCsvRows } from './csv-parser.js';
import { recordTooLarge } from './element-buffer.js';
import {
  detectFormatFromContentType,
  detectFormatFromName,
  firstContentIndex,
  looksBinary,
  sniffFormat,
} from './detect-format.js';
import { parseJsonRows } from './json-array-parser.js';
import { parseNdjsonRows } from './ndjson-parser.js';
import {
  ENCODING_SAMPLE_BYTES,
  decodeSample,
  detectEncoding,
  toUtf8Chunks,
  type EncodingChoice,
  type TextState,
} from './text-encoding.js';
import { FileRejectedError, type FileFormat, type OpenOptions, type OpenedFile, type ParsedRow } from './types.js';
import { parseXmlRows } from './xml-parser.js';

interface Sample {
  choice: EncodingChoice;
  text: string;
}

/**
 * Reads the first 64 KiB (decompressed) for detection. A file whose start is
 * nothing but whitespace is read further, up to maxRecordBytes, until content
 * shows up.
 */
async function readSample(source: ByteSource, maxRecordBytes: number): Promise<Sample> {
  let want = ENCODING_SAMPLE_BYTES;
  for (;;) {
    const head = await source.peek(want);
    const choice = detectEncoding(head, source.ended);
    const text = decodeSample(head, choice);
    if (firstContentIndex(text) !== -1 || source.ended) return { choice, text };
    if (head.length > maxRecordBytes) {
      throw recordTooLarge('the whitespace at the start of the file', maxRecordBytes);
    }
    want = head.length * 2;
  }
}

function chooseFormat(opts: OpenOptions, sample: string): FileFormat {
  if (looksBinary(sample)) {
    throw new FileRejectedError('unsupported_format', 'the file holds binary data, not CSV, TSV, JSON, NDJSON or XML text');
  }
  const format = detectFormatFromName(opts.fileName) ?? detectFormatFromContentType(opts.contentType) ?? sniffFormat(sample);
  if (format === undefined) {
    throw new FileRejectedError(
      'unsupported_format',
      'the format could not be told from the name, the content type or the first bytes (expected CSV, TSV, JSON, NDJSON or XML)',
    );
  }
  return format;
}

function assertLimits(opts: OpenOptions): void {
  for (const key of ['maxDecompressedBytes', 'maxRecordBytes'] as const) {
    const value = opts[key];
    if (!(typeof value === 'number' && value > 0)) throw new RangeError(`${key} must be a positive number`);
  }
}

/**
 * Opens a customer data file for streaming: detects gzip, encoding and format,
 * then returns the rows as an async iterable. Nothing ever holds the whole file.
 *
 * Rejected at open (the promise rejects with FileRejectedError): invalid_gzip,
 * decompressed_too_large, unsupported_format (binary data, or a format that
 * cannot be told), empty_file (0 bytes, or nothing but whitespace and a BOM, also
 * after gunzip: such a file has no records, and calling it a failure tells the
 * sender something went wrong rather than reporting a silent success), and for
 * CSV a broken header. Everything later is thrown from `rows`.
 */
export async function openRecordFile(input: Readable, opts: OpenOptions): Promise<OpenedFile> {
  assertLimits(opts);
  opts.signal?.throwIfAborted();
  const source = await openByteSource(input, {
    maxDecompressedBytes: opts.maxDecompressedBytes,
    maxInflationRatio: opts.maxInflationRatio,
    signal: opts.signal,
  });
  let rows: AsyncIterable<ParsedRow>;
  const notices: string[] = [];
  let format: FileFormat;
  let encoding: string;
  try {
    const sample = await readSample(source, opts.maxRecordBytes);
    if (firstContentIndex(sample.text) === -1) {
      throw new FileRejectedError('empty_file', 'the file is empty (no content besides whitespace)');
    }
    format = chooseFormat(opts, sample.text);
    encoding = sample.choice.encoding;
    notices.push(sample.choice.notice);
    const text: TextState = { invalidUtf8Seen: false };
    const chunks = toUtf8Chunks(source.chunks(), sample.choice, text, notices);
    const limits = { maxRecordBytes: opts.maxRecordBytes, maxDepth: opts.maxDepth, text };
    switch (format) {
      case 'csv':
      case 'tsv': {
        const delimiter = format === 'tsv' ? '\t' : detectDelimiter(sample.text, source.ended);
        if (format === 'csv' && delimiter !== ',') notices.push(`delimiter detected: ${JSON.stringify(delimiter)}`);
        rows = await openCsvRows(chunks, { ...limits, delimiter, notices });
        break;
      }
      case 'ndjson':
        rows = parseNdjsonRows(chunks, limits);
        break;
      case 'json':
        rows = parseJsonRows(chunks, limits);
        break;
      case 'xml':
        rows = parseXmlRows(chunks, { ...limits, notices });
        break;
    }
  } catch (err) {
    await source.close().catch(() => undefined);
    throw err;
  }
  return { format, compressed: source.compressed, encoding, notices, rows };
}
