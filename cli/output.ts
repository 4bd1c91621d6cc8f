/** Output rendering shared by the commands: -o table|json|yaml. */
import { createRequire } from 'node:module';

export type OutputFormat = 'table' | 'json' | 'yaml';

export function parseFormat(v: string): OutputFormat {
  const f = v.toLowerCase();
  if (f === 'table' || f === 'json' || f === 'yaml') return f;
  throw new UsageError(`unknown output format "${v}" (use table, json or yaml)`);
}

/** Invalid invocation or input: exit code 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

function replacer(_k: string, v: unknown): unknown {
  return typeof v === 'bigint' ? Number(v) : v;
}

export function renderData(data: unknown, format: 'json' | 'yaml'): string {
  if (format === 'json') return JSON.stringify(data, replacer, 2);
  const { stringify } = createRequire(import.meta.url)('yaml') as typeof import('yaml');
  return stringify(JSON.parse(JSON.stringify(data, replacer)));
}

export async function table(head: string[], rows: Array<Array<string | number | bigint | undefined>>): Promise<string> {
  const { default: Table } = await import('cli-table3');
  const t = new Table({ head, style: { head: [], border: [] } });
  for (const r of rows) t.push(r.map((c) => (c === undefined ? '-' : String(c))));
  return t.toString();
}

/** For commands that wait on a topology's lock: says whom they wait for, once. */
export const lockWait = {
  onWait: (holder: string): void => {
    console.error(`waiting for ${holder} to finish changing this topology...`);
  },
};
