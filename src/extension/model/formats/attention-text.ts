/** A cheap look at a text model file: could it have attention to show? */
import * as fs from 'node:fs';

export function mayHaveAttentionText(file: string): boolean {
  const text = fs.readFileSync(file, 'utf8');
  return text.includes('"MultiHeadAttention"') || /"op"\s*:\s*"Softmax"/.test(text);
}
