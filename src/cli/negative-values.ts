/**
 * node:util's parseArgs refuses `--threshold -1` as ambiguous: a value that starts with a dash
 * may be an option. A negative number never is one, so the CLI joins it to its option
 * (`--threshold=-1`) before parsing, for every option that takes a value.
 */
interface OptionSpec { type: 'string' | 'boolean'; short?: string }

const NEGATIVE_NUMBER = /^-(?:\d|\.\d|Infinity\b)/;

export function joinNegativeValues(argv: readonly string[], options: Readonly<Record<string, OptionSpec>>): string[] {
  const takesValue = new Map<string, string>(); // "--name" / "-n" → "--name"
  for (const [name, spec] of Object.entries(options)) {
    if (spec.type !== 'string') continue;
    takesValue.set(`--${name}`, `--${name}`);
    if (spec.short) takesValue.set(`-${spec.short}`, `--${name}`);
  }
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--') return [...out, ...argv.slice(i)];
    const long = takesValue.get(arg);
    const next = argv[i + 1];
    if (long !== undefined && next !== undefined && NEGATIVE_NUMBER.test(next)) {
      out.push(`${long}=${next}`);
      i++;
    } else out.push(arg);
  }
  return out;
}
