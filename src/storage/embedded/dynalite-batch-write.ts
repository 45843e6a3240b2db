import { dynaliteRequire } from './dynalite-leveldb.js';

// dynalite's shapes, as far as this file touches them (it is CommonJS without types).
type Item = Record<string, Record<string, unknown>>;
type Callback = (error?: unknown, result?: unknown) => void;
interface WriteRequest {
  PutRequest?: { Item: Item };
  DeleteRequest?: { Key: Item };
}
interface BatchWriteData {
  RequestItems: Record<string, WriteRequest[]>;
  ReturnConsumedCapacity?: string;
}
interface TableDescription {
  LocalSecondaryIndexes?: unknown[];
  GlobalSecondaryIndexes?: unknown[];
}
type LevelOperation = { type: 'put'; key: string; value: Item } | { type: 'del'; key: string };
interface ItemDb {
  batch(operations: LevelOperation[], callback: (error?: unknown) => void): void;
  lock(keys: string[], run: (release: (done: Callback) => Callback) => void): void;
}
interface Store {
  getTable(name: string, callback: (error: unknown, table: TableDescription) => void): void;
  getItemDb(name: string): ItemDb;
}
interface DynaliteDb {
  validateItem(item: Item, table: TableDescription): unknown;
  validateKey(key: Item, table: TableDescription): unknown;
  createKey(item: Item, table: TableDescription): string;
  validationError(message: string): unknown;
}
type BatchWriteAction = ((store: Store, data: BatchWriteData, callback: Callback) => void) & { intakeFastPath?: true };

interface TablePlan {
  itemDb: ItemDb;
  keys: string[];
  operations: LevelOperation[];
}

/** dynalite's wording for key errors inside a batch, which DynamoDB reports as one message. */
function batchKeyError(error: unknown, db: DynaliteDb): unknown {
  const message = (error as { body?: { message?: string } }).body?.message ?? '';
  if (/Missing the key|Type mismatch for key/.test(message)) {
    return db.validationError('The provided key element does not match the schema');
  }
  return error;
}

/**
 * Plans one table's writes: every key validated and the duplicate check done before
 * anything is written, as DynamoDB refuses the whole request for either.
 */
function planTable(store: Store, db: DynaliteDb, name: string, table: TableDescription, requests: WriteRequest[]): TablePlan | { error: unknown } {
  const keys: string[] = [];
  const operations: LevelOperation[] = [];
  const seen = new Set<string>();
  for (const request of requests) {
    let key: string;
    if (request.PutRequest) {
      const invalid = db.validateItem(request.PutRequest.Item, table);
      if (invalid) return { error: batchKeyError(invalid, db) };
      key = db.createKey(request.PutRequest.Item, table);
      operations.push({ type: 'put', key, value: request.PutRequest.Item });
    } else if (request.DeleteRequest) {
      const invalid = db.validateKey(request.DeleteRequest.Key, table);
      if (invalid) return { error: batchKeyError(invalid, db) };
      key = db.createKey(request.DeleteRequest.Key, table);
      operations.push({ type: 'del', key });
    } else {
      continue;
    }
    if (seen.has(key)) return { error: db.validationError('Provided list of item keys contains duplicates') };
    seen.add(key);
    keys.push(key);
  }
  return { itemDb: store.getItemDb(name), keys, operations };
}

/**
 * dynalite serves BatchWriteItem as one PutItem per item: a read of the table's
 * description, a lock, a read of the item it replaces (for indexes and return values) and
 * a write, each a separate LevelDB call. For a table without secondary indexes, and with
 * no consumed capacity asked for, none of those reads changes what is written: this
 * action validates the whole request first (as DynamoDB does), then writes each table's
 * items as one atomic LevelDB batch under the same per-key locks PutItem, UpdateItem and
 * DeleteItem take, so no concurrent read-modify-write of one of its keys interleaves.
 * Everything else goes to dynalite's own action. About 2.5x fewer LevelDB calls per item.
 */
function fastBatchWriteItem(original: BatchWriteAction, db: DynaliteDb): BatchWriteAction {
  const action: BatchWriteAction = (store, data, callback) => {
    if (data.ReturnConsumedCapacity === 'TOTAL' || data.ReturnConsumedCapacity === 'INDEXES') {
      original(store, data, callback);
      return;
    }
    const names = Object.keys(data.RequestItems);
    const plans: TablePlan[] = [];
    const planNext = (index: number): void => {
      if (index === names.length) {
        writePlans(plans, 0, callback);
        return;
      }
      const name = names[index]!;
      store.getTable(name, (error, table) => {
        if (error) {
          callback(error);
          return;
        }
        if ((table.LocalSecondaryIndexes?.length ?? 0) > 0 || (table.GlobalSecondaryIndexes?.length ?? 0) > 0) {
          original(store, data, callback);
          return;
        }
        const plan = planTable(store, db, name, table, data.RequestItems[name] ?? []);
        if ('error' in plan) {
          callback(plan.error);
          return;
        }
        plans.push(plan);
        planNext(index + 1);
      });
    };
    planNext(0);
  };
  action.intakeFastPath = true;
  return action;
}

function writePlans(plans: TablePlan[], index: number, callback: Callback): void {
  if (index === plans.length) {
    callback(null, { UnprocessedItems: {} });
    return;
  }
  const plan = plans[index]!;
  // The lock never calls back for an empty list of keys.
  if (plan.operations.length === 0) {
    writePlans(plans, index + 1, callback);
    return;
  }
  plan.itemDb.lock(plan.keys, (release) => {
    const done = release((error?: unknown) => {
      if (error) callback(error);
      else writePlans(plans, index + 1, callback);
    });
    plan.itemDb.batch(plan.operations, (error) => done(error));
  });
}

/**
 * Puts the fast BatchWriteItem in place of dynalite's own. Must run before dynalite is
 * first loaded: its server takes each action from the module cache as it loads.
 */
export function installBatchWriteFastPath(): void {
  const fromDynalite = dynaliteRequire();
  const actionFile = fromDynalite.resolve('./actions/batchWriteItem.js');
  const original = fromDynalite(actionFile) as BatchWriteAction;
  if (original.intakeFastPath) return;
  const db = fromDynalite('./db/index.js') as DynaliteDb;
  const cached = fromDynalite.cache[actionFile];
  if (!cached) throw new Error('dynalite BatchWriteItem module is not in the module cache');
  cached.exports = fastBatchWriteItem(original, db);
}
