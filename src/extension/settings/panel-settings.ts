/** The settings the panels read, in the terms they use them (the raw readers are in settings.ts). */
import type { Explainer } from '../explain/explainer';
import { EXPLAINERS } from '../explain/registry';
import type { ModelInfo } from '../compute/jobs/describe';
import type { PreprocessPreset } from '../image/preprocess';
import type { ColormapName } from '../../shared/colormaps';
import { colormapSetting, defaultMethodsSetting, faithfulnessSetting, preprocessSetting, topKSetting } from './settings';

export interface PanelSettings {
  /** The `xaiLens.colormap` setting: new panels draw with it. */
  colormap(): ColormapName;
  /** The methods to run: the panel's choice (else the setting's), where they apply to the model. */
  methodsFor(model: ModelInfo, wanted?: readonly string[]): Explainer[];
  /** The `xaiLens.defaultMethods` setting. */
  defaultMethods(): string[];
  /** Whether panels compute faithfulness metrics unless the panel says otherwise. */
  metricsByDefault(): boolean;
  /** How the model's inputs are preprocessed: the setting, or the model's own when it is `auto`. */
  preprocessFor(model: Pick<ModelInfo, 'preprocess'>): PreprocessPreset;
  /** How many predictions the panel lists. */
  topK(): number;
}

export const panelSettings: PanelSettings = {
  colormap: colormapSetting,

  methodsFor(model, chosen) {
    const wanted = chosen && chosen.length > 0 ? chosen : defaultMethodsSetting();
    const methods = EXPLAINERS.filter((e) => wanted.includes(e.id) && model.unavailable[e.id] === undefined);
    if (methods.length > 0) return methods;
    // None of the chosen methods applies: say which and why, through the first one's reason.
    const first = EXPLAINERS.find((e) => wanted.includes(e.id)) ?? EXPLAINERS[0];
    return [first];
  },

  defaultMethods: defaultMethodsSetting,

  metricsByDefault: faithfulnessSetting,

  preprocessFor(model) {
    const s = preprocessSetting();
    return s === 'auto' ? model.preprocess ?? 'unit' : s;
  },

  topK: topKSetting,
};
