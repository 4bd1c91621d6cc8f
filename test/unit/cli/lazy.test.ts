/**
 * --help, --version and every command's --help stay light: they load neither zod, the YAML
 * parsers nor the native addon. Checked on the shipped bundle with a module-load hook (which
 * chunks were evaluated) and the process's shared objects (whether the addon was dlopen'ed).
 */
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ROOT } from '../../helpers/paths.js';

const dir = mkdtempSync(join(tmpdir(), 'vnf-lazy-cli-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
writeFileSync(join(dir, 'hooks.mjs'), `import { appendFileSync } from 'node:fs';
export async function load(url, ctx, next) { appendFileSync(process.env.VNF_LOAD_LOG, url + '\\n'); return next(url, ctx); }
`);
writeFileSync(join(dir, 'register.mjs'), `import { register } from 'node:module';
import { appendFileSync } from 'node:fs';
register(${JSON.stringify(new URL(`file://${join(dir, 'hooks.mjs')}`).href)});
process.on('exit', () => {
  const so = process.report.getReport().sharedObjects.filter((f) => f.endsWith('.node'));
  appendFileSync(process.env.VNF_LOAD_LOG, so.map((f) => 'shared:' + f + '\\n').join(''));
});
`);

/** Text only these libraries contain: the chunk that holds them was loaded. */
const MARKERS: Record<string, RegExp> = { zod: /\bZodError\b/, yaml: /\bYAMLParseError\b/, 'js-yaml': /\bYAMLException\b/, 'cli-table3': /cli-table3|\bcolSpan\b/ };

function loaded(args: string[]): { libs: string[]; addon: boolean; status: number | null } {
  const log = join(dir, `log-${Math.random().toString(36).slice(2)}`);
  writeFileSync(log, '');
  const r = spawnSync(process.execPath, ['--import', join(dir, 'register.mjs'), join(ROOT, 'dist', 'vnf-ctl.js'), ...args], {
    encoding: 'utf8', env: { ...process.env, VNF_LOAD_LOG: log },
  });
  const lines = readFileSync(log, 'utf8').split('\n').filter(Boolean);
  const files = lines.filter((l) => l.startsWith('file:')).map((l) => readFileSync(fileURLToPath(l), 'utf8'));
  const libs = Object.entries(MARKERS).filter(([, re]) => files.some((f) => re.test(f))).map(([k]) => k);
  return { libs, addon: lines.some((l) => l.startsWith('shared:') && l.endsWith('vnf_native.node')), status: r.status };
}

t.test('the probe sees what a real command loads', async (t) => {
  const v = loaded(['validate', '-f', join(ROOT, 'examples', 'demo.yaml')]);
  t.equal(v.status, 0);
  t.ok(v.libs.includes('zod'), `validate loads zod (${v.libs.join(', ')})`);
  const d = loaded(['version']);
  t.ok(d.addon, 'version loads the addon (libbpf version)');
});

t.test('--help, --version and every command\'s --help load none of them', async (t) => {
  const help = spawnSync(process.execPath, [join(ROOT, 'dist', 'vnf-ctl.js'), '--help'], { encoding: 'utf8' }).stdout;
  const cmds = help.slice(help.indexOf('Commands:')).split('\n').slice(1).map((l) => /^ {2}(\S+)/.exec(l)?.[1]).filter((x): x is string => !!x && x !== 'help');
  t.ok(cmds.includes('version') && cmds.includes('completion') && cmds.includes('validate'), cmds.join(' '));
  for (const args of [['--help'], ['--version'], ...cmds.map((c) => [c, '--help']), ['lab', 'up', '--help']]) {
    const r = loaded(args);
    t.equal(r.status, 0, `${args.join(' ')}: exit 0`);
    t.same(r.libs, [], `${args.join(' ')}: no zod, yaml, js-yaml or table library`);
    t.notOk(r.addon, `${args.join(' ')}: no addon`);
  }
});
