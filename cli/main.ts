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
import { register as versionCmd } from './commands/version.js';
import { register as completion } from './commands/completion.js';
import { tableSettings } from './output.js';

function version(): string {
  return (JSON.parse(readFileSync(join(projectRoot(), 'package.json'), 'utf8')) as { version: string }).version;
}

export function buildProgram(): Command {
  const program = new Command('vnf-ctl')
    .description('eBPF virtual network functions (bridge, router, NAT, firewall) driven by a topology file')
    .version(version())
    .option('--no-headers', 'print tables without their header row')
    .exitOverride();
  for (const r of [validate, schema, plan, apply, get, stats, metrics, monitor, conntrack, nat, trace, graph, attach, lab, destroy, doctor, versionCmd, completion]) r(program);
  program.hook('preAction', (_root, action) => {
    tableSettings.headers = program.opts<{ headers: boolean }>().headers;
    current = action;
  });
  forEachCommand(program, (c) => {
    // A mistake is one line and a hint, not the whole help: commander prints "error: ..." (with
    // "Did you mean ...?" for a near miss), then this line.
    c.showHelpAfterError(`Run '${commandPath(c)} --help' for usage.`);
    c.allowUnknownOption(false);
    // `apply --fle x`: commander checks required options before unknown ones, which would say
    // "--file not specified"; the typo is the real mistake, so it is reported first.
    // (Both methods are commander's, undeclared in its types.)
    const inner = c as unknown as { missingMandatoryOptionValue(o: unknown): void; unknownOption(flag: string): void };
    const missing = inner.missingMandatoryOptionValue.bind(c);
    inner.missingMandatoryOptionValue = (option) => {
      const typo = c.args.find((a) => a.startsWith('-') && a !== '-' && a !== '--');
      if (typo !== undefined) inner.unknownOption(typo);
      missing(option);
    };
  });
  return program;
}

/** The command whose action runs (for the usage hint of errors it throws). */
let current: Command | undefined;

export function forEachCommand(c: Command, f: (c: Command) => void): void {
  f(c);
  for (const sub of c.commands) forEachCommand(sub, f);
}

/** `vnf-ctl lab up` */
export function commandPath(c: Command): string {
  const names: string[] = [];
  for (let x: Command | null = c; x; x = x.parent) names.unshift(x.name());
  return names.join(' ');
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
      process.exit(code); // commander already printed the message and the hint
    }
    if (e instanceof Error && e.name === 'SpecError') {
      // Every problem of the file, one per line (file:line:col: path: message), then the count.
      const { problemSummary } = await import('./output.js');
      const issues = (e as Error & { issues: Array<{ severity?: 'warning' }> }).issues;
      console.error(e.message);
      console.error(problemSummary(issues));
    } else if (e instanceof Error) {
      console.error(`vnf-ctl: ${e.message}`);
      const log = (e as { log?: string }).log;
      if (e.name === 'BpfError' && log) console.error(`verifier log:\n${log}`);
      if (e.name === 'UsageError' && current) console.error(`Run '${commandPath(current)} --help' for usage.`);
    } else {
      console.error(`vnf-ctl: ${String(e)}`);
    }
    process.exit(code);
  }
}

void main(process.argv);
