/** A cheap look at a text model file: could it have attention to show? */
import { MAX_JSON_BYTES, readModelFile } from '../side-files';

export function mayHaveAttentionText(file: string): boolean {
  const text = readModelFile(file, MAX_JSON_BYTES, 'a model.json').toString('utf8');
  return text.includes('"MultiHeadAttention"') || /"op"\s*:\s*"Softmax"/.test(text);
}
