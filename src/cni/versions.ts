/** The CNI versions the plugin speaks (podman 4.3's libcni stops at 1.0.0; 1.1.0 adds GC and STATUS). */
export const SUPPORTED_VERSIONS = ['1.0.0', '1.1.0'] as const;
export const LATEST_VERSION = SUPPORTED_VERSIONS[SUPPORTED_VERSIONS.length - 1]!;

export const supported = (v: unknown): v is string => typeof v === 'string' && (SUPPORTED_VERSIONS as readonly string[]).includes(v);

/** The configuration's cniVersion, as far as it can be read (for error objects and VERSION). */
export function versionOf(stdin: string): string | undefined {
  try {
    const v = (JSON.parse(stdin) as { cniVersion?: unknown }).cniVersion;
    return typeof v === 'string' ? v : undefined;
  } catch {
    return undefined;
  }
}

/** The VERSION result: in the version asked for when the plugin speaks it. */
export function versionResult(requested: string | undefined): { cniVersion: string; supportedVersions: string[] } {
  return { cniVersion: supported(requested) ? requested : LATEST_VERSION, supportedVersions: [...SUPPORTED_VERSIONS] };
}
