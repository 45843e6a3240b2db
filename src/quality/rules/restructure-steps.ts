import { fail, Rebuilt, type CompiledStep } from './compiled-step.js';
import { deleteAt, getAt, hasAt, hasOwnKey, setAt, splitPath, withoutKeys, type FieldPath } from './field-path.js';
import type { StepOf } from './rule-schema.js';

/**
 * The steps that take fields out of a record: rename, drop and keep. A top-level field is
 * taken out by building the record anew without it (see withoutKeys); a nested one is
 * deleted where it is. Either way the fields come out in the order `delete` leaves them.
 */

export function renameStep(step: StepOf<'rename'>): CompiledStep {
  const from = splitPath(step.from);
  const to = splitPath(step.to);
  const topLevel = from.length === 1 ? new Set(from) : undefined;
  return (r) => {
    if (!hasAt(r, from)) return undefined;
    const value = getAt(r, from);
    let out = r;
    if (topLevel !== undefined) out = withoutKeys(r, topLevel);
    else deleteAt(r, from);
    if (!setAt(out, to, value)) return fail(step.to, 'a parent of the field is not an object');
    return out === r ? undefined : new Rebuilt(out);
  };
}

export function dropStep(step: StepOf<'drop'>): CompiledStep {
  const paths = step.fields.map(splitPath);
  const nested = paths.filter((p) => p.length > 1);
  const topLevel = new Set(paths.filter((p) => p.length === 1).map((p) => p[0]!));
  const topKeys = [...topLevel];
  return (r) => {
    for (const p of nested) deleteAt(r, p);
    for (const key of topKeys) if (hasOwnKey(r, key)) return new Rebuilt(withoutKeys(r, topLevel));
    return undefined;
  };
}

export function keepStep(step: StepOf<'keep'>): CompiledStep {
  const paths = step.fields.map(splitPath);
  return (r) => {
    const kept: [FieldPath, unknown][] = [];
    for (const p of paths) if (hasAt(r, p)) kept.push([p, getAt(r, p)]);
    const out: Record<string, unknown> = {};
    for (const [p, v] of kept) setAt(out, p, v);
    return new Rebuilt(out);
  };
}
