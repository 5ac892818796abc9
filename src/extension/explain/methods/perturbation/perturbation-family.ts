/** The perturbation methods and the random reference map, in the order the panel lists them. */
import type { Explainer } from '../../explainer';
import { occlusion } from './occlusion';
import { rise } from './rise';
import { randomBaseline } from './random-baseline';

export const PERTURBATION_METHODS: readonly Explainer[] = [occlusion, rise, randomBaseline];
