/**
 * The native addon loads on first use, not on import: commands that never
 * touch the kernel (validate, schema, --help, --version) work without the
 * compiled .node file and do not pay for loading it.
 */
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ts from 'typescript';
import * as binding from '../../src/native/binding.js';
import * as bpf from '../../src/bpf/index.js';

/** Whether the addon is mapped into this process (what dlopen did, not what a cache says). */
function addonLoaded(): boolean {
  const report = process.report.getReport() as unknown as { sharedObjects: string[] };
  return report.sharedObjects.some((f) => f.endsWith('/vnf_native.node'));
}

t.test('importing the binding and src/bpf does not load the addon; first use does', async (t) => {
  t.ok(bpf.native, 'src/bpf/index.js re-exports the binding');
  t.equal(addonLoaded(), false, 'not loaded by importing src/native/binding.js and src/bpf/index.js');
  const root = binding.projectRoot();
  t.ok(readFileSync(join(root, 'package.json'), 'utf8').includes('"name": "vnf"'), 'projectRoot() finds the checkout');
  t.equal(addonLoaded(), false, 'projectRoot() (vnf-ctl --version) does not load it');
  await Promise.resolve(binding.native); // resolving with it looks up `then`
  t.equal(addonLoaded(), false, 'resolving a promise with it does not load it');
  t.match(binding.native.libbpfVersion, /^\d+\.\d+$/, 'first use works');
  t.equal(addonLoaded(), true, 'first use loaded it');
  t.equal(typeof binding.native.openPinnedMap, 'function', 'methods are reachable');
  t.ok('tcAttach' in binding.native, '`in` sees the addon');
  t.ok(Object.keys(binding.native).includes('BpfObject'), 'keys are the addon');
  t.throws(() => {
    (binding.native as unknown as Record<string, unknown>).libbpfVersion = 'x';
  }, TypeError, 'read-only');
});

/**
 * A copy of src/native (compiled to JS) under a project root without build/:
 * importing works, projectRoot() works, and only the first use fails, with
 * the error that says what to do.
 */
t.test('without a built addon, import succeeds and first use says "native addon not built"', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'vnf-lazy-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  const here = binding.projectRoot();
  writeFileSync(join(root, 'package.json'), JSON.stringify({ name: 'vnf-copy', type: 'module' }));
  writeFileSync(join(root, 'binding.gyp'), '{}');
  mkdirSync(join(root, 'src', 'native'), { recursive: true });
  for (const f of ['binding', 'errors']) {
    const src = readFileSync(join(here, 'src', 'native', `${f}.ts`), 'utf8');
    const out = ts.transpileModule(src, {
      compilerOptions: { module: ts.ModuleKind.ES2022, target: ts.ScriptTarget.ES2022 },
    });
    writeFileSync(join(root, 'src', 'native', `${f}.js`), out.outputText);
  }
  const script = `
    const m = await import(${JSON.stringify(join(root, 'src', 'native', 'binding.js'))});
    const out = { imported: true, root: m.projectRoot() };
    try { out.version = m.native.libbpfVersion; } catch (e) { out.error = e.message; }
    console.log(JSON.stringify(out));
  `;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 30_000 });
  t.equal(r.status, 0, `child exits cleanly (stderr: ${r.stderr.trim()})`);
  const out = JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}') as { imported?: boolean; root?: string; version?: string; error?: string };
  t.equal(out.imported, true, 'import succeeded without the addon');
  t.equal(out.root, root, 'projectRoot() works without the addon');
  t.equal(out.version, undefined, 'nothing was loaded');
  t.match(out.error, /native addon not built .*vnf_native\.node is missing.*run `make`/, 'first use names the missing file and the fix');
});
