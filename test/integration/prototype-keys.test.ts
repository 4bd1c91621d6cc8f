/**
 * Defect 8: names from the topology file are data, never property lookups. Keys and references
 * such as `__proto__`, `constructor` or `toString` must be reported like any other bad or
 * unknown name — exit 2, file:line:column and the spec path — and never crash or pass, through
 * the real CLI, in YAML as in JSON. (validate needs no privileges; neither does this test.)
 */
import t from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { vnfctl } from '../helpers/cli.js';

/** A document as ordered [key, value] pairs, so keys like __proto__ stay plain keys. */
type Value = string | Value[] | Entries;
interface Entries { entries: Array<[string, Value]> }
const obj = (...entries: Array<[string, Value]>): Entries => ({ entries });

function yaml(v: Value, indent = ''): string {
  if (typeof v === 'string') return ` ${v}\n`;
  if (Array.isArray(v)) return ` [${v.map((x) => String(x)).join(', ')}]\n`;
  return `\n${v.entries.map(([k, x]) => `${indent}${k}:${yaml(x, `${indent}  `)}`).join('')}`;
}
const toYaml = (doc: Entries): string => doc.entries.map(([k, x]) => `${k}:${yaml(x, '  ')}`).join('');

function json(v: Value, indent = ''): string {
  if (typeof v === 'string') return JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map((x) => json(x)).join(', ')}]`;
  const inner = `${indent}  `;
  return `{\n${v.entries.map(([k, x]) => `${inner}${JSON.stringify(k)}: ${json(x, inner)}`).join(',\n')}\n${indent}}`;
}
const toJson = (doc: Entries): string => `${json(doc)}\n`;

interface Parts { container?: string; network?: string; routerPort?: string; firewall?: string; attach?: string }

function topology(p: Parts): Entries {
  const iface = (net: string, ip: string): Entries => obj(['interfaces', obj(['eth0', obj(['network', net], ['ip', ip])])]);
  return obj(
    ['apiVersion', 'vnf/v1'],
    ['name', 'protokeys'],
    ['containers', obj(['web', iface(p.network ?? 'front', '10.1.0.10/24')], [p.container ?? 'db', iface('front', '10.1.0.11/24')])],
    ['networks', obj(['front', obj(['subnet', '10.1.0.0/24'])])],
    ['routers', obj(['r', obj(['ports', obj([p.routerPort ?? 'front', '10.1.0.1/24'])])])],
    ['firewalls', obj([p.firewall ?? 'fw', obj(['attach', [p.attach ?? 'web/eth0']], ['ingress', obj(['default', 'drop'])])])],
  );
}

interface Case {
  what: string;
  parts: Parts;
  /** The spec path reported, and a word of the message. */
  path: string;
  message: RegExp;
  /** The text on the reported line, in YAML and in JSON. */
  at: { yaml: string; json: string };
}

const CASES: Case[] = [
  { what: 'a firewall named __proto__', parts: { firewall: '__proto__' }, path: 'firewalls.__proto__', message: /"__proto__" cannot be used as a key or name/, at: { yaml: '__proto__:', json: '"__proto__":' } },
  { what: 'attach: [constructor/eth0]', parts: { attach: 'constructor/eth0' }, path: 'firewalls.fw.attach[0]', message: /unknown container "constructor"/, at: { yaml: 'constructor/eth0', json: '"constructor/eth0"' } },
  { what: 'attach: [toString/eth0]', parts: { attach: 'toString/eth0' }, path: 'firewalls.fw.attach[0]', message: /unknown container "toString"/, at: { yaml: 'toString/eth0', json: '"toString/eth0"' } },
  { what: 'attach: [web/constructor]', parts: { attach: 'web/constructor' }, path: 'firewalls.fw.attach[0]', message: /container "web" has no interface "constructor"/, at: { yaml: 'web/constructor', json: '"web/constructor"' } },
  { what: 'a container named __proto__', parts: { container: '__proto__' }, path: 'containers.__proto__', message: /"__proto__" cannot be used as a key or name/, at: { yaml: '__proto__:', json: '"__proto__":' } },
  { what: 'an interface on network constructor', parts: { network: 'constructor' }, path: 'containers.web.interfaces.eth0.network', message: /unknown network "constructor"/, at: { yaml: 'network: constructor', json: '"network": "constructor"' } },
  { what: 'an interface on network __proto__', parts: { network: '__proto__' }, path: 'containers.web.interfaces.eth0.network', message: /unknown network "__proto__"/, at: { yaml: 'network: __proto__', json: '"network": "__proto__"' } },
  { what: 'a router port on network __proto__', parts: { routerPort: '__proto__' }, path: 'routers.r.ports.__proto__', message: /"__proto__" cannot be used as a key or name/, at: { yaml: '__proto__:', json: '"__proto__":' } },
  { what: 'a router port on network constructor', parts: { routerPort: 'constructor' }, path: 'routers.r.ports.constructor', message: /unknown network "constructor"/, at: { yaml: 'constructor:', json: '"constructor":' } },
];

const dir = mkdtempSync(join(tmpdir(), 'vnf-protokeys-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

for (const format of ['yaml', 'json'] as const) {
  t.test(`${format}: prototype names are reported with file:line, exit 2, no crash`, async (t) => {
    for (const [i, c] of CASES.entries()) {
      const text = format === 'yaml' ? toYaml(topology(c.parts)) : toJson(topology(c.parts));
      const file = join(dir, `case${i}.${format}`);
      writeFileSync(file, text);
      const line = text.split('\n').findIndex((l) => l.includes(c.at[format])) + 1;
      t.ok(line > 0, `${c.what}: the test file has the text it points at`);
      const r = vnfctl(['validate', '-f', file]);
      t.equal(r.status, 2, `${c.what}: exit 2`);
      const escaped = c.path.replace(/[.[\]]/g, (m) => `\\${m}`);
      t.match(r.stderr, new RegExp(`${file}:${line}:\\d+: ${escaped}: `), `${c.what}: ${file}:${line}, ${c.path}`);
      t.match(r.stderr, c.message, `${c.what}: says what is wrong (${r.stderr.trim()})`);
      t.notMatch(r.stderr, /TypeError|RangeError|\n\s+at /, `${c.what}: no crash`);
      if (i < 2) {
        const plan = vnfctl(['plan', '-f', file]);
        t.equal(plan.status, 2, `${c.what}: plan refuses it too (exit 2) before touching the kernel`);
      }
    }
  });

  t.test(`${format}: a container named constructor is an ordinary name`, async (t) => {
    const file = join(dir, `ordinary.${format}`);
    const doc = topology({ container: 'constructor', attach: 'constructor/eth0' });
    writeFileSync(file, format === 'yaml' ? toYaml(doc) : toJson(doc));
    const r = vnfctl(['validate', '-f', file]);
    t.equal(r.status, 0, `valid: ${r.stderr}`);
    t.match(r.stdout, /valid topology protokeys .*2 containers/);
  });
}
