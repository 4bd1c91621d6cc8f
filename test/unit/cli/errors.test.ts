/**
 * A mistake on the command line is one line and a hint, never the whole help: "error: ...",
 * "(Did you mean ...?)" for a near miss, "Run 'vnf-ctl CMD --help' for usage.", exit 2.
 * Every command refuses unknown options (commander's allowUnknownOption is off everywhere).
 */
import t from 'tap';
import { vnfctl } from '../../helpers/cli.js';

/** Every command path, read from `--help` of the program and of each command with subcommands. */
function commands(): string[][] {
  const names = (help: string): string[] => {
    const at = help.indexOf('Commands:');
    if (at < 0) return [];
    return help.slice(at).split('\n').slice(1).map((l) => /^ {2}(\S+)/.exec(l)?.[1]).filter((x): x is string => !!x && x !== 'help');
  };
  const out: string[][] = [];
  for (const c of names(vnfctl(['--help']).stdout)) {
    out.push([c]);
    for (const s of names(vnfctl([c, '--help']).stdout)) out.push([c, s]);
  }
  return out;
}

t.test('an option typo: one line, a suggestion, a hint, exit 2', async (t) => {
  const r = vnfctl(['apply', '--fle', 'x.yaml']);
  t.equal(r.status, 2);
  t.equal(r.stderr, "error: unknown option '--fle'\n(Did you mean --file?)\nRun 'vnf-ctl apply --help' for usage.\n",
    'reported as an unknown option (not as the missing --file it hides)');
  t.equal(r.stdout, '', 'no help on stdout');
  const q = vnfctl(['apply', '-f', 'x.yaml', '--quite']);
  t.match(q.stderr, /^error: unknown option '--quite'\n\(Did you mean --quiet\?\)\nRun 'vnf-ctl apply --help' for usage\.\n$/);
});

t.test('other mistakes: the same shape', async (t) => {
  const cmd = vnfctl(['aply']);
  t.equal(cmd.status, 2);
  t.equal(cmd.stderr, "error: unknown command 'aply'\n(Did you mean apply?)\nRun 'vnf-ctl --help' for usage.\n");
  const sub = vnfctl(['lab', 'upp']);
  t.equal(sub.status, 2);
  t.match(sub.stderr, /^error: unknown command 'upp'\n\(Did you mean up\?\)\nRun 'vnf-ctl lab --help' for usage\.\n$/);
  const missing = vnfctl(['plan']);
  t.equal(missing.status, 2);
  t.equal(missing.stderr, "error: required option '-f, --file <FILE>' not specified\nRun 'vnf-ctl plan --help' for usage.\n");
  const arg = vnfctl(['conntrack']);
  t.equal(arg.status, 2);
  t.equal(arg.stderr, "error: missing required argument 'NAME'\nRun 'vnf-ctl conntrack --help' for usage.\n");
  const fmt = vnfctl(['version', '-o', 'xml']);
  t.equal(fmt.status, 2);
  t.equal(fmt.stderr, 'vnf-ctl: unknown output format "xml" (use table, wide, json or yaml)\nRun \'vnf-ctl version --help\' for usage.\n', 'a usage error found by a command: the hint too');
  const missingFile = vnfctl(['validate', '-f', '/nonexistent/x.yaml']);
  t.equal(missingFile.status, 2);
  t.match(missingFile.stderr, /^\/nonexistent\/x\.yaml: cannot read topology file: ENOENT.*\n1 problem \(1 error, 0 warnings\)\n$/);
});

t.test('every command refuses an unknown option (exit 2, no help)', async (t) => {
  const all = commands();
  t.ok(all.length >= 18, `commands: ${all.map((c) => c.join(' ')).join(', ')}`);
  for (const c of all) {
    const r = vnfctl([...c, '--no-such-option']);
    t.equal(r.status, 2, `${c.join(' ')}: exit 2`);
    t.match(r.stderr, /^error: unknown option '--no-such-option'\n/, `${c.join(' ')}: unknown option`);
    t.notMatch(r.stderr + r.stdout, /Usage:/, `${c.join(' ')}: not the whole help`);
  }
});

t.test('--no-headers drops the header row of tables', async (t) => {
  const a = vnfctl(['version']);
  const b = vnfctl(['version', '--no-headers']);
  t.match(a.stdout, /^COMPONENT\s+VERSION\n/);
  const words = (text: string): string[][] => text.trim().split('\n').map((l) => l.trim().split(/\s{2,}/));
  t.same(words(b.stdout), words(a.stdout).slice(1), 'the same rows without the header');
  t.notMatch(a.stdout, /[│┌─┐└┘]/, 'no box drawing');
});
