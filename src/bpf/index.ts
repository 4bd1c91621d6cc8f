export { BpfObject, type OpenOptions } from './object.js';
export { BpfMap, BPF_ANY, BPF_EXIST, BPF_NOEXIST } from './map.js';
export { attachTc, detachTc, tcxSupported, type TcAttachment, type TcMode, type AttachOptions } from './attach.js';
export { skbContext, skbCodec, type SkbContext } from './skb.js';
export { probeEnvironment, environmentProblems, prepareEnvironment, ensureBpffs, BPFFS, KERNEL_BTF, type Environment } from './environment.js';
export { BpfError } from '../native/errors.js';
export { native, projectRoot } from '../native/binding.js';
export type { NativeProgram as BpfProgram, NativeLink as BpfLink, Direction, Iface } from '../native/binding.js';
