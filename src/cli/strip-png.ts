/**
 * The sanity check's classic strip as one PNG: rows = methods, columns = the original model then
 * each randomization step, every tile the map over the image.
 */
import sharp from 'sharp';
import { loadDisplayImage } from '../extension/image/decode';
import { renderOverlayPng } from '../extension/image/overlay';

const TILE = 112;
const GAP = 4;

export interface StripMap {
  step: number;
  method: string;
  map: Float32Array;
  height: number;
  width: number;
  signed: boolean;
}

export async function writeStripPng(file: string, imageFile: string, maps: readonly StripMap[], methods: readonly string[], steps: number): Promise<void> {
  const image = await loadDisplayImage(imageFile, TILE * 2);
  const tiles = await Promise.all(maps.map(async (m) => {
    const png = await renderOverlayPng({ image, map: m.signed ? m.map.map(Math.abs) : m.map, mapHeight: m.height, mapWidth: m.width, colormap: 'turbo', opacity: 0.6 });
    return {
      input: await sharp(png).resize(TILE, TILE, { fit: 'fill' }).png().toBuffer(),
      left: m.step * (TILE + GAP),
      top: Math.max(0, methods.indexOf(m.method)) * (TILE + GAP),
    };
  }));
  await sharp({ create: { width: steps * (TILE + GAP) - GAP, height: methods.length * (TILE + GAP) - GAP, channels: 3, background: '#ffffff' } })
    .composite(tiles).png().toFile(file);
}
