/**
 * Reads the DOT that `vnf-ctl graph` prints with an independent parser (@ts-graphviz/ast, which
 * throws on a syntax error), and decodes labels the way Graphviz shows them: \n breaks a line,
 * \\ and \" are a backslash and a quote, &amp; is '&'. Any other backslash escape in a label
 * (\N, \l, \G, ...) would be expanded by Graphviz, so decoding it is an error here.
 */
import { parse, type AttributeASTNode, type DotASTNode, type GraphASTNode } from '@ts-graphviz/ast';

export interface DotGraph {
  name: string;
  directed: boolean;
  /** Graph attributes (`graph [...]`), decoded. */
  attrs: Record<string, string>;
  nodes: Map<string, Record<string, string>>;
  edges: Array<{ from: string; to: string; attrs: Record<string, string> }>;
}

/** An id as the parser stores it: quotes escaped, nothing else. */
const id = (raw: string): string => raw.replace(/\\"/g, '"');

/** A label's text as Graphviz renders it, lines joined by "\n". */
export function decodeLabel(raw: string): string {
  let out = '';
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i]!;
    if (c !== '\\') {
      out += c;
      continue;
    }
    const next = raw[++i];
    if (next === 'n') out += '\n';
    else if (next === '\\' || next === '"') out += next;
    else throw new Error(`label escape \\${next ?? ''} would be expanded by Graphviz: ${raw}`);
  }
  if (/&(?!amp;)/.test(out)) throw new Error(`label has an '&' Graphviz may read as an entity: ${raw}`);
  return out.replace(/&amp;/g, '&');
}

function attrsOf(list: readonly AttributeASTNode[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const a of list) out[a.key.value] = a.key.value === 'label' ? decodeLabel(a.value.value) : a.value.value;
  return out;
}

export function parseDot(text: string): DotGraph {
  const ast: DotASTNode = parse(text);
  const graphs = ast.children.filter((c): c is GraphASTNode => c.type === 'Graph');
  if (graphs.length !== 1) throw new Error(`expected one graph, found ${graphs.length}`);
  const g = graphs[0]!;
  const out: DotGraph = { name: g.id ? id(g.id.value) : '', directed: g.directed, attrs: {}, nodes: new Map(), edges: [] };
  for (const s of g.children) {
    if (s.type === 'AttributeList' && s.kind === 'Graph') Object.assign(out.attrs, attrsOf(s.children.filter((x): x is AttributeASTNode => x.type === 'Attribute')));
    else if (s.type === 'Node') {
      if (out.nodes.has(id(s.id.value))) throw new Error(`node ${s.id.value} declared twice`);
      out.nodes.set(id(s.id.value), attrsOf(s.children.filter((x): x is AttributeASTNode => x.type === 'Attribute')));
    } else if (s.type === 'Edge') {
      const [from, to, ...rest] = s.targets;
      if (rest.length || from.type !== 'NodeRef' || to.type !== 'NodeRef') throw new Error('expected edges between two nodes');
      out.edges.push({ from: id(from.id.value), to: id(to.id.value), attrs: attrsOf(s.children.filter((x): x is AttributeASTNode => x.type === 'Attribute')) });
    } else if (s.type === 'Subgraph') throw new Error('unexpected subgraph');
  }
  return out;
}
