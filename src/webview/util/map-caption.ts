/** The words under a heatmap: its resolution, layer and what is worth knowing. DOM-free (unit-tested in Node). */
import type { MapMessage } from '../../shared/protocol/explain';

/** One line under a method's name: resolution, layer, and what is worth knowing about the map. */
export function describeMap(m: Pick<MapMessage, 'height' | 'width' | 'layer' | 'stats' | 'note'>): string {
  const parts = [`${m.height}×${m.width}`];
  if (m.layer) parts.push(`at ${m.layer}`);
  if (m.note) parts.push(m.note);
  const s = m.stats ?? {};
  if (s.relativeGap !== undefined) parts.push(`completeness gap ${(s.relativeGap * 100).toFixed(2)}%`);
  return parts.join(' · ');
}
