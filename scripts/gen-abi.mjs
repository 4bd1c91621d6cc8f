#!/usr/bin/env node
/**
 * Generates src/abi/<header>.ts from bpf/abi/<header>.h: every VNF_* constant
 * (#define with a number or a string, enum constant) with the value the C
 * compiler gives it. The C headers are the single source of truth for
 * constants shared by the kernel programs and the control plane; nothing in
 * TypeScript spells those numbers out by hand. Struct layouts are mirrored by
 * codecs and checked against BTF (test/unit/btf-layout.test.ts).
 *
 * How: the names come from the header's text (#define lines and enum bodies);
 * their values from clang, which evaluates them inside a generated enum (so
 * `(VNF_MAX_PROGS * VNF_MAX_REASONS)` and implicit enum values come out as
 * numbers), read back from clang's JSON AST.
 *
 * Usage: node scripts/gen-abi.mjs OUTDIR bpf/abi/*.h
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';

const [outDir, ...headers] = process.argv.slice(2);
if (!outDir || headers.length === 0) {
  console.error('usage: gen-abi.mjs OUTDIR HEADER...');
  process.exit(2);
}
const clang = process.env.CLANG || 'clang';

/** Names and string values declared in one header, in declaration order. */
function declared(text) {
  const out = []; // { name, string?, enumName? }
  const lines = text.replace(/\/\*[\s\S]*?\*\//g, (m) => m.replace(/[^\n]/g, ' ')).split('\n');
  let inEnum = null;
  for (const line of lines) {
    const def = /^\s*#\s*define\s+(VNF_[A-Z0-9_]+)(\(?)\s*(.*?)\s*(\/\/.*)?$/.exec(line);
    if (def) {
      if (def[2] === '(') continue; // function-like macro
      const value = def[3];
      if (value === '') continue; // include guards and flags without a value
      const str = /^"([^"\\]*)"$/.exec(value);
      out.push(str ? { name: def[1], string: str[1] } : { name: def[1] });
      continue;
    }
    const open = /^\s*enum\s+([a-z_][a-z0-9_]*)\s*\{/.exec(line);
    if (open) inEnum = open[1];
    if (inEnum) {
      for (const m of line.matchAll(/\b(VNF_[A-Z0-9_]+)\s*(?==|,|$)/g)) out.push({ name: m[1], enumName: inEnum });
      if (line.includes('}')) inEnum = null;
    }
  }
  return out;
}

function evaluate(header, names) {
  const dir = mkdtempSync(join(tmpdir(), 'vnf-gen-abi-'));
  try {
    const src = join(dir, 'eval.c');
    const body = names.map((n) => `  __vnf_gen_${n} = (${n}),`).join('\n');
    writeFileSync(src, `#include "${resolve(header)}"\nenum __vnf_gen {\n${body}\n};\n`);
    const json = execFileSync(clang, ['-Xclang', '-ast-dump=json', '-fsyntax-only', '-Wno-everything',
      `-I${resolve(dirname(header), '..')}`, src], { encoding: 'utf8', maxBuffer: 512 * 1024 * 1024 });
    const ast = JSON.parse(json);
    const values = new Map();
    for (const node of ast.inner ?? []) {
      if (node.kind !== 'EnumDecl' || node.name !== '__vnf_gen') continue;
      for (const c of node.inner ?? []) {
        const v = (c.inner ?? []).find((i) => i.kind === 'ConstantExpr')?.value;
        if (v === undefined) throw new Error(`${header}: clang gave no value for ${c.name}`);
        values.set(c.name.slice('__vnf_gen_'.length), Number(v));
      }
    }
    return values;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

mkdirSync(outDir, { recursive: true });
for (const header of headers) {
  const decls = declared(readFileSync(header, 'utf8'));
  const numeric = decls.filter((d) => d.string === undefined).map((d) => d.name);
  const values = numeric.length ? evaluate(header, numeric) : new Map();
  const base = basename(header, '.h');
  const lines = [
    `// Generated from bpf/abi/${base}.h by scripts/gen-abi.mjs (make). Do not edit: change the header.`,
    '',
  ];
  const enums = new Map();
  const seen = new Set();
  for (const d of decls) {
    if (seen.has(d.name)) continue;
    seen.add(d.name);
    if (d.string !== undefined) {
      lines.push(`export const ${d.name} = ${JSON.stringify(d.string)};`);
      continue;
    }
    const v = values.get(d.name);
    if (v === undefined || !Number.isSafeInteger(v)) throw new Error(`${header}: no integer value for ${d.name}`);
    lines.push(`export const ${d.name} = ${v};`);
    if (d.enumName) {
      if (!enums.has(d.enumName)) enums.set(d.enumName, []);
      enums.get(d.enumName).push(d.name);
    }
  }
  for (const [name, members] of enums) {
    lines.push('', `/** enum ${name}: every constant by name. */`);
    lines.push(`export const enum_${name} = {`);
    for (const m of members) lines.push(`  ${m}: ${m},`);
    lines.push('} as const;');
  }
  writeFileSync(join(outDir, `${base}.ts`), lines.join('\n') + '\n');
}
