#!/usr/bin/env node
/**
 * vnf-agent: runs on every host of a topology that spans hosts. It registers the host in the
 * store, watches the topology, and applies this host's slice (src/agent/agent.ts). Exit codes:
 * 0 stopped by SIGTERM/SIGINT, 1 failure, 2 invalid input.
 */
import { Command, CommanderError, InvalidArgumentError } from 'commander';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { projectRoot } from '../src/native/binding.js';

const version = (): string => (JSON.parse(readFileSync(join(projectRoot(), 'package.json'), 'utf8')) as { version: string }).version;

const seconds = (v: string): number => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 2 || n > 3600) throw new InvalidArgumentError('a whole number of seconds from 2 to 3600');
  return n;
};

interface Options { host: string; store: string; storePrefix?: string; underlay?: string; ttl: number; device: string }

async function run(o: Options): Promise<void> {
  const { checkHostName } = await import('../src/store/keys.js');
  const { checkIfname } = await import('../src/spec/names.js');
  const { InputError } = await import('../src/ops/errors.js');
  const { connectStore, checkStoreUrl } = await import('../src/store/client.js');
  const { underlayOf, underlayTowards } = await import('../src/agent/underlay.js');
  const { Agent } = await import('../src/agent/agent.js');
  const { stderrLog } = await import('../src/agent/log.js');
  const { requireEnvironment } = await import('../src/ops/topology.js');
  checkHostName(o.host);
  const bad = checkIfname(o.device);
  if (bad) throw new InputError(`--device: ${bad}`);
  const url = checkStoreUrl(o.store);
  const underlay = o.underlay !== undefined ? underlayOf(o.underlay) : underlayTowards(new URL(url).hostname);
  requireEnvironment();
  const store = connectStore(url, o.storePrefix !== undefined ? { prefix: o.storePrefix } : {});
  const log = stderrLog(o.host);
  const agent = new Agent({ store, host: o.host, underlay, bindDevice: o.underlay !== undefined, device: o.device, ttl: o.ttl, version: version(), log });
  log(`vnf-agent ${version()} starting: store ${url}${store.keys.prefix}, device ${o.device}, ttl ${o.ttl} s`);
  await new Promise<void>((resolve) => {
    const stop = (sig: string): void => {
      log(`${sig}: stopping (the dataplane keeps forwarding)`);
      void agent.stop().then(resolve, resolve);
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
    agent.start();
  });
}

const INVALID_INPUT = new Set(['UsageError', 'InputError', 'NameError', 'SpecError']);

async function main(argv: string[]): Promise<void> {
  const program = new Command('vnf-agent')
    .description('reconcile this host\'s part of a topology that spans hosts, from the store (etcd)')
    .version(version())
    .requiredOption('--host <NAME>', 'this host\'s name (as the topology\'s containers.NAME.host say)')
    .requiredOption('--store <URL>', 'the store, e.g. http://127.0.0.1:2379')
    .option('--store-prefix <PREFIX>', 'the store\'s key prefix (default /vnf/)')
    .option('--underlay <IFACE>', 'the underlay interface (its first IPv4 address is this host\'s VTEP); default: the one towards the store')
    .option('--ttl <SECONDS>', 'the lease of this host\'s registration: other hosts drop its endpoints this long after it is gone', seconds, 10)
    .option('--device <NAME>', 'the VXLAN device it creates', 'vnfvx0')
    .showHelpAfterError('Run \'vnf-agent --help\' for usage.')
    .addHelpText('after', '\nRun one per host, in the host\'s network namespace. SIGTERM/SIGINT stop it and leave the dataplane forwarding.\n\n' +
      'Examples:\n  vnf-agent --host h1 --store http://10.0.0.1:2379 --underlay eth0')
    .exitOverride()
    .action(run);
  try {
    await program.parseAsync(argv);
    process.exit(0);
  } catch (e) {
    if (e instanceof CommanderError) process.exit(e.exitCode === 0 ? 0 : 2);
    console.error(`vnf-agent: ${e instanceof Error ? e.message : String(e)}`);
    if (e instanceof Error && INVALID_INPUT.has(e.name)) {
      console.error('Run \'vnf-agent --help\' for usage.');
      process.exit(2);
    }
    process.exit(1);
  }
}

void main(process.argv);
