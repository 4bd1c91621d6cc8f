/**
 * Names users give to things. They end up in pin paths, map names and interface names, all of
 * which the kernel limits to 15 bytes (IFNAMSIZ and BPF_OBJ_NAME_LEN are 16 including the NUL).
 */

export const MAX_NAME_LENGTH = 15;

/** Topology, container, network, router and firewall names. */
export const NAME_PATTERN = '^[a-z0-9]([a-z0-9-]*[a-z0-9])?$';
const NAME = new RegExp(NAME_PATTERN);

/** Linux interface names (dev_valid_name): no '/', ':' or whitespace, not "." or "..". */
export const IFNAME_PATTERN = '^(?!\\.\\.?$)[^/:\\s]{1,15}$';
const IFNAME_FORBIDDEN = /[/:\s]/;

/** Returns why `name` is not a valid resource name, or undefined when it is. */
export function checkName(name: string, what = 'name'): string | undefined {
  if (name.length === 0) return `${what} must not be empty`;
  if (!NAME.test(name)) {
    return `invalid ${what} "${name}": use lowercase letters, digits and '-', starting and ending with a letter or digit`;
  }
  if (name.length > MAX_NAME_LENGTH) {
    return `${what} "${name}" is ${name.length} characters long; at most ${MAX_NAME_LENGTH} are allowed`;
  }
  return undefined;
}

/** Returns why `name` is not a valid Linux interface name, or undefined when it is. */
export function checkIfname(name: string): string | undefined {
  if (name.length === 0) return 'interface name must not be empty';
  if (name === '.' || name === '..') return `"${name}" is not a valid interface name`;
  if (IFNAME_FORBIDDEN.test(name)) {
    return `invalid interface name "${name}": '/', ':' and whitespace are not allowed`;
  }
  const bytes = Buffer.byteLength(name, 'utf8');
  if (bytes > MAX_NAME_LENGTH) {
    return `interface name "${name}" is ${bytes} bytes long; Linux allows at most ${MAX_NAME_LENGTH}`;
  }
  return undefined;
}
