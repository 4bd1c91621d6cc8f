/** vnf-ctl completion bash|zsh: a script from the command tree; bash completes commands, options and NAMEs. */
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { bashCompletion } from '../../../cli/completion.js';
import { vnfctl } from '../../helpers/cli.js';

const dir = mkdtempSync(join(tmpdir(), 'vnf-compl-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

/** What the bash function offers for the words typed so far (the last one is being completed). */
function complete(script: string, words: string[]): string[] {
  const file = join(dir, 'c.bash');
  writeFileSync(file, script);
  const arr = words.map((w) => `'${w}'`).join(' ');
  const r = spawnSync('bash', ['-c', `source ${file}; COMP_WORDS=(${arr}); COMP_CWORD=${words.length - 1}; _vnf_ctl; printf '%s\\n' "\${COMPREPLY[@]}"`], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(r.stderr);
  return r.stdout.split('\n').filter(Boolean).sort();
}

t.test('the bash script of vnf-ctl', async (t) => {
  const r = vnfctl(['completion', 'bash']);
  t.equal(r.status, 0, r.stderr);
  t.match(r.stdout, /complete -o default -F _vnf_ctl vnf-ctl/);
  t.same(complete(r.stdout, ['vnf-ctl', 'ap']), ['apply'], 'vnf-ctl ap -> apply');
  const opts = complete(r.stdout, ['vnf-ctl', 'apply', '--']);
  for (const o of ['--file', '--quiet', '--fast-attach', '--store', '--help']) t.ok(opts.includes(o), `apply -- lists ${o}`);
  t.notOk(opts.includes('--detailed-exitcode'), 'only apply\'s options (--detailed-exitcode is plan\'s)');
  t.same(complete(r.stdout, ['vnf-ctl', 'lab', '']), ['--help', 'down', 'exec', 'up'], 'subcommands of lab');
  t.same(complete(r.stdout, ['vnf-ctl', 'lab', 'up', '--f']), ['--fast-attach', '--file'], 'options of lab up');
  t.same(complete(r.stdout, ['vnf-ctl', 'get', '-o', 'json', '--o']), ['--only', '--output'], 'options after options');
  const files = complete(r.stdout, ['vnf-ctl', 'validate', '-f', 'examples/de']);
  t.same(files, ['examples/demo.yaml'], 'files after -f');
});

t.test('topology names from the record directory, where a command takes NAME', async (t) => {
  const run = join(dir, 'run');
  for (const n of ['alpha', 'beta']) mkdirSync(join(run, n), { recursive: true });
  const program = new Command('vnf-ctl');
  program.command('get').argument('[NAME]').option('-o, --output <f>');
  program.command('validate').option('-f, --file <f>');
  const script = bashCompletion(program, run);
  t.same(complete(script, ['vnf-ctl', 'get', '']), ['--help', '--output', '-o', 'alpha', 'beta']);
  t.same(complete(script, ['vnf-ctl', 'get', 'al']), ['alpha']);
  t.same(complete(script, ['vnf-ctl', 'validate', '']), ['--file', '--help', '-f'], 'no names where no NAME is taken');
});

t.test('a hostile name in the record directory is neither run nor offered', async (t) => {
  const run = join(dir, 'run-hostile');
  const marker = join(dir, 'PWNED');
  for (const n of ['good', `$(touch ${marker})`, '`touch x`', '*']) mkdirSync(join(run, n), { recursive: true });
  const program = new Command('vnf-ctl');
  program.command('get').argument('[NAME]');
  const offered = complete(bashCompletion(program, run), ['vnf-ctl', 'get', '']);
  t.same(offered, ['--help', 'good'], 'only names a topology can have');
  t.notOk(existsSync(marker), 'no command substitution ran');
});

t.test('zsh reuses it through bashcompinit; another shell is invalid input', async (t) => {
  const z = vnfctl(['completion', 'zsh']);
  t.equal(z.status, 0);
  t.match(z.stdout, /^#compdef vnf-ctl\n/);
  t.match(z.stdout, /bashcompinit/);
  t.match(z.stdout, /_vnf_ctl\(\)/);
  const f = vnfctl(['completion', 'fish']);
  t.equal(f.status, 2);
  t.match(f.stderr, /unknown shell "fish" \(use bash or zsh\)/);
});
