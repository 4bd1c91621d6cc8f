/** Port ranges as 16-bit prefixes (the smallest set of aligned blocks covering the range). */
export function portPrefixes(lo: number, hi: number): Array<[value: number, plen: number]> {
  const out: Array<[number, number]> = [];
  let cur = lo;
  while (cur <= hi) {
    let size = cur === 0 ? 65536 : cur & -cur; // largest aligned block starting at cur
    while (cur + size - 1 > hi) size >>= 1;
    out.push([cur, 16 - Math.log2(size)]);
    cur += size;
  }
  return out;
}

export const addrMask = (plen: number): number => (plen === 0 ? 0 : (0xffffffff << (32 - plen)) >>> 0);
