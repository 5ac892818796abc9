/** The perturbation methods and the random reference map, in the order the panel lists them. */
import type { Explainer } from '../explainer';

export const PERTURBATION_METHODS: readonly Explainer[] = [];
