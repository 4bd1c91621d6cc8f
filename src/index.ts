/**
 * vnf's programmatic API: what the CLI (and any other caller) uses.
 */
export * from './bpf/index.js';
export { probeEnvironment, prepareEnvironment, environmentProblems } from './bpf/environment.js';
export { parseTopology, loadTopology, topologySchemaJson, SpecError, type Topology, type SpecIssue } from './spec/index.js';
export { planTopology, applyTopology, destroyTopology, resolveInterfaces, trustedRecord } from './ops/topology.js';
export { attachInterface, detachInterface, type AttachOptions } from './ops/attach.js';
export { listStatus, topologyStatus, topologyStats, type TopologyStatus, type Stats } from './ops/status.js';
export { labUp, labDown, labExec, labContainerNetns } from './lab/lab.js';
export { summarize, type Plan, type Op } from './plan/plan.js';
export { formatPlan } from './plan/format.js';
export { compile } from './model/compile.js';
export { EnvironmentError, InputError } from './ops/errors.js';
export { ApplyError } from './apply/apply.js';
export { LockBusyError } from './apply/lock.js';
export { RecordError } from './state/store.js';
export { UnsafePathError } from './state/dirs.js';
export { conntrackEntries, flushConntrack, type ConntrackEntry } from './ops/conntrack.js';
export { natMappingsOf, type NatMapping } from './ops/nat.js';
export { FirewallTooComplexError } from './vnf/firewall/errors.js';
export { trace, type TraceOptions, type TraceResult } from './trace/trace.js';
