/** The input-gradient methods, in the order the panel lists them. */
import type { Explainer } from '../explainer';

export const GRADIENT_METHODS: readonly Explainer[] = [];
