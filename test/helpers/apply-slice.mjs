// Applies one host's hand-made slice of a topology (the agent's job, done by hand), run inside a
// simulated host (bench/lib/sim SimHost.run): node apply-slice.mjs YAML SLICE_JSON. It parses the
// file, gives its networks their VNIs and the slice as ext.overlay, applies it, then plans again
// against what the apply left and prints "applied, then planned N ops" (N must be 0). The pins
// stay after it exits: the host's mount namespace holds its bpffs.
import { parseTopology } from '../../dist/src/spec/index.js';
import { applyTopology, planTopology } from '../../dist/src/ops/topology.js';

const [yaml, sliceJson] = process.argv.slice(2);
const r = parseTopology(yaml);
if (!r.ok) {
  console.error(JSON.stringify(r.issues));
  process.exit(2);
}
const slice = JSON.parse(sliceJson);
for (const n of r.topology.networks) n.vni = slice.vnis[n.name];
r.topology.ext.overlay = slice;
try {
  await applyTopology(r.topology);
} catch (e) {
  console.error(e.stack ?? String(e));
  process.exit(1);
}
process.stdout.write(`applied, then planned ${planTopology(r.topology).plan.ops.length} ops\n`);
