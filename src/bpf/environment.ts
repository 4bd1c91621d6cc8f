/**
 * What the machine offers: privileges, bpffs, kernel BTF. Checked before any
 * kernel change so a missing prerequisite gives one clear message instead of
 * a half-applied state.
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { release } from 'node:os';
import { native } from '../native/binding.js';

export const BPFFS = '/sys/fs/bpf';
export const KERNEL_BTF = '/sys/kernel/btf/vmlinux';

const CAP_NET_ADMIN = 12;
const CAP_SYS_ADMIN = 21;
const CAP_BPF = 39;

export interface Environment {
  kernel: string;
  libbpf: string;
  uid: number;
  capabilities: { bpf: boolean; netAdmin: boolean; sysAdmin: boolean };
  privileged: boolean;
  bpffs: boolean;
  btf: boolean;
}

function effectiveCaps(): bigint {
  const status = readFileSync('/proc/self/status', 'utf8');
  const m = /^CapEff:\s*([0-9a-f]+)$/m.exec(status);
  return m ? BigInt('0x' + m[1]) : 0n;
}

function bpffsMounted(path = BPFFS): boolean {
  try {
    return readFileSync('/proc/self/mounts', 'utf8')
      .split('\n')
      .some((l) => {
        const [, mnt, type] = l.split(' ');
        return mnt === path && type === 'bpf';
      });
  } catch {
    return false;
  }
}

/** libbpf's version from the addon, or 'unknown' when the addon is not built (doctor says so). */
function libbpfVersion(): string {
  try {
    return native.libbpfVersion;
  } catch {
    return 'unknown';
  }
}

export function probeEnvironment(): Environment {
  const caps = effectiveCaps();
  const has = (bit: number): boolean => (caps & (1n << BigInt(bit))) !== 0n;
  const capabilities = { bpf: has(CAP_BPF) || has(CAP_SYS_ADMIN), netAdmin: has(CAP_NET_ADMIN), sysAdmin: has(CAP_SYS_ADMIN) };
  return {
    kernel: release(),
    libbpf: libbpfVersion(),
    uid: process.getuid?.() ?? -1,
    capabilities,
    privileged: capabilities.bpf && capabilities.netAdmin,
    bpffs: bpffsMounted(),
    btf: existsSync(KERNEL_BTF),
  };
}

/** Problems that stop vnf from changing the kernel, as readable sentences. */
export function environmentProblems(env: Environment = probeEnvironment()): string[] {
  const out: string[] = [];
  if (!env.privileged) out.push('not privileged: run as root, or with CAP_BPF + CAP_NET_ADMIN');
  if (!env.bpffs) out.push(`bpffs is not mounted at ${BPFFS} and could not be mounted: mount -t bpf bpf ${BPFFS}`);
  if (!env.btf) out.push(`the kernel exposes no BTF at ${KERNEL_BTF}: vnf needs a kernel built with CONFIG_DEBUG_INFO_BTF`);
  return out;
}

/**
 * Mounts bpffs at /sys/fs/bpf when it is not mounted (as Cilium's agent does):
 * pins need it, and a privileged caller expects vnf to set it up. Returns
 * true when bpffs is mounted afterwards.
 */
export function ensureBpffs(path = BPFFS): boolean {
  if (bpffsMounted(path)) return true;
  try {
    mkdirSync(path, { recursive: true });
  } catch {
    return false;
  }
  // 0700: only root may look into the pin tree (pins carry their own modes, the tree is vnf's).
  spawnSync('mount', ['-t', 'bpf', '-o', 'mode=0700', 'bpf', path], { stdio: 'ignore' });
  return bpffsMounted(path);
}

/**
 * Makes the machine ready for kernel changes (mounting bpffs if needed) or
 * lists what stops it, as readable sentences; empty when all is well.
 */
export function prepareEnvironment(): string[] {
  const env = probeEnvironment();
  if (env.privileged && !env.bpffs) env.bpffs = ensureBpffs();
  return environmentProblems(env);
}
