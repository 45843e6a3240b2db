import { ConfigError, loadConfig } from '../config.js';
import {
  migrateEarlierEmbeddedData,
  MigrationError,
  NothingToMigrateError,
  type MigrationProgress,
} from '../storage/migrate-earlier-embedded.js';
import { StoreOpenError } from '../storage/sqlite/sqlite-database.js';

/**
 * `npm run migrate-data` (or `node dist/main/migrate-data.js` in the image): copies the data
 * directory of an earlier release, kept in an emulated DynamoDB under `<dataDir>/dynamodb/`,
 * into the embedded SQLite store. Reads INTAKE_DATA_DIR and INTAKE_NAME_PREFIX like the server.
 */
async function main(): Promise<number> {
  let config;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(error.message);
      return 2;
    }
    throw error;
  }
  // The SDK only talks to the engine inside this process; its notice about future Node versions is noise here.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  console.log(`Migrating the earlier embedded data in ${config.dataDir} (table prefix ${config.namePrefix}).`);
  const result = await migrateEarlierEmbeddedData({
    dataDir: config.dataDir,
    namePrefix: config.namePrefix,
    onProgress: progressPrinter(),
  });
  if (result.status === 'already-migrated') {
    console.log(`Nothing to do: ${result.database} holds the migrated data; the earlier files are in ${result.keptDir}.`);
    return 0;
  }
  if (result.control) {
    const { project, key, job, idempotency, rateCounter } = result.control;
    console.log(
      `Control data: ${project} projects, ${key} API keys, ${job} jobs, ${idempotency} idempotency claims ` +
        `(${rateCounter} rate-limit counters not copied: they only count the current window).`,
    );
  }
  const records = result.tables.slice(1).reduce((sum, table) => sum + table.items, 0);
  if (result.tables.length > 0) console.log(`Records: ${records} in ${result.tables.length - 1} project tables.`);
  console.log(`Verified: equal counts in every table, ${result.sampled} sampled records byte-equal.`);
  console.log(`\nThe data is now in ${result.database}.`);
  console.log(`The earlier files are kept in ${result.keptDir}; delete that directory once you are satisfied.`);
  console.log('Start Intake as usual (npm start).');
  return 0;
}

/** One line per table when it starts and ends, and at most one a second in between. */
function progressPrinter(): (progress: MigrationProgress) => void {
  let lastAt = 0;
  return ({ phase, table, done, total }) => {
    const now = Date.now();
    if (phase === 'verify') {
      console.log(`  verified ${table}`);
      return;
    }
    if (done !== 0 && done !== total && now - lastAt < 1000) return;
    lastAt = now;
    console.log(`  ${table}: ${done} / ${total} items copied`);
  };
}

function fail(error: unknown): never {
  let message = error instanceof Error ? error.message : String(error);
  let known = error instanceof MigrationError || error instanceof StoreOpenError;
  // The earlier engine (plain dynalite) reports a LevelDB that would not open only as a
  // failed operation, thrown outside any request: the usual reason is its lock.
  const code = (error as { code?: unknown } | null)?.code;
  if (code === 'LEVEL_DATABASE_NOT_OPEN' || /^Database is (closed|not open)$/.test(message)) {
    known = true;
    message =
      'The earlier data could not be opened: another process holds it (an earlier Intake still running, or ' +
      'another migration). Stop it and run the migration again.';
  }
  console.error(`Migration failed: ${message}`);
  if (!known && error instanceof Error && error.stack) console.error(error.stack);
  if (!(error instanceof NothingToMigrateError)) console.error('The earlier data is unchanged: running the migration again is safe.');
  process.exit(1);
}

process.on('uncaughtException', fail);
main().then((code) => process.exit(code), fail);
