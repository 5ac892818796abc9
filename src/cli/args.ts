/** Parsing of the CLI's option values; every mistake is a UserError naming the option. */
import { UserError } from '../shared/errors';
import { BACKEND_CHOICES, isSupportedBackendChoice, type BackendChoice } from '../extension/backend/backends';
import { isPreprocessPreset, PREPROCESS_PRESETS, type PreprocessPreset } from '../extension/image/preprocess';
import { COLORMAPS, type ColormapName } from '../shared/colormaps';
import { EXPLAINERS, explainerById } from '../extension/explain/registry';
import type { Explainer } from '../extension/explain/explainer';

export function parseSize(s: string | undefined): [number, number] | undefined {
  if (s === undefined) return undefined;
  const m = /^(\d+)x(\d+)$/i.exec(s.trim());
  if (!m || Number(m[1]) < 1 || Number(m[2]) < 1) throw new UserError(`--size must look like 224x224 (height x width), got "${s}"`);
  return [Number(m[1]), Number(m[2])];
}

export function parseBackend(s: string | undefined): BackendChoice {
  const v = (s ?? 'auto').trim().toLowerCase();
  if (!isSupportedBackendChoice(v)) throw new UserError(`--backend must be one of ${BACKEND_CHOICES.join(', ')}, got "${s}"`);
  return v;
}

export function parsePreprocess(s: string | undefined): PreprocessPreset | undefined {
  if (s === undefined) return undefined;
  const v = s.trim().toLowerCase();
  if (!isPreprocessPreset(v)) throw new UserError(`--preprocess must be one of ${PREPROCESS_PRESETS.join(', ')}, got "${s}"`);
  return v;
}

export function parseColormap(s: string | undefined): ColormapName {
  const v = (s ?? 'turbo').trim().toLowerCase();
  if (!(COLORMAPS as readonly string[]).includes(v)) throw new UserError(`--colormap must be one of ${COLORMAPS.join(', ')}, got "${s}"`);
  return v as ColormapName;
}

export function parseOpacity(s: string | undefined): number {
  if (s === undefined) return 0.5;
  const v = Number(s);
  if (!Number.isFinite(v) || v < 0 || v > 1) throw new UserError(`--opacity must be a number from 0 to 1, got "${s}"`);
  return v;
}

export function parseSpace(s: string | undefined): 'logit' | 'probability' {
  const v = (s ?? 'logit').trim().toLowerCase();
  if (v !== 'logit' && v !== 'probability') throw new UserError(`--space must be logit or probability, got "${s}"`);
  return v;
}

export function parseIntOption(s: string | undefined, name: string, fallback: number, min = 0): number {
  if (s === undefined) return fallback;
  const v = Number(s);
  if (!Number.isInteger(v) || v < min) throw new UserError(`${name} must be an integer ≥ ${min}, got "${s}"`);
  return v;
}

/** `--param k=v,k2=v2` (repeatable) → { k: v }; numbers stay numbers. */
export function parseParams(specs: readonly string[]): Record<string, number | string> {
  const out: Record<string, number | string> = {};
  for (const part of specs.flatMap((s) => s.split(','))) {
    if (part.trim() === '') continue;
    const m = /^\s*([\w-]+(?:\.[\w-]+)?)\s*=\s*(\S+)\s*$/.exec(part);
    if (!m) throw new UserError(`--param takes key=value or method.key=value, got "${part}"`);
    const n = Number(m[2]);
    out[m[1]] = Number.isFinite(n) ? n : m[2];
  }
  return out;
}

/**
 * A comma-separated list of method ids (`--method`, `--methods`), each once; a list that names
 * none (`""`, `,,,`) is an error naming the methods there are.
 */
export function parseMethodList(spec: string, option: string, alternatives = ''): Explainer[] {
  const ids = [...new Set(spec.split(',').map((s) => s.trim().toLowerCase()).filter((s) => s !== ''))];
  if (ids.length === 0) {
    throw new UserError(`${option} names no method (got "${spec}"); available: ${EXPLAINERS.map((e) => e.id).join(', ')}${alternatives ? `, ${alternatives}` : ''}`);
  }
  return ids.map(explainerById);
}
