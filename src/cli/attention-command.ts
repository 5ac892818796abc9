/**
 * `xai-lens attention`: the attention of a Transformer / ViT from the command line. Image models:
 * attention rollout, one layer's raw attention or gradient-weighted rollout as a map over the
 * patch grid (.npy and an overlay PNG). Token models: every attention layer's probabilities
 * ([heads, queries, keys] .npy files) and the rollout of each self-attention side ([n, n]).
 */
import * as fs from 'node:fs';
import { parseArgs } from 'node:util';
import { joinNegativeValues } from './negative-values';
import { UserError } from '../shared/errors';
import { ATTENTION_MODES, type AttentionMode, type HeadFusion } from '../shared/attention';
import { describeBackend } from '../extension/backend/backends';
import { parseBackend, parseColormap, parseIntOption, parseOpacity, parsePreprocess } from './args';
import { COMPUTE_OPTIONS, startPool, WORKERS_USAGE } from './compute';
import { parseTargetSpec } from '../extension/model/targets';
import type { ModelRef } from '../extension/compute/protocol';
import {
  attentionInfoJob, attentionMapJob, attentionTokensJob, noAttention, type AttentionMapArgs, type AttentionSummary, type AttentionTokensArgs,
} from '../extension/compute/jobs/attention';
import type { AttentionMapResult } from '../extension/attention/image-request';
import type { TokenAttention } from '../extension/attention/token-request';
import { imageReport, tokenReport, type Report } from './attention-report';
import { OutputFolders } from './output-dir';
import { targetPart } from './output-names';

export const ATTENTION_USAGE = `usage: xai-lens attention <image> --model <model file or its folder> [options]
       xai-lens attention --tokens "<tokens>" [--tokens "<tokens of input 2>"] --model <model> [options]

  --tokens <text>       a token model's input: space-separated tokens of its vocabulary (or ids),
                        once per model input in the model's input order
  --mode <m>            rollout (default), raw (one layer's attention) or grad-rollout (rollout
                        weighted by the gradient of the target class)
  --layer <name>        raw: the attention layer (default: the last)
  --head <h>            raw: a head index, or mean (default), max or min over the heads
  --query <k>           raw: the query token (images: default the CLS token, else the mean over
                        all query tokens; tokens: the row of the matrix to print)
  --fusion <f>          rollout: how heads are combined, mean (default), max or min
  --discard <r>         rollout, grad-rollout: fraction 0..0.99 of the weakest attention
                        discarded per layer (default 0)
  --target <t>          grad-rollout: top (default), a class index, or a label
  --backend <b>         auto (default), tensorflow-gpu, tensorflow, wasm, cpu
${WORKERS_USAGE}
  --preprocess <p>      images: unit, symmetric, imagenet, caffe, raw (default: the model's metadata, else unit)
  --out <dir>           where to write the files (default ./xai-lens-out): images
                        <image>[.class<k>].attention-<mode>.npy / .png, <image> the image's file
                        name with its extension; tokens attention.<layer>.npy and rollout.<input>.npy
                        (grad-rollout[.class<k>].<input>.npy with --mode grad-rollout)
  --colormap <c>        overlay colormap: viridis, inferno, turbo (default), jet, gray
  --opacity <a>         overlay opacity 0..1 (default 0.5)
  --json                print one JSON object on stdout`;

const FUSIONS: readonly HeadFusion[] = ['mean', 'max', 'min'];

function parseMode(s: string | undefined): AttentionMode {
  const v = (s ?? 'rollout').trim().toLowerCase();
  if (!(ATTENTION_MODES as readonly string[]).includes(v)) throw new UserError(`--mode must be one of ${ATTENTION_MODES.join(', ')}, got "${s}"`);
  return v as AttentionMode;
}

function parseFusion(s: string | undefined, option: string): HeadFusion {
  const v = (s ?? 'mean').trim().toLowerCase();
  if (!(FUSIONS as readonly string[]).includes(v)) throw new UserError(`${option} must be one of ${FUSIONS.join(', ')}, got "${s}"`);
  return v as HeadFusion;
}

function parseHead(s: string | undefined): number | HeadFusion | undefined {
  if (s === undefined) return undefined;
  if (/^\s*\d+\s*$/.test(s)) return Number(s);
  const v = s.trim().toLowerCase();
  if (!(FUSIONS as readonly string[]).includes(v)) throw new UserError(`--head must be a head index or one of ${FUSIONS.join(', ')}, got "${s}"`);
  return v as HeadFusion;
}

function parseDiscard(s: string | undefined): number {
  if (s === undefined) return 0;
  const v = Number(s);
  if (s.trim() === '' || !Number.isFinite(v) || v < 0 || v > 0.99) throw new UserError(`--discard must be a number from 0 to 0.99, got "${s}"`);
  return v;
}

const OPTIONS = {
  model: { type: 'string', short: 'm' },
  tokens: { type: 'string', multiple: true },
  mode: { type: 'string' },
  layer: { type: 'string' },
  head: { type: 'string' },
  query: { type: 'string' },
  fusion: { type: 'string' },
  discard: { type: 'string' },
  target: { type: 'string' },
  backend: { type: 'string' },
  preprocess: { type: 'string' },
  out: { type: 'string', short: 'o' },
  colormap: { type: 'string' },
  opacity: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  workers: COMPUTE_OPTIONS.workers,
} as const;

export async function attentionCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args: joinNegativeValues(argv, OPTIONS), allowPositionals: true, options: OPTIONS });
  if (values.help) {
    console.log(ATTENTION_USAGE);
    return 0;
  }
  const tokens = values.tokens ?? [];
  if (positionals.length > 0 && tokens.length > 0) throw new UserError('give either an image or --tokens, not both; see xai-lens attention --help');
  if (positionals.length > 1) throw new UserError(`attention takes one image (got ${positionals.length}); see xai-lens attention --help`);
  if (positionals.length === 0 && tokens.length === 0) throw new UserError('attention needs an image, or --tokens for a token model; see xai-lens attention --help');
  if (!values.model) throw new UserError('--model is required (a model file — model.json, .onnx, .keras, .h5 — or the folder that holds it)');
  const imageFile = positionals[0];
  if (imageFile !== undefined && !fs.existsSync(imageFile)) throw new UserError(`image not found: ${imageFile}`);
  const mode = parseMode(values.mode);
  const head = parseHead(values.head);
  const query = values.query === undefined ? undefined : parseIntOption(values.query, '--query', 0);
  const fusion = parseFusion(values.fusion, '--fusion');
  const discardRatio = parseDiscard(values.discard);
  if (mode !== 'raw' && (values.layer !== undefined || head !== undefined || query !== undefined)) {
    throw new UserError('--layer, --head and --query choose the raw attention of one layer: add --mode raw');
  }
  if (mode !== 'grad-rollout' && values.target !== undefined) throw new UserError('--target chooses the class of --mode grad-rollout');
  // Token models write their rollout files in every mode; an image gets one map.
  if (mode === 'raw' && imageFile !== undefined && values.discard !== undefined) throw new UserError('--discard is for --mode rollout and grad-rollout');
  const fusionApplies = mode === 'rollout' || (mode === 'raw' && imageFile === undefined);
  if (!fusionApplies && values.fusion !== undefined) throw new UserError('--fusion is for --mode rollout (raw: --head mean|max|min; grad-rollout averages the heads)');
  const presetArg = parsePreprocess(values.preprocess);
  const colormap = parseColormap(values.colormap);
  const opacity = parseOpacity(values.opacity);
  const backendChoice = parseBackend(values.backend);
  const modelPath = values.model;
  // The folder is made and checked before any work; a failed run leaves no empty folder behind.
  const folders = new OutputFolders();
  const outDir = folders.prepare({ dir: values.out ?? 'xai-lens-out', what: 'the output folder', option: '--out', given: values.out !== undefined });
  return folders.guard(async () => {
    const { pool, backend } = await startPool({ workers: values.workers, backend: backendChoice });
    try {
      const ref: ModelRef = { file: modelPath };
      const info = await pool.run<AttentionSummary | undefined>(attentionInfoJob.kind, { model: ref, why: true }, { model: ref });
      if (!info) throw noAttention(modelPath);
      const spec = mode === 'grad-rollout' ? parseTargetSpec(values.target ?? 'top', info.labels, info.outputSize) : 'top';
      const target = spec === 'top' ? {} : { target: spec };
      // A named target is in the file names: <image>.class<k>.attention-grad-rollout.npy.
      const part = targetPart(spec === 'top' ? undefined : spec);
      let report: Report;
      if (imageFile !== undefined) {
        if (info.kind === 'tokens') throw new UserError(`${info.name} takes token ids (${info.inputs.join(', ')}), not an image: give them with --tokens`);
        const preset = presetArg ?? info.preprocess ?? 'unit';
        const args: AttentionMapArgs = { model: ref, imageFile, preprocess: preset, request: { requestId: 0, mode, fusion, discardRatio, layer: values.layer, head, query, ...target } };
        const r = await pool.run<AttentionMapResult>(attentionMapJob.kind, args, { model: ref });
        report = await imageReport(info, imageFile, r, { outDir, preset, colormap, opacity, part });
      } else {
        if (info.kind === 'image') throw new UserError(`${info.name} takes an image (${info.inputs.join(', ')}), not tokens: give an image file instead of --tokens`);
        const inputs = info.tokens?.inputs ?? [];
        if (tokens.length !== inputs.length) {
          const how = inputs.map((x) => `--tokens "${x.example ?? '…'}"`).join(' ');
          throw new UserError(`${info.name} has ${inputs.length} token input${inputs.length === 1 ? '' : 's'} (${inputs.map((x) => x.name).join(', ')}) and got --tokens ${tokens.length} time${tokens.length === 1 ? '' : 's'}; e.g. ${how}`);
        }
        const raw = mode === 'raw' ? { raw: { layer: values.layer, head, query } } : {};
        const args: AttentionTokensArgs = { model: ref, texts: tokens, options: { mode, fusion, discardRatio, ...target, ...raw } };
        report = tokenReport(await pool.run<TokenAttention>(attentionTokensJob.kind, args, { model: ref }), mode, outDir, part);
      }
      const { human, ...rest } = report;
      const model = { file: info.file, format: info.format, name: info.name };
      if (values.json) process.stdout.write(JSON.stringify({ backend: backend.backend, model, ...rest }) + '\n');
      else console.log([`backend      ${describeBackend(backend)}`, `model        ${model.file} (${model.format})`, ...human].join('\n'));
      return 0;
    } finally {
      await pool.dispose();
    }
  });
}
