/**
 * Streaming parsers for customer data files: `openRecordFile(stream, limits)`
 * detects gzip, text encoding and format, and yields one JSON text per record.
 * Neither Express nor the AWS SDK is known here.
 *
 * Decisions, in one place:
 * - Row numbers are the 1-based ordinal of the data record and depend only on
 *   the bytes: the CSV header and blank lines (CSV, NDJSON) are not counted;
 *   rejected records are. JSON: element index; XML: index of the root's child.
 * - An empty file (0 bytes, or only whitespace and a BOM, compressed or not) is
 *   refused at open with `empty_file`.
 * - Encoding: BOM (UTF-8, UTF-16 LE/BE), else UTF-8 if the first 64 KiB are
 *   valid UTF-8, else Windows-1252. Invalid UTF-8 met later in a file that
 *   started valid rejects only the records holding it (`invalid_encoding`),
 *   with a notice; the rest of the file goes on.
 * - CSV cells stay strings as written. A ragged row is `column_count_mismatch`;
 *   a quote still open at the end of the file is one `unterminated_quote` row.
 * - XML attributes become `@name` fields, text next to them `#text`; only the
 *   five predefined entities and character references are decoded, and any
 *   DOCTYPE/ENTITY declaration fails the file before anything is parsed.
 * - JSON numbers keep their exact text (lossless-json). Keys such as
 *   `__proto__` are written as plain data keys and never touch a prototype.
 */
export { openRecordFile } from './open-record-file.js';
export { detectFormatFromContentType, detectFormatFromName } from './detect-format.js';
export { XML_ATTRIBUTE_PREFIX, XML_TEXT_FIELD } from './xml-parser.js';
export {
  FileRejectedError,
  type FileFormat,
  type FileRejectionCode,
  type OpenOptions,
  type OpenRecordFile,
  type OpenedFile,
  type ParsedRow,
  type RowRejectionCode,
} from './types.js';
