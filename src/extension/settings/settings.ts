/** Typed access to the xaiLens.* settings. */
import * as vscode from 'vscode';
import { SETTINGS } from './ids';
import { isSupportedBackendChoice, type BackendChoice } from '../backend/backends';
import { isColormapName, type ColormapName } from '../../shared/colormaps';
import { isPreprocessPreset, type PreprocessPreset } from '../image/preprocess';
import { DEFAULT_METHODS } from '../explain/registry';
import type { OnnxRuntimeOptions } from '../model/types';

const config = () => vscode.workspace.getConfiguration(SETTINGS.section);

export function backendSetting(): BackendChoice {
  const v = config().get<string>(SETTINGS.backend, 'auto');
  return isSupportedBackendChoice(v) ? v : 'auto';
}

export function colormapSetting(): ColormapName {
  const v = config().get<string>(SETTINGS.colormap, 'turbo');
  return isColormapName(v) ? v : 'turbo';
}

/** The preprocessing setting; `auto` means: the model's metadata, else [0, 1]. */
export function preprocessSetting(): PreprocessPreset | 'auto' {
  const v = config().get<string>(SETTINGS.preprocess, 'auto');
  return isPreprocessPreset(v) ? v : 'auto';
}

export function topKSetting(): number {
  const v = config().get<number>(SETTINGS.topK, 5);
  return Number.isInteger(v) && v > 0 ? Math.min(v, 50) : 5;
}

export function defaultMethodsSetting(): string[] {
  const v = config().get<string[]>(SETTINGS.defaultMethods, [...DEFAULT_METHODS]);
  return Array.isArray(v) && v.length > 0 ? v : [...DEFAULT_METHODS];
}

export function faithfulnessSetting(): boolean {
  return config().get<boolean>(SETTINGS.faithfulness, true) !== false;
}

export function modelPathSetting(): string | undefined {
  const v = config().get<string>(SETTINGS.modelPath, '');
  return v.trim() === '' ? undefined : v;
}

export async function setModelPathSetting(value: string): Promise<void> {
  await config().update(SETTINGS.modelPath, value, vscode.ConfigurationTarget.Workspace);
}

export async function setBackendSetting(value: BackendChoice): Promise<void> {
  await config().update(SETTINGS.backend, value, vscode.ConfigurationTarget.Global);
}

/** The compute pool's size: the `xaiLens.workers` setting, 0 (the default) for the cores minus one. */
export function workersSetting(): number | undefined {
  const v = config().get<number>(SETTINGS.workers, 0);
  return Number.isInteger(v) && v > 0 ? Math.min(v, 64) : undefined;
}

/** How ONNX models run their forward-only passes: `xaiLens.onnxRuntime` and `xaiLens.onnxExecutionProvider`. */
export function onnxRuntimeSetting(): OnnxRuntimeOptions {
  return {
    enabled: config().get<boolean>(SETTINGS.onnxRuntime, true) !== false,
    executionProvider: config().get<string>(SETTINGS.onnxExecutionProvider, 'cpu'),
  };
}
