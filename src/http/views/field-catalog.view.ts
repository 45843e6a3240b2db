import type { CatalogField } from '../../quality/catalog/field-catalog.js';

/**
 * One catalog field as the API shows it. The example is kept as JSON text: strings,
 * booleans and null read back as themselves, a number as a JSON number when that keeps
 * every digit and as its digits in a string otherwise.
 */
export function catalogFieldView(field: CatalogField) {
  return {
    path: field.path,
    types: field.types,
    count: field.count,
    firstSeen: field.firstSeen,
    lastSeen: field.lastSeen,
    ...(field.redacted === true ? { redacted: true } : field.example === undefined ? {} : { example: exampleValue(field.example) }),
  };
}

function exampleValue(text: string): unknown {
  const first = text.charAt(0);
  if (first === '"' || text === 'true' || text === 'false' || text === 'null') return JSON.parse(text) as unknown;
  const number = Number(text);
  return Number.isFinite(number) && String(number) === text ? number : text;
}
