import t from 'tap';
import { checkJsonSyntax } from '../../../src/spec/json-syntax.js';
import { parseSource } from '../../../src/spec/source.js';
import { formatIssue } from '../../../src/spec/index.js';
import { BASE, colOf, edit, issuesOf, lineOf } from './fixture.js';

t.test('a YAML syntax error is one issue with line and column', async (t) => {
  const src = edit(BASE, 'front: { subnet: 10.1.0.0/24 }', 'front: { subnet: 10.1.0.0/24\n  bad: [');
  const issues = issuesOf(src);
  t.equal(issues.length, 1, issues.map(formatIssue).join('\n'));
  t.match(issues[0]?.message, /^YAML syntax error: /);
  t.equal(issues[0]?.file, 'topology.yaml');
  t.type(issues[0]?.line, 'number');
  t.type(issues[0]?.col, 'number');
});

t.test('a YAML indentation error points at its line', async (t) => {
  const src = edit(BASE, '  back: { subnet: 10.2.0.0/24 }', '   back: { subnet: 10.2.0.0/24 }');
  const issues = issuesOf(src);
  t.equal(issues.length, 1);
  t.match(issues[0]?.message, /^YAML syntax error: .*same column/);
  t.equal(issues[0]?.line, lineOf(src, '   back:'));
  t.notMatch(issues[0]?.message, /at line/, 'the position is not repeated inside the message');
});

const JSON_OK = `{
  "apiVersion": "vnf/v1",
  "name": "j",
  "networks": { "lan": { "subnet": "10.0.0.0/24" } }
}
`;

t.test('JSON syntax errors are one issue with line and column', async (t) => {
  const cases: { name: string; src: string; message: RegExp; line: number; col: number }[] = [
    {
      name: 'trailing comma',
      src: edit(JSON_OK, '"name": "j",', '"name": "j",,'),
      message: /expected a double-quoted property name; unexpected character ","/,
      line: 3,
      col: 15,
    },
    {
      name: 'trailing comma before }',
      src: edit(JSON_OK, '"10.0.0.0/24" } }', '"10.0.0.0/24" }, }'),
      message: /trailing comma is not allowed in JSON/,
      line: 4,
      col: colOf(JSON_OK, '"10.0.0.0/24" }') + '"10.0.0.0/24" }'.length,
    },
    {
      name: 'missing comma',
      src: edit(JSON_OK, '"name": "j",', '"name": "j"'),
      message: /expected ',' or '}' after the property value/,
      line: 4,
      col: 3,
    },
    {
      name: 'comment',
      src: edit(JSON_OK, '"name": "j",', '"name": "j", // the name'),
      message: /comments are not allowed in JSON/,
      line: 3,
      col: 16,
    },
    {
      name: 'unquoted value',
      src: edit(JSON_OK, '"name": "j"', '"name": j'),
      message: /expected a value; unexpected character "j"/,
      line: 3,
      col: 11,
    },
    {
      name: 'unterminated',
      src: JSON_OK.slice(0, JSON_OK.lastIndexOf('}')),
      message: /expected ',' or '}' after the property value; unexpected end of input/,
      line: 5,
      col: 1,
    },
  ];
  for (const c of cases) {
    const issues = issuesOf(c.src, 'topology.json');
    t.equal(issues.length, 1, `${c.name}: one issue`);
    t.match(issues[0]?.message, /^JSON syntax error: /, c.name);
    t.match(issues[0]?.message, c.message, c.name);
    t.equal(issues[0]?.line, c.line, `${c.name}: line`);
    t.equal(issues[0]?.col, c.col, `${c.name}: col`);
  }
});

t.test('checkJsonSyntax accepts valid JSON and rejects what JSON.parse rejects', async (t) => {
  const valid = ['{}', '[]', '"x"', '0', '-1.5e+10', 'true', 'null', ' {"a": [1, {"b": "\\u00e9\\n"}]} ', '\uFEFF{}'];
  for (const text of valid) t.equal(checkJsonSyntax(text), undefined, JSON.stringify(text));
  const invalid = ['', '{', '[1,]', '{"a" 1}', "{'a': 1}", '01', '1.', '"\\x"', '"a\nb"', '{} {}', 'tru', '[1 2]'];
  for (const text of invalid) {
    t.ok(checkJsonSyntax(text), JSON.stringify(text));
    t.throws(() => JSON.parse(text), JSON.stringify(text));
  }
});

t.test('a valid JSON file is read like YAML, with positions', async (t) => {
  const src = edit(JSON_OK, '"10.0.0.0/24"', '"10.0.0.1/24"');
  const issues = issuesOf(src, 'topology.json');
  t.equal(issues.length, 1);
  t.same(issues[0]?.path, ['networks', 'lan', 'subnet']);
  t.equal(issues[0]?.line, 4);
  t.equal(issues[0]?.col, colOf(src, '"10.0.0.1/24"'));
});

t.test('duplicate keys are all reported, with their path and position', async (t) => {
  const src = edit(
    edit(BASE, '  back: { subnet: 10.2.0.0/24 }', '  back: { subnet: 10.2.0.0/24 }\n  front: { subnet: 10.3.0.0/24 }'),
    'name: t\n',
    'name: t\nname: u\n',
  );
  const issues = issuesOf(src);
  t.equal(issues.length, 2);
  t.same(issues[0]?.path, ['name']);
  t.equal(issues[0]?.message, 'duplicate key "name"');
  t.equal(issues[0]?.line, lineOf(src, 'name: u'));
  t.same(issues[1]?.path, ['networks', 'front']);
  t.equal(issues[1]?.message, 'duplicate key "front"');
  t.equal(issues[1]?.line, lineOf(src, 'front: { subnet: 10.3.0.0/24 }'));
  t.equal(issues[1]?.col, 3);
});

t.test('duplicate keys in JSON are reported too', async (t) => {
  const src = edit(JSON_OK, '"name": "j",', '"name": "j",\n  "name": "k",');
  const issues = issuesOf(src, 'x.json');
  t.equal(issues.length, 1);
  t.same(issues[0]?.path, ['name']);
  t.equal(issues[0]?.line, 4);
});

t.test('empty files and non-mapping documents', async (t) => {
  t.match(issuesOf('')[0], { path: [], line: 1, col: 1, message: /the topology is empty/ });
  t.match(issuesOf('# just a comment\n')[0], { path: [], message: /the topology is empty/ });
  t.match(issuesOf('- a\n- b\n')[0], { path: [], line: 1, message: 'expected a mapping, got a list' });
  t.match(issuesOf('---\na: 1\n---\nb: 2\n')[0], { message: 'one topology per file; found 2 documents, at lines 1, 3 (split them into separate files)', line: 3 });
  t.match(issuesOf('? [a, b]\n: c\n')[0], { message: /keys must be plain strings/ });
});

t.test('locate maps paths to positions', async (t) => {
  const src = BASE;
  const parsed = parseSource(src, 'x.yaml');
  if (!parsed.ok) throw new Error('BASE must parse');
  const { locate } = parsed.document;
  t.same(locate(['networks', 'front', 'subnet']), { line: lineOf(src, '  front: { subnet'), col: colOf(src, '10.1.0.0/24 }') });
  t.same(locate(['networks', 'front', 'subnet'], 'key'), { line: lineOf(src, '  front: { subnet'), col: colOf(src, 'subnet: 10.1.0.0/24') });
  t.same(locate(['routers', 'r1', 'routes', 0, 'via']), { line: lineOf(src, 'via: 10.2.0.254'), col: colOf(src, '10.2.0.254') });
  t.same(locate(['routers', 'r1', 'ports']), { line: lineOf(src, '    ports:'), col: 5 }, 'a block mapping is located at its key');
  t.same(
    locate(['networks', 'front', 'missing']),
    { line: lineOf(src, '  front: {'), col: colOf(src, '{ subnet: 10.1.0.0/24 }') },
    'a missing key: its parent',
  );
  t.same(locate(['routers', 'r1', 'routes', 7]), { line: lineOf(src, '    routes:'), col: 5 }, 'a missing item: its list');
  t.same(locate([]), { line: 1, col: 1 });
});

t.test('aliases are followed when locating', async (t) => {
  const src = `apiVersion: vnf/v1
name: t
networks:
  a: &net { subnet: 10.1.0.0/24, extra: 1 }
`;
  const issues = issuesOf(src);
  t.equal(issues.length, 1);
  t.same(issues[0]?.path, ['networks', 'a', 'extra']);
  t.equal(issues[0]?.line, 4);
});
