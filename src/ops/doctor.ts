/**
 * `vnf-ctl doctor`: whether this machine can run vnf, one check per row — privileges, bpffs,
 * kernel BTF and version, the addon and libbpf, the kernel features the dataplane uses (probed
 * through libbpf), and the built BPF objects with a layout this vnf reads.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { objectPath } from '../apply/builds.js';
import { BPFFS, KERNEL_BTF, environmentProblems, probeEnvironment, type Environment } from '../bpf/environment.js';
import { native, projectRoot } from '../native/binding.js';
import { counterCodec, metaCodec } from '../vnf/common/codec.js';
import { OBJECTS } from '../vnf/registry.js';

export interface DoctorCheck {
  check: string;
  ok: boolean;
  /** What was found (a version, "yes", "missing"). */
  value: string;
  /** What to do when it is not ok; null when it is. */
  hint: string | null;
}

/** The oldest kernel with tcx links, which vnf attaches ports with. */
export const MIN_KERNEL: readonly [number, number] = [6, 6];

/* UAPI numbers (include/uapi/linux/bpf.h); stable by the kernel's ABI rules. */
const BPF_MAP_TYPE_LPM_TRIE = 11;
const BPF_MAP_TYPE_RINGBUF = 27;
const BPF_PROG_TYPE_SCHED_CLS = 3;
const BPF_FUNC_loop = 181;

const check = (name: string, ok: boolean, value: string, hint: string): DoctorCheck => ({ check: name, ok, value, hint: ok ? null : hint });

export function kernelAtLeast(release: string, min: readonly [number, number] = MIN_KERNEL): boolean {
  const m = /^(\d+)\.(\d+)/.exec(release);
  if (!m) return false;
  const [maj, min_] = [Number(m[1]), Number(m[2])];
  return maj > min[0] || (maj === min[0] && min_ >= min[1]);
}

/** A libbpf probe result as a row: 1 yes, 0 no, negative errno: could not probe. */
function probeRow(name: string, probe: () => number, hint: string, privileged: boolean): DoctorCheck {
  let r: number;
  try {
    r = probe();
  } catch (e) {
    return check(name, false, 'unknown', `the probe failed: ${e instanceof Error ? e.message : String(e)}`);
  }
  if (r === 1) return check(name, true, 'yes', hint);
  // Unprivileged, the kernel refuses the probe itself, which libbpf reports as "not supported".
  if (r === 0) return privileged ? check(name, false, 'no', hint) : check(name, false, 'unknown', 'probing needs root or CAP_BPF: run doctor as root');
  return check(name, false, `unknown (errno ${-r})`, privileged ? hint : 'probing needs root or CAP_BPF: run doctor as root');
}

/** Whether the kernel's BTF names `word` (an enum value such as BPF_TCX_INGRESS): cheap, no privileges. */
function kernelBtfNames(word: string): boolean {
  try {
    return readFileSync(KERNEL_BTF).includes(Buffer.from(`\0${word}\0`));
  } catch {
    return false;
  }
}

function addonRow(): { row: DoctorCheck; loaded: boolean; libbpf?: string } {
  const file = join(projectRoot(), 'build', 'Release', 'vnf_native.node');
  try {
    const libbpf = native.libbpfVersion;
    return { row: check('addon (build/Release/vnf_native.node)', true, 'loads', ''), loaded: true, libbpf };
  } catch (e) {
    const why = existsSync(file) ? (e instanceof Error ? e.message : String(e)) : 'missing';
    return { row: check('addon (build/Release/vnf_native.node)', false, why, 'run `make` to build it (needs libbpf-dev)'), loaded: false };
  }
}

/** Each BPF object is there, and the shared structs in its BTF have this vnf's layout. */
function objectRows(loaded: boolean): DoctorCheck[] {
  return OBJECTS().map((v) => {
    const file = objectPath(v.object!);
    const name = `object ${v.object}.bpf.o`;
    if (!existsSync(file)) return check(name, false, 'missing', 'run `make` to build the BPF objects');
    if (!loaded) return check(name, true, 'present (layout not checked: no addon)', '');
    for (const codec of [counterCodec, metaCodec]) {
      let btf;
      try {
        btf = native.btfStructLayout(file, codec.name);
      } catch {
        continue; // this object does not use the struct
      }
      const offsets = new Map(btf.members.map((m) => [m.name, m.offset]));
      if (btf.size !== codec.size || codec.fields.some((f) => offsets.has(f.name) && offsets.get(f.name) !== f.offset)) {
        return check(name, false, `struct ${codec.name} differs from this vnf's`, 'rebuild with `make` (the object is from another version)');
      }
    }
    return check(name, true, 'present, layout matches', '');
  });
}

export function doctorChecks(env: Environment = probeEnvironment()): DoctorCheck[] {
  const addon = addonRow();
  const rows: DoctorCheck[] = [
    check('privileges (CAP_BPF + CAP_NET_ADMIN)', env.privileged, env.privileged ? 'yes' : 'no', 'run as root, or with CAP_BPF + CAP_NET_ADMIN'),
    check(`bpffs at ${BPFFS}`, env.bpffs, env.bpffs ? 'mounted' : 'not mounted', `mount -t bpf bpf ${BPFFS} (vnf mounts it when run as root)`),
    check('kernel BTF', env.btf, env.btf ? KERNEL_BTF : 'missing', 'a kernel built with CONFIG_DEBUG_INFO_BTF'),
    check('kernel', kernelAtLeast(env.kernel), env.kernel, `Linux ${MIN_KERNEL.join('.')} or later (tcx links)`),
    addon.row,
    check('libbpf', addon.libbpf !== undefined, addon.libbpf ?? 'unknown', 'install libbpf-dev and run `make`'),
    check('tcx links', env.btf && kernelBtfNames('BPF_TCX_INGRESS'), env.btf && kernelBtfNames('BPF_TCX_INGRESS') ? 'yes' : 'no', `Linux ${MIN_KERNEL.join('.')} or later`),
  ];
  if (addon.loaded) {
    rows.push(
      probeRow('BPF ring buffer map', () => native.probeMapType(BPF_MAP_TYPE_RINGBUF), 'Linux 5.8 or later', env.privileged),
      probeRow('LPM trie map', () => native.probeMapType(BPF_MAP_TYPE_LPM_TRIE), 'a kernel with LPM trie maps (Linux 4.11 or later)', env.privileged),
      probeRow('bpf_loop helper', () => native.probeHelper(BPF_PROG_TYPE_SCHED_CLS, BPF_FUNC_loop), 'Linux 5.17 or later', env.privileged),
    );
  }
  rows.push(...objectRows(addon.loaded));
  return rows;
}

/** The environment's own problems (what apply refuses on), for callers that only need those. */
export { environmentProblems };
