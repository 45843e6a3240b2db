import type { JobItem, JobOutcome, ProjectItem } from '../../domain/model.js';
import type { ControlStore, ObjectStore, RecordStore } from '../../storage/ports.js';
import type { RecordStep } from './record-steps.js';

export interface JobRunnerDeps {
  objects: ObjectStore;
  control: ControlStore;
  records: RecordStore;
  owner: string;
  leaseMs: number;
  maxDecompressedBytes: number;
  /** Nesting allowed in one record of a file, as for a push; unset, the parsers' default. */
  maxRecordDepth?: number;
  /** Decompressed bytes per compressed byte past which a gzip file fails; unset, the parsers' default. */
  maxInflationRatio?: number;
  /** Days a refused row stays in the project's quarantine; unset, the default of 30. */
  quarantineRetentionDays?: number;
  /** BatchWriteItem calls one job keeps in flight. */
  writeConcurrency?: number;
  /** How often a running job saves its progress (and proves it still holds the lease). */
  checkpointIntervalMs: number;
  /** A job that keeps failing for reasons other than storage outages is failed after this many claims. */
  maxAttempts: number;
  /** Steps every record of a file passes between "row to record" and "batch"; none by default. */
  recordSteps?: readonly RecordStep[];
}

/** What every step of one job's pass may read; nothing in it changes during the pass. */
export interface JobContext {
  deps: JobRunnerDeps;
  project: ProjectItem;
  job: JobItem;
  signal: AbortSignal;
}

export type RunResult =
  | { kind: 'finished'; job: JobItem; outcome: JobOutcome }
  | { kind: 'lease_lost' }
  | { kind: 'released'; error: unknown };
