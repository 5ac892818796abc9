/** One seed per weight for re-initialisation, shared by every format's randomizer. */

/** FNV-1a over `seed|layer|index`: one 32-bit seed per weight, the same for the same inputs. */
export function weightSeed(seed: number, layer: string, index: number): number {
  let h = 0x811c9dc5;
  for (const ch of `${seed}|${layer}|${index}`) {
    h ^= ch.charCodeAt(0);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}
