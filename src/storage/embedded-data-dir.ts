import fs from 'node:fs';
import path from 'node:path';
import { StoreOpenError } from './sqlite/sqlite-database.js';

/** The embedded database inside the data directory. */
export const embeddedDatabaseFile = (dataDir: string) => path.join(dataDir, 'intake.db');

/** Where releases before the SQLite store kept their tables (an emulated DynamoDB on LevelDB). */
export const earlierEngineDir = (dataDir: string) => path.join(dataDir, 'dynamodb');

export const MIGRATE_COMMAND = 'npm run migrate-data';

/**
 * A data directory written by an earlier release holds its tables in `dynamodb/`. Starting
 * beside it would look like an empty service over the user's data, so the start is refused
 * with the command that copies that data into the current store.
 */
export function assertNoEarlierEmbeddedData(dataDir: string): void {
  if (!fs.existsSync(earlierEngineDir(dataDir))) return;
  throw new StoreOpenError(
    `${earlierEngineDir(dataDir)} holds data in the earlier embedded format. Intake will not start beside it. ` +
      `Run \`${MIGRATE_COMMAND}\` (with the same INTAKE_DATA_DIR and INTAKE_NAME_PREFIX) to copy it into the ` +
      'current store; the old files are kept until the copy is verified.',
  );
}
