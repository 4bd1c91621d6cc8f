// Shared fixtures for the spec tests (tap lists this file as "no tests found"; that is expected).
import { formatIssue, formatPath, parseTopology, type SpecIssue } from '../../../src/spec/index.js';

/** A valid topology touching every section; tests derive broken variants with edit(). */
export const BASE = `apiVersion: vnf/v1
name: t
containers:
  web:
    interfaces:
      eth0: { network: front, ip: 10.1.0.10/24 }
  db:
    interfaces:
      eth0: { network: back, ip: 10.2.0.10/24, mac: "02:00:00:00:02:0a" }
networks:
  front: { subnet: 10.1.0.0/24 }
  back: { subnet: 10.2.0.0/24 }
routers:
  r1:
    ports:
      front: 10.1.0.1/24
      back: 10.2.0.1/24
    routes:
      - { to: 10.9.0.0/16, via: 10.2.0.254 }
firewalls:
  web-in:
    attach: [web/eth0]
    ingress:
      default: drop
      rules:
        - { action: allow, proto: tcp, from: 10.2.0.0/24, ports: [80, 443] }
        - { action: allow, proto: icmp, icmp-type: echo-request }
`;

/** Replaces the single occurrence of `from`; throws if it is missing or ambiguous. */
export function edit(text: string, from: string, to: string): string {
  const at = text.indexOf(from);
  if (at < 0) throw new Error(`edit: ${JSON.stringify(from)} not found`);
  if (text.indexOf(from, at + 1) >= 0) throw new Error(`edit: ${JSON.stringify(from)} is ambiguous`);
  return text.slice(0, at) + to + text.slice(at + from.length);
}

/** 1-based line of the first occurrence of `needle`. */
export function lineOf(text: string, needle: string): number {
  const at = text.indexOf(needle);
  if (at < 0) throw new Error(`lineOf: ${JSON.stringify(needle)} not found`);
  return text.slice(0, at).split('\n').length;
}

/** 1-based column of the first occurrence of `needle`. */
export function colOf(text: string, needle: string): number {
  const at = text.indexOf(needle);
  if (at < 0) throw new Error(`colOf: ${JSON.stringify(needle)} not found`);
  return at - text.lastIndexOf('\n', at - 1);
}

/** The issues of an invalid topology; throws if it is valid. */
export function issuesOf(text: string, file = 'topology.yaml'): SpecIssue[] {
  const result = parseTopology(text, file);
  if (result.ok) throw new Error('expected the topology to be invalid, but it is valid');
  return result.issues;
}

/** The issue at `path` (formatted like "networks.front.subnet"); throws, listing all issues, if there is none. */
export function issueAt(text: string, path: string, file = 'topology.yaml'): SpecIssue {
  const issues = issuesOf(text, file);
  const found = issues.find((i) => formatPath(i.path) === path);
  if (!found) throw new Error(`no issue at ${path}; got:\n${issues.map(formatIssue).join('\n')}`);
  return found;
}
