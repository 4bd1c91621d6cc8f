#!/usr/bin/env node
/**
 * The `vnf` CNI plugin executable (installed by `make cni-install` into /usr/lib/cni and
 * /opt/cni/bin). Reads CNI_* from the environment and the network configuration from stdin,
 * prints the result — or the spec's error object — on stdout as JSON, exits 0 or 1. Only what a
 * command needs is loaded: VERSION (which podman asks before every command) loads no schema
 * library, addon or dataplane code.
 */
import { readFileSync } from 'node:fs';
import { CNI_CODES, CniError, errorResult } from '../src/cni/errors.js';
import { parseEnv } from '../src/cni/env.js';
import { LATEST_VERSION, versionOf, versionResult } from '../src/cni/versions.js';

function readStdin(): string {
  try {
    return readFileSync(0, 'utf8');
  } catch {
    return '';
  }
}

const print = (v: unknown): void => {
  process.stdout.write(JSON.stringify(v) + '\n');
};

async function main(): Promise<number> {
  const stdin = readStdin();
  const asked = versionOf(stdin);
  try {
    const env = parseEnv(process.env);
    if (env.command === 'VERSION') {
      print(versionResult(asked));
      return 0;
    }
    const { parseConfig } = await import('../src/cni/config.js');
    const conf = parseConfig(stdin);
    const plugin = await import('../src/cni/plugin.js');
    if (env.command === 'ADD') print(await plugin.add(env, conf, stdin));
    else if (env.command === 'DEL') await plugin.del(env, conf, stdin);
    else if (env.command === 'CHECK') await plugin.check(env, conf);
    else if (env.command === 'GC') await plugin.gc(env, conf, stdin);
    else plugin.status(conf);
    return 0;
  } catch (e) {
    // Something unforeseen: its message for the runtime, its stack on stderr (runtimes log it).
    if (!(e instanceof CniError)) process.stderr.write(`vnf CNI plugin: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    const err = e instanceof CniError ? e : new CniError(CNI_CODES.io, e instanceof Error ? e.message : String(e));
    print(errorResult(asked ?? LATEST_VERSION, err));
    return 1;
  }
}

process.exitCode = await main();
