import {
  BatchWriteItemCommand,
  UpdateItemCommand,
  type AttributeValue,
  type DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
import { changeOf, FIELD_TYPES, totalOf, type CatalogField, type FieldBatch, type FieldChange, type FieldObservation, type TypeCounts } from '../../quality/catalog/field-catalog.js';
import type { FieldCatalogStore, Page } from '../ports.js';
import { guard } from '../sdk-errors.js';
import { partitionPage, queryPartition } from './query-partition.js';

const partition = (projectId: string) => `catalog#${projectId}`;
/** A sort key may not be empty, and a record's empty key makes the path "": every path gets a prefix. */
const sortKey = (path: string) => `f:${path}`;
/** UpdateItem calls of one merge in flight at once. */
const MERGE_CONCURRENCY = 8;
const BATCH_WRITE_ITEMS = 25;

/**
 * Field catalogs as items of the control table, one partition per project and one item per
 * field (`sk = f:<path>`, so a listing is one Query in path order). A merge is one
 * UpdateItem per field of the batch with ADD on one count attribute per type, run side by
 * side: adds from many tasks never overwrite each other, and the item as it was before
 * (ALL_OLD) tells whether the field or a type is new.
 */
export class DynamoFieldCatalogStore implements FieldCatalogStore {
  constructor(
    private readonly client: DynamoDBClient,
    private readonly tableName: string,
  ) {}

  async mergeFields(projectId: string, batch: FieldBatch): Promise<FieldChange[]> {
    const changes: (FieldChange | undefined)[] = new Array(batch.fields.length);
    let next = 0;
    const worker = async () => {
      while (next < batch.fields.length) {
        const i = next++;
        changes[i] = await this.mergeField(projectId, batch.fields[i]!, batch.at);
      }
    };
    await Promise.all(Array.from({ length: Math.min(MERGE_CONCURRENCY, batch.fields.length) }, worker));
    return changes.filter((change): change is FieldChange => change !== undefined);
  }

  private async mergeField(projectId: string, field: FieldObservation, at: string): Promise<FieldChange | undefined> {
    const names: Record<string, string> = { '#path': 'path', '#first': 'firstSeen', '#last': 'lastSeen' };
    const values: Record<string, AttributeValue> = { ':path': { S: field.path }, ':at': { S: at } };
    const set = ['#path = :path', '#first = if_not_exists(#first, :at)', '#last = :at'];
    const add: string[] = [];
    const remove: string[] = [];
    for (const type of FIELD_TYPES) {
      const n = field.types[type] ?? 0;
      if (n === 0) continue;
      names[`#${type}`] = `n_${type}`;
      values[`:${type}`] = { N: String(n) };
      add.push(`#${type} :${type}`);
    }
    names['#redacted'] = 'redacted';
    if (field.redacted === true || field.example !== undefined) names['#example'] = 'example';
    if (field.redacted === true) {
      set.push('#redacted = :true');
      values[':true'] = { BOOL: true };
      remove.push('#example');
    } else {
      remove.push('#redacted');
      if (field.example !== undefined) {
        set.push('#example = if_not_exists(#example, :example)');
        values[':example'] = { S: field.example };
      }
    }
    const expression = [`SET ${set.join(', ')}`, add.length > 0 ? `ADD ${add.join(', ')}` : '', `REMOVE ${remove.join(', ')}`]
      .filter((part) => part !== '')
      .join(' ');
    const out = await guard(() =>
      this.client.send(
        new UpdateItemCommand({
          TableName: this.tableName,
          Key: { pk: { S: partition(projectId) }, sk: { S: sortKey(field.path) } },
          UpdateExpression: expression,
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: values,
          ReturnValues: 'ALL_OLD',
        }),
      ),
    );
    return changeOf(field, out.Attributes === undefined ? undefined : countsOf(out.Attributes));
  }

  async listFields(projectId: string, options: { limit: number; after?: string }): Promise<Page<CatalogField>> {
    const pk = partition(projectId);
    const after = options.after === undefined ? undefined : { pk: { S: pk }, sk: { S: sortKey(options.after) } };
    const page = await partitionPage(this.client, { table: this.tableName, pk, after }, options.limit);
    const items = page.items.map(fieldOf);
    return page.more ? { items, next: items.at(-1)!.path } : { items };
  }

  async deleteFields(projectId: string): Promise<void> {
    const keys = { table: this.tableName, pk: partition(projectId), projection: 'pk, sk', pageSize: BATCH_WRITE_ITEMS };
    for await (const items of queryPartition(this.client, keys)) {
      let requests = items.map((item) => ({ DeleteRequest: { Key: { pk: item.pk!, sk: item.sk! } } }));
      // Unprocessed deletes are sent again until none is left (a throttled table slows this down, it does not stop it).
      while (requests.length > 0) {
        const written = await guard(() => this.client.send(new BatchWriteItemCommand({ RequestItems: { [this.tableName]: requests } })));
        requests = (written.UnprocessedItems?.[this.tableName] ?? []) as typeof requests;
      }
    }
  }
}

function countsOf(item: Record<string, AttributeValue>): TypeCounts {
  const types: TypeCounts = {};
  for (const type of FIELD_TYPES) {
    const n = Number(item[`n_${type}`]?.N ?? 0);
    if (n > 0) types[type] = n;
  }
  return types;
}

function fieldOf(item: Record<string, AttributeValue>): CatalogField {
  const types = countsOf(item);
  return {
    path: item.path!.S!,
    types,
    count: totalOf(types),
    firstSeen: item.firstSeen!.S!,
    lastSeen: item.lastSeen!.S!,
    ...(item.example?.S === undefined ? {} : { example: item.example.S }),
    ...(item.redacted?.BOOL === true ? { redacted: true } : {}),
  };
}
