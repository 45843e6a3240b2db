/**
 * The field catalog's shapes: what one batch of stored records says about its fields, what
 * the catalog keeps per field, and what a merge tells the writer about drift.
 */

/** JSON types as the catalog names them; an array is one type, never walked into. */
export const FIELD_TYPES = ['string', 'number', 'boolean', 'null', 'object', 'array'] as const;
export type FieldType = (typeof FIELD_TYPES)[number];

export type TypeCounts = Partial<Record<FieldType, number>>;

/** One field as a batch of records saw it. */
export interface FieldObservation {
  /** Dot path from the record's top level. */
  path: string;
  /** Records of the batch holding the field, by the type of its value there. */
  types: TypeCounts;
  /**
   * The first value of a scalar type seen, as JSON text (numbers with every digit), clipped;
   * absent for objects, arrays and redacted fields.
   */
  example?: string;
  /** Set when the model hashes the field: its values are never shown, not even hashed. */
  redacted?: boolean;
}

/** A batch's observations with the time they are merged at. */
export interface FieldBatch {
  fields: readonly FieldObservation[];
  /** ISO time the records were stored at. */
  at: string;
}

/** One field of a project's catalog. */
export interface CatalogField {
  path: string;
  types: TypeCounts;
  /** Records that held the field (the sum of `types`). */
  count: number;
  firstSeen: string;
  lastSeen: string;
  example?: string;
  redacted?: boolean;
}

/** What a merge changed in the catalog's knowledge of a field: new to it, or a new type. */
export interface FieldChange {
  path: string;
  /** Types the catalog knew before the merge; empty for a new field. */
  knownTypes: FieldType[];
  /** Types the batch added. */
  newTypes: FieldType[];
}

export const totalOf = (types: TypeCounts): number => FIELD_TYPES.reduce((sum, type) => sum + (types[type] ?? 0), 0);

/** The changes a batch brings to a field known with `known` counts (undefined: not known at all). */
export function changeOf(observation: FieldObservation, known: TypeCounts | undefined): FieldChange | undefined {
  const knownTypes = known === undefined ? [] : FIELD_TYPES.filter((type) => (known[type] ?? 0) > 0);
  const newTypes = FIELD_TYPES.filter((type) => (observation.types[type] ?? 0) > 0 && !knownTypes.includes(type));
  if (known !== undefined && newTypes.length === 0) return undefined;
  return { path: observation.path, knownTypes, newTypes };
}
