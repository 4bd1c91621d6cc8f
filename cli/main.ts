#!/usr/bin/env node
/**
 * vnf-ctl: a thin shell over the vnf library. Each command lives in its own file under
 * cli/commands and calls one library function, imported when the command runs (so `--help`,
 * `validate` and `schema` load neither the native addon nor the dataplane code). This is the only
 * place that decides exit codes: 0 success, 1 failure, 2 invalid input.
 */
import { Command, CommanderError } from 'commander';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { projectRoot } from '../src/native/binding.js';
import { register as doctor } from './commands/doctor.js';
import { register as validate } from './commands/validate.js';
import { register as schema } from './commands/schema.js';
import { register as plan } from './commands/plan.js';
import { register as apply } from './commands/apply.js';
import { register as destroy } from './commands/destroy.js';
import { register as lab } from './commands/lab.js';
import { register as attach } from './commands/attach.js';
import { register as get } from './commands/get.js';
import { register as stats } from './commands/stats.js';
import { register as conntrack } from './commands/conntrack.js';
import { register as nat } from './commands/nat.js';
import { register as graph } from './commands/graph.js';
import { register as metrics } from './commands/metrics.js';
import { register as monitor } from './commands/monitor.js';
import { register as trace } from './commands/trace.js';

function version(): string {
  return (JSON.parse(readFileSync(join(projectRoot(), 'package.json'), 'utf8')) as { version: string }).version;
}

export function buildProgram(): Command {
  const program = new Command('vnf-ctl')
    .description('eBPF virtual network functions (bridge, router, NAT, firewall) driven by a topology file')
    .version(version())
    .exitOverride()
    .showHelpAfterError();
  for (const r of [validate, schema, plan, apply, get, stats, metrics, monitor, conntrack, nat, trace, graph, attach, lab, destroy, doctor]) r(program);
  return program;
}

/** Errors that mean "the input is wrong" (exit 2), by name: the classes live in lazily loaded modules. */
const INVALID_INPUT = new Set(['UsageError', 'InputError', 'ConcurrentChangeError', 'RecordMismatchError', 'NameError', 'SpecError', 'FirewallTooComplexError']);

export function exitCodeFor(e: unknown): number {
  if (e instanceof CommanderError) return e.exitCode === 0 ? 0 : 2;
  if (e instanceof Error && INVALID_INPUT.has(e.name)) return 2;
  return 1;
}

async function main(argv: string[]): Promise<void> {
  // `vnf-ctl get | head`: a reader that goes away ends the output, not with a stack trace.
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(0);
    throw e;
  });
  try {
    await buildProgram().parseAsync(argv);
  } catch (e) {
    let code = exitCodeFor(e);
    // plan --detailed-exitcode: 2 means "changes", so a bad invocation is 1 there too.
    if (code === 2 && argv.includes('--detailed-exitcode') && argv.includes('plan')) code = 1;
    if (e instanceof CommanderError) {
      process.exit(code); // commander already printed the message
    }
    if (e instanceof Error) {
      console.error(`vnf-ctl: ${e.message}`);
      const log = (e as { log?: string }).log;
      if (e.name === 'BpfError' && log) console.error(`verifier log:\n${log}`);
    } else {
      console.error(`vnf-ctl: ${String(e)}`);
    }
    process.exit(code);
  }
}

void main(process.argv);
