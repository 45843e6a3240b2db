import type { Request, RequestHandler } from 'express';
import { errors } from '../errors.js';

/**
 * The query parameters a route reads: exact names, and families written with a
 * placeholder (`where.<field>`, `where.<field>.prefix`) that stand for any name of that
 * shape. Anything else is refused rather than ignored: a guessed filter that silently
 * answers the unfiltered first page looks as if it worked.
 */
export type AcceptedParameters = readonly string[];

const PLACEHOLDER = /<[a-z]+>/g;

function matcherOf(accepted: string): (name: string) => boolean {
  if (!accepted.includes('<')) return (name) => name === accepted;
  const escaped = accepted.split(PLACEHOLDER).map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
  const pattern = new RegExp(`^${escaped.join('.+')}$`, 's');
  return (name) => pattern.test(name);
}

/** Throws unknown_parameter for the first parameter of `query` that `accepted` does not name. */
export function assertKnownParameters(query: Request['query'], accepted: AcceptedParameters): void {
  const matchers = accepted.map(matcherOf);
  for (const name of Object.keys(query)) {
    if (!matchers.some((matches) => matches(name))) throw errors.unknownParameter(name, accepted);
  }
}

/** Middleware form, for routes whose parameters do not depend on the project. */
export function acceptParameters(...accepted: string[]): RequestHandler {
  return (req, _res, next) => {
    assertKnownParameters(req.query, accepted);
    next();
  };
}
