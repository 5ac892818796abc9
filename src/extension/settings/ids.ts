/** Command ids, view types and setting keys: in one place, matching package.json. */
export const COMMANDS = {
  explainImage: 'xaiLens.explainImage',
  selectModel: 'xaiLens.selectModel',
  selectBackend: 'xaiLens.selectBackend',
  installGpuBackend: 'xaiLens.installGpuBackend',
  showStatusMenu: 'xaiLens.showStatusMenu',
  runSanityCheck: 'xaiLens.runSanityCheck',
  newTcavExperiment: 'xaiLens.newTcavExperiment',
  runTcav: 'xaiLens.runTcav',
  showAttention: 'xaiLens.showAttention',
} as const;

export const PANEL_VIEW_TYPE = 'xaiLens.explainPanel';
export const SANITY_VIEW_TYPE = 'xaiLens.sanityPanel';
export const TCAV_VIEW_TYPE = 'xaiLens.tcavPanel';
export const ATTENTION_VIEW_TYPE = 'xaiLens.attentionPanel';

export const SETTINGS = {
  section: 'xaiLens',
  backend: 'backend',
  modelPath: 'modelPath',
  defaultMethods: 'defaultMethods',
  colormap: 'colormap',
  preprocess: 'preprocess',
  topK: 'topK',
  faithfulness: 'faithfulness',
  workers: 'workers',
  onnxRuntime: 'onnxRuntime',
  onnxExecutionProvider: 'onnxExecutionProvider',
} as const;
