/**
 * Creates a TCAV experiment folder following the workspace convention: experiment.json, one
 * folder per concept, a random folder, a class folder, a README saying what goes where, and a
 * .gitignore for the activation cache.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { UserError } from '../../shared/errors';
import type { TcavExperimentFile } from '../../shared/tcav';
import { DEFAULT_IMAGES_PER_SET, DEFAULT_RUNS } from './experiment';

export interface ScaffoldOptions {
  /** The new experiment's folder (created; must not hold an experiment already). */
  dir: string;
  /** The model file, absolute; written relative to the experiment. */
  model?: string;
  target: string | number;
  layers: string[];
  concepts: string[];
  runs?: number;
  imagesPerSet?: number;
}

const CONCEPT_NAME = /^[\w][\w .-]*$/;

function readme(o: ScaffoldOptions, runs: number, perSet: number): string {
  return `# TCAV experiment

Does the model use these concepts for the class **${o.target}**? (Kim et al. 2018, TCAV.)

| Folder | Put here |
| --- | --- |
${o.concepts.map((c) => `| \`concepts/${c}/\` | example images of the concept "${c}" (about ${perSet}) |`).join('\n')}
| \`random/\` | random images, at least ${(runs + 1) * perSet}: XAI Lens splits them into ${runs + 1} random sets of ${perSet} (or make one sub-folder per set) |
| \`class/\` | images of the class ${o.target} |

Then run **XAI Lens: Run TCAV** on \`experiment.json\` (or \`xai-lens tcav experiment.json\`).

- Each run trains a concept activation vector (CAV): a linear classifier of the layer's
  activations, concept images against one random set. Its held-out accuracy is shown; near 50%
  means the concept is not linearly present at that layer.
- The TCAV score is the fraction of class images whose class logit increases when the layer's
  activation moves towards the concept.
- The scores over the runs are compared with random-vs-random scores by Welch's two-sided
  t-test, Bonferroni-corrected over concepts × layers. Bars marked n.s. are not evidence.
- Results are saved in \`results/\`, one file per run, so checkpoints can be compared.
- Activations are cached in \`.cache/\` per model checkpoint, layer and image.
`;
}

/** Creates the folders and files; returns the experiment file. */
export function scaffoldExperiment(o: ScaffoldOptions): string {
  if (o.concepts.length === 0) throw new UserError('name at least one concept');
  for (const c of o.concepts) if (!CONCEPT_NAME.test(c)) throw new UserError(`"${c}" cannot be a folder name for a concept (letters, digits, spaces, . _ -)`);
  if (o.layers.length === 0) throw new UserError('pick at least one layer');
  const file = path.join(o.dir, 'experiment.json');
  if (fs.existsSync(file)) throw new UserError(`${file} already exists`);
  const runs = o.runs ?? DEFAULT_RUNS;
  const perSet = o.imagesPerSet ?? DEFAULT_IMAGES_PER_SET;
  for (const sub of [...o.concepts.map((c) => path.join('concepts', c)), 'random', 'class', 'results']) fs.mkdirSync(path.join(o.dir, sub), { recursive: true });
  const json: TcavExperimentFile = {
    ...(o.model ? { model: path.relative(o.dir, o.model).split(path.sep).join('/') } : {}),
    target: o.target,
    classImages: 'class',
    conceptsDir: 'concepts',
    concepts: o.concepts,
    random: 'random',
    layers: o.layers,
    runs,
    imagesPerSet: perSet,
    relative: [],
    alpha: 0.05,
    seed: 0,
  };
  fs.writeFileSync(file, `${JSON.stringify(json, null, 2)}\n`);
  fs.writeFileSync(path.join(o.dir, 'README.md'), readme(o, runs, perSet));
  fs.writeFileSync(path.join(o.dir, '.gitignore'), '.cache/\n');
  return file;
}
