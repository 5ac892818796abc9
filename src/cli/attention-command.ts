/**
 * `xai-lens attention`: the attention of a Transformer / ViT from the command line. Image models:
 * attention rollout, one layer's raw attention or gradient-weighted rollout as a map over the
 * patch grid (.npy and an overlay PNG). Token models: every attention layer's probabilities
 * ([heads, queries, keys] .npy files) and the rollout of each self-attention side ([n, n]).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { UserError } from '../shared/errors';
import { ATTENTION_MODES, type AttentionMode, type HeadFusion } from '../shared/attention';
import { describeBackend } from '../extension/backend/backends';
import { parseBackend, parseColormap, parseIntOption, parseOpacity, parsePreprocess } from './args';
import { COMPUTE_OPTIONS, startPool, WORKERS_USAGE } from './compute';
import { attentionReportJob, type AttentionOptions, type AttentionReportArgs, type Report } from './attention-report';

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
                        <image>.attention-<mode>.npy / .png; tokens attention.<layer>.npy and
                        rollout.<input>.npy (grad-rollout.<input>.npy with --mode grad-rollout)
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

export async function attentionCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
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
    },
  });
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
  const opts: AttentionOptions = {
    mode: parseMode(values.mode),
    layer: values.layer,
    head: parseHead(values.head),
    query: values.query === undefined ? undefined : parseIntOption(values.query, '--query', 0),
    fusion: parseFusion(values.fusion, '--fusion'),
    discardRatio: parseDiscard(values.discard),
    target: values.target,
    outDir: path.resolve(values.out ?? 'xai-lens-out'),
    json: values.json === true,
  };
  if (opts.mode !== 'raw' && (opts.layer !== undefined || opts.head !== undefined || opts.query !== undefined)) {
    throw new UserError('--layer, --head and --query choose the raw attention of one layer: add --mode raw');
  }
  if (opts.mode !== 'grad-rollout' && opts.target !== undefined) throw new UserError('--target chooses the class of --mode grad-rollout');
  // Token models write their rollout files in every mode; an image gets one map.
  if (opts.mode === 'raw' && imageFile !== undefined && values.discard !== undefined) throw new UserError('--discard is for --mode rollout and grad-rollout');
  const fusionApplies = opts.mode === 'rollout' || (opts.mode === 'raw' && imageFile === undefined);
  if (!fusionApplies && values.fusion !== undefined) throw new UserError('--fusion is for --mode rollout (raw: --head mean|max|min; grad-rollout averages the heads)');
  const presetArg = parsePreprocess(values.preprocess);
  const colormap = parseColormap(values.colormap);
  const opacity = parseOpacity(values.opacity);

  const { pool, backend } = await startPool({ workers: values.workers, backend: parseBackend(values.backend) });
  try {
    const args: AttentionReportArgs = {
      model: values.model, ...(imageFile !== undefined ? { imageFile } : {}), tokens, opts,
      ...(presetArg ? { preset: presetArg } : {}), colormap, opacity,
    };
    const { human, model, ...rest } = await pool.run<Report & { model: { file: string; format: string; name: string } }>(attentionReportJob.kind, args);
    if (opts.json) process.stdout.write(JSON.stringify({ backend: backend.backend, model, ...rest }) + '\n');
    else console.log([`backend      ${describeBackend(backend)}`, `model        ${model.file} (${model.format})`, ...human].join('\n'));
    return 0;
  } finally {
    await pool.dispose();
  }
}

