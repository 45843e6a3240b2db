import type { z } from 'zod';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { parseStored } from '../../domain/model.js';
import { errorName } from '../sdk-errors.js';

/**
 * Runs a write whose ConditionExpression may fail: resolves with its output when the
 * condition held, and with undefined when DynamoDB refused it for the condition alone.
 * Every other failure is thrown as is (the caller's `guard` translates it).
 */
export async function whenConditionHolds<T>(write: () => Promise<T>): Promise<T | undefined> {
  try {
    return await write();
  } catch (error) {
    if (errorName(error) === 'ConditionalCheckFailedException') return undefined;
    throw error;
  }
}

/** An item read back from a table, validated against the domain's schema (key attributes dropped). */
export function fromItem<T>(schema: z.ZodType<T>, item: Record<string, AttributeValue>, what: string): T {
  return parseStored(schema, unmarshall(item), what);
}
