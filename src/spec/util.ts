/** Small helpers the spec stages and the VNF modules' fragments share. */
import type { Parsed } from './result.js';

/** The value of a parse that validation already accepted; a failure here is a bug, and throws. */
export function must<T>(result: Parsed<T>): T {
  if (!result.ok) throw new Error(`normalize: unvalidated input: ${result.error}`);
  return result.value;
}

/** Code-unit order, independent of locale, so the model is the same on every machine. */
export const compare = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

export const sortedEntries = <T>(record: Record<string, T> | undefined): [string, T][] =>
  Object.entries(record ?? {}).sort(([a], [b]) => compare(a, b));

/** An own property of a record (never one of Object.prototype's: "constructor" is a valid name). */
export function own<T>(record: Record<string, T> | undefined, key: string): T | undefined {
  return record !== undefined && Object.hasOwn(record, key) ? record[key] : undefined;
}

/** A list of names for a message: at most ten, then how many more. */
export function listNames(names: readonly string[]): string {
  return names.length <= 10 ? names.join(', ') : `${names.slice(0, 10).join(', ')} and ${names.length - 10} more`;
}
