/**
 * The connection to the store (etcd, through the etcd3 client, loaded only here and only when a
 * command is given --store). Calls have short deadlines and no hidden retries: a CLI command
 * fails fast with "cannot reach the store at URL: …" (exit 1), and the agent retries on its own.
 */
import { createRequire } from 'node:module';
import type { Etcd3, IOptions } from 'etcd3';
import { InputError } from '../ops/errors.js';
import { storeKeys, type StoreKeys } from './keys.js';

/** The store did not answer (down, unreachable, too slow): exit 1. */
export class StoreUnreachableError extends Error {
  override name = 'StoreUnreachableError';
}

/** The store answered with an error. */
export class StoreError extends Error {
  override name = 'StoreError';
}

export interface StoreOptions {
  prefix?: string;
  /** Deadline of each call (ms). */
  timeoutMs?: number;
}

export interface Store {
  url: string;
  keys: StoreKeys;
  client: Etcd3;
  /** Runs one call against the store, mapping the client's errors to StoreUnreachableError/StoreError. */
  call<T>(f: (c: Etcd3) => Promise<T>): Promise<T>;
  close(): void;
}

/** Checks a store URL: http(s)://host:port. */
export function checkStoreUrl(url: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new InputError(`invalid store URL "${url}": use http://HOST:PORT (e.g. http://127.0.0.1:2379)`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new InputError(`invalid store URL "${url}": the scheme is http or https`);
  if (!u.hostname) throw new InputError(`invalid store URL "${url}": no host`);
  return `${u.protocol}//${u.host}`;
}

type Etcd3Module = typeof import('etcd3');

let mod: Etcd3Module | undefined;
const etcd3 = (): Etcd3Module => (mod ??= createRequire(import.meta.url)('etcd3') as Etcd3Module);

/** Whether an error of the client means the store could not be reached (rather than refused the call). */
export function isUnreachable(e: unknown): boolean {
  if (!(e instanceof Error)) return false;
  const m = etcd3();
  return e instanceof m.GRPCUnavailableError || e instanceof m.GRPCDeadlineExceededError ||
    e instanceof m.GRPCCancelledError || e instanceof m.ClientClosedError || /ECONNREFUSED|deadline|unavailable|No connection/i.test(e.message);
}

/** gRPC's message without its status code and trailing notes: "connect ECONNREFUSED 127.0.0.1:2379". */
export function readable(e: unknown): string {
  const m = e instanceof Error ? e.message : String(e);
  const cause = /Last error: (?:Error: )?(.*?)(?:\. Resolution note:.*)?$/.exec(m);
  if (cause?.[1]) return cause[1].trim();
  return m.replace(/^\d+ [A-Z_]+: /, '').replace(/\. Resolution note:.*$/, '').trim() || m;
}

export function connectStore(url: string, opts: StoreOptions = {}): Store {
  const keys = storeKeys(opts.prefix);
  const host = checkStoreUrl(url);
  const m = etcd3();
  const { noop, ExponentialBackoff } = createRequire(import.meta.url)('cockatiel') as typeof import('cockatiel');
  const timeout = opts.timeoutMs ?? 2000;
  const options: IOptions = {
    hosts: host,
    dialTimeout: timeout,
    // The store is on the underlay, never behind a proxy an environment variable names.
    grpcOptions: { 'grpc.enable_http_proxy': 0 },
    defaultCallOptions: (ctx) => (ctx.isStream ? {} : { deadline: Date.now() + timeout }),
    faultHandling: {
      host: () => noop,
      global: noop,
      // etcd3 declares an IBackoff but calls next() on it first, as on its own default (a factory).
      watchBackoff: new ExponentialBackoff({ initialDelay: 100, maxDelay: 2000 }) as unknown as NonNullable<NonNullable<IOptions['faultHandling']>['watchBackoff']>,
    },
  };
  const client = new m.Etcd3(options);
  return {
    url: host,
    keys,
    client,
    call: async <T>(f: (c: Etcd3) => Promise<T>): Promise<T> => {
      try {
        return await f(client);
      } catch (e) {
        const reason = readable(e);
        if (isUnreachable(e)) throw new StoreUnreachableError(`cannot reach the store at ${host}: ${reason}`);
        throw new StoreError(`the store at ${host} refused the call: ${reason}`);
      }
    },
    close: () => client.close(),
  };
}
