/**
 * File content quoted in a one-line message: what a file holds may be anything (a PNG given as a
 * model.json, a binary labels file), and its carriage returns, escape sequences and control bytes
 * must not reach a terminal or break the one line. Every message that quotes a file's content
 * quotes it through safeExcerpt.
 */

/** Characters of content an excerpt shows at most (escapes count as the characters they print). */
export const EXCERPT_CHARS = 40;

function escapeChar(ch: string): string {
  const c = ch.codePointAt(0) ?? 0;
  if (ch === '\\') return '\\\\';
  if (ch === '"') return '\\"';
  if (c >= 0x20 && c < 0x7f) return ch;
  if (ch === '\n') return '\\n';
  if (ch === '\r') return '\\r';
  if (ch === '\t') return '\\t';
  if (c < 0x100) return `\\x${c.toString(16).padStart(2, '0')}`;
  if (c < 0x10000) return `\\u${c.toString(16).padStart(4, '0')}`;
  return `\\u{${c.toString(16)}}`;
}

/**
 * `content` as a double-quoted excerpt of printable ASCII: other characters escaped (`\r`, `\x89`,
 * `\ufffd`), at most `max` characters between the quotes, `...` after them when cut. Bytes are
 * read as Latin-1, so each byte shows as itself or as one `\xNN`.
 */
export function safeExcerpt(content: string | Uint8Array, max = EXCERPT_CHARS): string {
  const text = typeof content === 'string' ? content : Buffer.from(content.buffer, content.byteOffset, content.byteLength).toString('latin1');
  let out = '';
  for (const ch of text) {
    const piece = escapeChar(ch);
    if (out.length + piece.length > max) return `"${out}"...`;
    out += piece;
  }
  return `"${out}"`;
}

/**
 * A message of someone else's (a library's, a parser's) made safe for one line: control
 * characters escaped, at most `max` characters. Unlike safeExcerpt it keeps printable non-ASCII
 * (the project's own messages use ×, ≥, —).
 */
export function safeLine(message: string, max = 400): string {
  let out = '';
  for (const ch of message) {
    const c = ch.codePointAt(0) ?? 0;
    const control = c < 0x20 || (c >= 0x7f && c < 0xa0) || c === 0x2028 || c === 0x2029 || c === 0xfffd;
    out += control ? escapeChar(ch) : ch;
    if (out.length >= max) return `${out.slice(0, max)}...`;
  }
  return out;
}

/**
 * Why `text` is not valid JSON, from what JSON.parse threw, without V8's own quote of the text
 * (which copies control characters as they are): "unexpected character at position 0:
 * "\ufffdPNG\r\n\x1a\n..."" or "unexpected end of JSON input".
 */
export function jsonErrorDetail(err: unknown, text: string): string {
  const message = (err instanceof Error ? err.message : String(err)).split('\n')[0];
  if (text.trim() === '') return 'the file is empty';
  const token = /^Unexpected token '([\s\S]*?)', /.exec(message);
  const at = /at position (\d+)/.exec(message);
  let pos = at ? Number(at[1]) : undefined;
  if (pos === undefined && token) {
    const i = text.indexOf(token[1]);
    pos = i >= 0 ? i : undefined;
  }
  let what = token ? 'unexpected character' : message.replace(/\s*in JSON at position \d+.*$/, '').replace(/,?\s*".*$/, '');
  what = safeLine(what, 80).replace(/^[A-Z]/, (c) => c.toLowerCase()) || 'not valid JSON';
  return pos === undefined || pos >= text.length ? what : `${what} at position ${pos}: ${safeExcerpt(text.slice(pos, pos + 2 * EXCERPT_CHARS))}`;
}
