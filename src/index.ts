/**
 * vnf's programmatic API: what the CLI (and any other caller) uses.
 */
export * from './bpf/index.js';
export { probeEnvironment, prepareEnvironment, environmentProblems } from './bpf/environment.js';
