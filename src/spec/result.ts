/** Outcome of parsing one user-supplied string: a value, or a message saying what is wrong with it. */
export type Parsed<T> = { ok: true; value: T } | { ok: false; error: string };

export const parsed = <T>(value: T): Parsed<T> => ({ ok: true, value });
export const failed = <T = never>(error: string): Parsed<T> => ({ ok: false, error });
