// What a Parquet part's writer needs of a record, and nothing of the project's model: the
// writer runs on a thread of its own (parquet-thread.ts), which loads this module and the
// writing libraries, not the service.
import { isLosslessNumber, isSafeNumber } from 'lossless-json';
import type { StoredRecord } from '../domain/model.js';
import { isPlainRecord, toJsonText } from '../domain/json-text.js';
import { parseData } from './export-rows.js';

/**
 * Parquet column kinds. Numbers are DOUBLE: what DuckDB, pandas and Athena sum and average
 * without a cast. A number a double cannot hold exactly (past 2^53, or more than 15
 * significant digits) is rounded to the nearest double and counted in the manifest
 * (`roundedNumbers`); NDJSON and CSV keep its every digit. Objects, arrays and fields whose
 * values mix types are JSON text, as are the record's key and source.
 */
export type ParquetKind = 'string' | 'double' | 'boolean' | 'int64' | 'date' | 'timestamp' | 'json';

export interface ParquetColumn {
  /** Column name: the envelope's name, or the data path joined with dots (`data.` prefixed on a clash). */
  name: string;
  kind: ParquetKind;
  /** Data path; absent for the record envelope's columns. */
  path?: string[];
}

// Sixteen or more digits (a dot allowed between them): only such a number can lose digits
// in JSON.parse, so only such a record pays for the exact (and slower) parser.
const LONG_NUMBER = /\d(?:\.?\d){15}/;

/** The record's data, parsed natively unless it may hold a number a double cannot keep. */
export function fastData(record: StoredRecord): Record<string, unknown> {
  if (LONG_NUMBER.test(record.data)) return parseData(record);
  const value: unknown = JSON.parse(record.data);
  return isPlainRecord(value) ? value : {};
}

/** Tallies what a part's conversion could not keep exactly, for the manifest. */
export interface ConversionCounts {
  roundedNumbers: number;
  /** Values whose type did not match their column's (written as null, or as JSON text in a string column). */
  unconverted: number;
}

const DAY_MS = 86_400_000;

/** One value for its column, as hyparquet-writer takes it (null when missing). */
export function columnValue(kind: ParquetKind, value: unknown, counts: ConversionCounts): unknown {
  if (value === undefined || value === null) return null;
  switch (kind) {
    case 'json':
      return value instanceof JsonText ? value.text : toJsonText(value);
    case 'string':
      if (typeof value === 'string') return value;
      counts.unconverted++;
      return toJsonText(value);
    case 'boolean':
      if (typeof value === 'boolean') return value;
      break;
    case 'double':
      if (typeof value === 'number') return value;
      if (isLosslessNumber(value)) {
        if (!isSafeNumber(value.value)) counts.roundedNumbers++;
        return Number(value.value);
      }
      break;
    case 'int64':
      if (typeof value === 'number' && Number.isInteger(value)) return BigInt(value);
      break;
    case 'date':
    case 'timestamp': {
      const ms = typeof value === 'string' ? Date.parse(value) : Number.NaN;
      if (!Number.isNaN(ms)) return new Date(kind === 'date' ? Math.floor(ms / DAY_MS) * DAY_MS : ms);
      break;
    }
  }
  counts.unconverted++;
  return null;
}

/** JSON text stored as such (a record's key and source): written as it is, never parsed. */
export class JsonText {
  constructor(readonly text: string) {}
}

/** The value of an envelope column of a record. */
export function envelopeValue(record: StoredRecord, name: string): unknown {
  switch (name) {
    case 'id':
      return record.id;
    case 'key':
      return record.keyed === undefined ? null : new JsonText(record.keyed.key);
    case 'version':
      return record.keyed?.version ?? null;
    case 'createdAt':
      return record.keyed?.createdAt ?? null;
    case 'source':
      return new JsonText(record.source);
    default:
      // updatedAt (keyed) and ingestedAt (appended) are both the last write's time.
      return record.ingestedAt;
  }
}

/** hyparquet-writer's schema elements for the columns (all nullable). */
export function schemaElements(columns: readonly ParquetColumn[]) {
  const element = (column: ParquetColumn) => {
    const base = { name: column.name, repetition_type: 'OPTIONAL' as const };
    switch (column.kind) {
      case 'double':
        return { ...base, type: 'DOUBLE' as const };
      case 'boolean':
        return { ...base, type: 'BOOLEAN' as const };
      case 'int64':
        return { ...base, type: 'INT64' as const };
      case 'date':
        return { ...base, type: 'INT32' as const, converted_type: 'DATE' as const };
      case 'timestamp':
        return { ...base, type: 'INT64' as const, converted_type: 'TIMESTAMP_MILLIS' as const };
      default:
        // JSON text stays plain UTF8 so that every reader opens it as a string column.
        return { ...base, type: 'BYTE_ARRAY' as const, converted_type: 'UTF8' as const };
    }
  };
  return [{ name: 'root', num_children: columns.length }, ...columns.map(element)];
}
