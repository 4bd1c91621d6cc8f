/** A firewall whose rules the kernel classifier cannot hold. */
export class FirewallTooComplexError extends Error {
  override name = 'FirewallTooComplexError';
}
