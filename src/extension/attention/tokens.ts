/**
 * Tokenizer-agnostic token input: the user types space-separated token strings (looked up in
 * the model's vocabulary) or ids; sequences of a fixed-length input are padded with the
 * vocabulary's padding token (or id 0).
 */
import { UserError } from '../../shared/errors';
import type { TokenInputInfo } from '../../shared/attention';

const PAD_TOKENS = ['[PAD]', '<pad>', '<PAD>', 'PAD'];

export interface ParsedTokens {
  ids: number[];
  strings: string[];
}

export function parseTokens(text: string, input: TokenInputInfo): ParsedTokens {
  const pieces = text.trim().split(/\s+/).filter((p) => p !== '');
  if (pieces.length === 0) throw new UserError(`type some tokens for ${input.name} (space-separated tokens or ids)`);
  const vocab = input.vocab;
  const index = new Map(vocab?.map((t, i) => [t, i]));
  const ids = pieces.map((p) => {
    const known = index.get(p);
    if (known !== undefined) return known;
    if (/^\d+$/.test(p)) {
      const id = Number(p);
      if (vocab && id >= vocab.length) throw new UserError(`token id ${id} is out of range: the vocabulary has ${vocab.length} tokens`);
      return id;
    }
    const hint = vocab ? `; known tokens include ${vocab.slice(0, 8).join(', ')}` : '; the model has no vocabulary in its metadata, so type ids';
    throw new UserError(`unknown token "${p}" for ${input.name}${hint}`);
  });
  if (input.length !== null) {
    if (ids.length > input.length) throw new UserError(`${input.name} takes at most ${input.length} tokens, got ${ids.length}`);
    const pad = vocab ? Math.max(0, vocab.findIndex((t) => PAD_TOKENS.includes(t))) : 0;
    while (ids.length < input.length) ids.push(pad);
  }
  return { ids, strings: ids.map((id) => vocab?.[id] ?? String(id)) };
}
