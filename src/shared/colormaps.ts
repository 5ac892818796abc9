/**
 * Colour maps for attribution heatmaps, as 256-entry RGB lookup tables. Pure TypeScript: shared
 * by the Node host (PNG export) and the webview (canvas rendering).
 */

export const COLORMAPS = ['viridis', 'inferno', 'turbo', 'jet', 'gray'] as const;
export type ColormapName = (typeof COLORMAPS)[number];

export function isColormapName(name: string): name is ColormapName {
  return (COLORMAPS as readonly string[]).includes(name);
}

/**
 * matplotlib's viridis and inferno (listed colormaps, CC0) sampled at LUT indices 0, 4, 8, …,
 * 252 and 255, as hex RGB. Linear interpolation between them stays within 1/255 of the full
 * 256-entry tables.
 */
const VIRIDIS_STOPS =
  '440154 46075a 470d60 471365 48186a 481d6f 482374 482878 472d7b 46327e 453781 443b84 424086 404588 ' +
  '3e4989 3d4e8a 3b528b 39568c 375b8d 355f8d 33638d 31678e 2f6b8e 2e6f8e 2c728e 2a768e 297a8e 277e8e ' +
  '26828e 25858e 23898e 228d8d 21918c 1f948c 1f988b 1e9c89 1fa088 20a386 22a785 25ab82 28ae80 2db27d ' +
  '32b67a 38b977 3fbc73 46c06f 4ec36b 56c667 5ec962 67cc5c 70cf57 7ad151 84d44b 8ed645 98d83e a2da37 ' +
  'addc30 b8de29 c2df23 cde11d d8e219 e2e418 ece51b f6e620 fde725';
const INFERNO_STOPS =
  '000004 02010a 040312 07051b 0b0724 10092d 150b37 1b0c41 210c4a 280b53 2f0a5b 360961 3d0965 440a68 ' +
  '4a0c6b 510e6c 57106e 5d126e 64156e 6a176e 71196e 771c6d 7d1e6d 84206b 8a226a 902568 972766 9d2964 ' +
  'a32c61 a92e5e b0315b b63458 bc3754 c13a50 c73e4c cc4248 d24644 d74b3f db503b e05536 e45a31 e8602d ' +
  'eb6628 ef6c23 f1731d f47918 f68013 f8870e f98e09 fb9606 fb9d07 fca50a fcac11 fcb418 fbbc21 fac42a ' +
  'f9cb35 f7d340 f5db4c f3e35a f2ea69 f1f179 f3f68a f8fb9a fcffa4';

/** One colour channel as a piecewise-linear function of x in [0, 1]: [x, value] pairs, x ascending. */
type Segments = readonly (readonly [number, number])[];

/** matplotlib's `_jet_data` (a LinearSegmentedColormap without discontinuities). */
const JET: readonly [Segments, Segments, Segments] = [
  [[0, 0], [0.35, 0], [0.66, 1], [0.89, 1], [1, 0.5]],
  [[0, 0], [0.125, 0], [0.375, 1], [0.64, 1], [0.91, 0], [1, 0]],
  [[0, 0.5], [0.11, 1], [0.34, 1], [0.65, 0], [1, 0]],
];

function evalSegments(seg: Segments, x: number): number {
  for (let k = 1; k < seg.length; k++) {
    const [x1, v1] = seg[k];
    if (x <= x1) {
      const [x0, v0] = seg[k - 1];
      return x1 === x0 ? v1 : v0 + ((v1 - v0) * (x - x0)) / (x1 - x0);
    }
  }
  return seg[seg.length - 1][1];
}

function to8bit(v: number): number {
  return Math.max(0, Math.min(255, Math.round(v * 255)));
}

/** Interpolates hex stops placed at LUT indices 0, 4, …, 252, 255 into a full table. */
function lutFromStops(hex: string): Uint8Array {
  const stops = hex.split(' ').map((h) => [0, 2, 4].map((o) => parseInt(h.slice(o, o + 2), 16)));
  const index = (k: number): number => (k === stops.length - 1 ? 255 : 4 * k);
  const lut = new Uint8Array(256 * 3);
  for (let i = 0; i < 256; i++) {
    const k = Math.min(Math.floor(i / 4), stops.length - 2);
    const t = (i - index(k)) / (index(k + 1) - index(k));
    for (let c = 0; c < 3; c++) lut[i * 3 + c] = Math.round(stops[k][c] + (stops[k + 1][c] - stops[k][c]) * t);
  }
  return lut;
}

function lutFromFunction(f: (x: number) => readonly [number, number, number]): Uint8Array {
  const lut = new Uint8Array(256 * 3);
  for (let i = 0; i < 256; i++) {
    const rgb = f(i / 255);
    for (let c = 0; c < 3; c++) lut[i * 3 + c] = to8bit(rgb[c]);
  }
  return lut;
}

/**
 * Google's polynomial approximation of Turbo (Anton Mikhailov's colormap, fit by Ruofei Du;
 * Copyright 2019 Google LLC, Apache-2.0).
 */
function turbo(x: number): [number, number, number] {
  const x2 = x * x;
  const x3 = x2 * x;
  const x4 = x2 * x2;
  const x5 = x4 * x;
  return [
    0.13572138 + 4.6153926 * x - 42.66032258 * x2 + 132.13108234 * x3 - 152.94239396 * x4 + 59.28637943 * x5,
    0.09140261 + 2.19418839 * x + 4.84296658 * x2 - 14.18503333 * x3 + 4.27729857 * x4 + 2.82956604 * x5,
    0.1066733 + 12.64194608 * x - 60.58204836 * x2 + 110.36276771 * x3 - 89.90310912 * x4 + 27.34824973 * x5,
  ];
}

function buildLut(name: ColormapName): Uint8Array {
  switch (name) {
    case 'viridis':
      return lutFromStops(VIRIDIS_STOPS);
    case 'inferno':
      return lutFromStops(INFERNO_STOPS);
    case 'turbo':
      return lutFromFunction(turbo);
    case 'jet':
      return lutFromFunction((x) => [evalSegments(JET[0], x), evalSegments(JET[1], x), evalSegments(JET[2], x)]);
    case 'gray':
      return lutFromFunction((x) => [x, x, x]);
  }
}

const cache = new Map<ColormapName, Uint8Array>();

/** The colormap as 256 RGB triples (768 bytes): entry i is the colour for the value i / 255. */
export function colormapLut(name: ColormapName): Uint8Array {
  if (!isColormapName(name)) throw new Error(`unknown colormap '${String(name)}' (known: ${COLORMAPS.join(', ')})`);
  let lut = cache.get(name);
  if (lut === undefined) {
    lut = buildLut(name);
    cache.set(name, lut);
  }
  // A copy, so a caller that writes into it cannot corrupt the cache.
  return lut.slice();
}
