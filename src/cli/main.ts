/**
 * The xai-lens command line: the extension's explanation core, for scripts and CI pipelines.
 * Exit codes: 0 success, 2 bad input (one line on stderr), 1 an unexpected error, 3 a sanity
 * check that --require-pass named failed.
 */
import * as tf from '@tensorflow/tfjs-core';
import { UserError } from '../shared/errors';
import { safeLine } from '../extension/util/excerpt';
import { describeFsError, fsErrorParts, USER_FS_CODES } from '../extension/util/fs-errors';
import { EXPLAIN_USAGE, explainCommand } from './explain-command';
import { SANITY_USAGE, sanityCommand } from './sanity-command';
import { TCAV_USAGE, tcavCommand } from './tcav-command';
import { ATTENTION_USAGE, attentionCommand } from './attention-command';
import { removeEmptyFolders } from './output-dir';

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
  if (command === '--help' || command === '-h' || command === 'help') {
    console.log(USAGE);
    return 0;
  }
  // No command is a mistake: the usage goes to stderr, stdout stays empty.
  if (command === undefined) {
    process.stderr.write(`${USAGE}\n`);
    return 2;
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

/**
 * A file system error that is the user's environment (a folder that is a file or read-only, a full
 * disk, a missing file), also after crossing from a worker: one line, exit 2, never a stack.
 */
function userFsError(err: unknown): string | undefined {
  const parts = fsErrorParts(err);
  return parts && USER_FS_CODES.includes(parts.code) ? describeFsError(err) : undefined;
}

// stdout carries the report (one JSON object with --json); anything a library logs goes to stderr.
const stdoutLog = console.log;
if (process.argv.includes('--json')) console.log = console.error;

/** Prints what went wrong and returns the exit code: 2 and one line for the user's input and environment, 1 and the details for a bug. */
function report(err: unknown): number {
  const fsMessage = err instanceof UserError ? undefined : userFsError(err);
  if (err instanceof UserError || isArgError(err) || fsMessage !== undefined) {
    // One line, whatever the message quotes (a file's bytes, a layer name from a model file).
    console.error(`xai-lens: ${safeLine(fsMessage ?? (err as Error).message.split('\n')[0])}`);
    return 2;
  }
  console.error('xai-lens: unexpected error (please report it):', err);
  return 1;
}

// An error thrown outside the command's promise (in an event handler) is reported the same way.
process.on('uncaughtException', (err) => process.exit(report(err)));
// Ctrl+C stops the run (the workers go with the process); folders it made and left empty go too.
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    removeEmptyFolders();
    process.exit(signal === 'SIGINT' ? 130 : 143);
  });
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.exitCode = report(err);
  },
).finally(() => {
  console.log = stdoutLog;
});
