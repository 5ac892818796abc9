/**
 * The xai-lens command line: the extension's explanation core, for scripts and CI pipelines.
 * Exit codes: 0 success, 2 bad input (one line on stderr), 1 an unexpected error, 3 a sanity
 * check that --require-pass named failed.
 */
import * as tf from '@tensorflow/tfjs-core';
import { UserError } from '../shared/errors';
import { EXPLAIN_USAGE, explainCommand } from './explain-command';
import { SANITY_USAGE, sanityCommand } from './sanity-command';
import { TCAV_USAGE, tcavCommand } from './tcav-command';
import { ATTENTION_USAGE, attentionCommand } from './attention-command';

// stderr carries one line per problem: no tfjs banners ("Hi, looks like you are running TensorFlow.js in Node.js").
tf.env().set('PROD', true);

const USAGE = `xai-lens — explanations for image models (PyTorch via ONNX, Keras .keras / .h5, TF.js model.json)

commands:
  explain <image> --model <model>   heatmaps (Grad-CAM, ...) as .npy and overlay PNGs
  sanity <image...> --model <model> sanity checks: do the maps depend on the model's weights?
  tcav <experiment.json>            TCAV: how much does a concept matter to a class, per layer?
  attention <image> | --tokens ...  attention maps of Transformers / ViTs (rollout, raw, grad-rollout)

${EXPLAIN_USAGE}

${SANITY_USAGE}

${TCAV_USAGE}

${ATTENTION_USAGE}`;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    console.log(USAGE);
    return command === undefined ? 2 : 0;
  }
  if (command === 'explain') return explainCommand(rest);
  if (command === 'sanity') return sanityCommand(rest);
  if (command === 'tcav') return tcavCommand(rest);
  if (command === 'attention') return attentionCommand(rest);
  throw new UserError(`unknown command "${command}" (try: xai-lens --help)`);
}

function isArgError(err: unknown): boolean {
  const code = (err as { code?: string })?.code ?? '';
  return typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS');
}

// stdout carries the report (one JSON object with --json); anything a library logs goes to stderr.
const stdoutLog = console.log;
if (process.argv.includes('--json')) console.log = console.error;

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    if (err instanceof UserError || isArgError(err)) {
      console.error(`xai-lens: ${(err as Error).message.split('\n')[0]}`);
      process.exitCode = 2;
    } else {
      console.error('xai-lens: unexpected error (please report it):', err);
      process.exitCode = 1;
    }
  },
).finally(() => {
  console.log = stdoutLog;
});
