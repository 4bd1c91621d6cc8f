/**
 * Everything a scenario creates is undone by its Cleanup, in reverse order, also when the
 * scenario fails or the run is interrupted (SIGINT/SIGTERM run every open Cleanup before the
 * process exits; a second signal, or an exit that cannot wait, runs the synchronous fallbacks:
 * killing process groups and deleting namespaces).
 */
import { spawnSync } from 'node:child_process';

interface Item {
  what: string;
  fn: () => void | Promise<void>;
  sync?: () => void;
}

export class Cleanup {
  private items: Item[] = [];
  private closed = false;
  readonly errors: string[] = [];

  constructor(readonly name: string, private readonly parent?: Cleanup) {}

  /** A nested cleanup, closed by this one if its owner did not close it. */
  child(name: string): Cleanup {
    const c = new Cleanup(name, this);
    this.items.push({ what: `cleanup of ${name}`, fn: () => c.close().then(() => undefined), sync: () => c.closeSync() });
    return c;
  }

  /**
   * Registers an undo step. `sync` is what to do when there is no time to wait (defaults to fn
   * when fn is synchronous). Returns a function that runs the step now and forgets it.
   */
  defer(what: string, fn: () => void | Promise<void>, sync?: () => void): () => Promise<void> {
    if (this.closed) throw new Error(`cleanup ${this.name} is closed; cannot add: ${what}`);
    const item: Item = { what, fn, ...(sync ? { sync } : {}) };
    this.items.push(item);
    return async () => {
      const i = this.items.indexOf(item);
      if (i < 0) return;
      this.items.splice(i, 1);
      await this.step(item);
    };
  }

  private async step(item: Item): Promise<void> {
    try {
      await item.fn();
    } catch (e) {
      this.errors.push(`${item.what}: ${(e as Error).message}`);
    }
  }

  /** Runs every step, last first; collects (never throws) errors. Idempotent. */
  async close(): Promise<string[]> {
    while (this.items.length) await this.step(this.items.pop()!);
    this.closed = true;
    if (this.parent) this.parent.forget(this);
    return this.errors;
  }

  /** Best effort without waiting: the synchronous fallbacks, last first. */
  closeSync(): void {
    while (this.items.length) {
      const it = this.items.pop()!;
      try {
        if (it.sync) it.sync();
        else {
          const r = it.fn();
          if (r instanceof Promise) r.catch(() => undefined);
        }
      } catch {
        /* best effort */
      }
    }
    this.closed = true;
  }

  private forget(child: Cleanup): void {
    this.items = this.items.filter((it) => it.what !== `cleanup of ${child.name}`);
  }
}

/** The run's root: every scenario's cleanup is its child. */
export const root = new Cleanup('bench');

let interrupted = 0;
/** SIGINT/SIGTERM: undo everything, then exit 130 (a second signal: synchronous fallbacks only). */
export function installSignalHandlers(log: (s: string) => void): void {
  const onSignal = (sig: NodeJS.Signals): void => {
    interrupted++;
    if (interrupted > 1) {
      log(`${sig} again: quick cleanup (process groups, namespaces) and exit`);
      root.closeSync();
      process.exit(130);
    }
    log(`${sig}: cleaning up what the bench created (send it again to skip waiting)`);
    void root.close().then((errs) => {
      for (const e of errs) log(`cleanup: ${e}`);
      process.exit(130);
    });
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.on('SIGHUP', onSignal);
  process.on('exit', () => root.closeSync());
}

/** Deletes network namespaces synchronously (used as a fallback). */
export function delNetnsSync(names: string[]): void {
  for (const n of names) spawnSync('ip', ['netns', 'del', n], { stdio: 'ignore' });
}
