// A negative number after an option that takes a value is that option's value, not an option.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseArgs } from 'node:util';
import { joinNegativeValues } from '../../../src/cli/negative-values';

const OPTIONS = {
  threshold: { type: 'string', short: 't' },
  json: { type: 'boolean' },
  seed: { type: 'string' },
} as const;

test('negative numbers after value options are joined to them: long, short, decimals, exponents', () => {
  assert.deepEqual(
    joinNegativeValues(['img.png', '--threshold', '-1', '-t', '-.5', '--seed', '-3e2', '--json'], OPTIONS),
    ['img.png', '--threshold=-1', '--threshold=-.5', '--seed=-3e2', '--json'],
  );
  const { values } = parseArgs({ args: joinNegativeValues(['--threshold', '-0.25'], OPTIONS), options: OPTIONS });
  assert.equal(values.threshold, '-0.25');
});

test('what is not a negative number after a value option, or follows a flag or --, is left as it was', () => {
  assert.deepEqual(joinNegativeValues(['--threshold', '-x', '--json', '-1', '--', '--seed', '-2'], OPTIONS),
    ['--threshold', '-x', '--json', '-1', '--', '--seed', '-2']);
  assert.deepEqual(joinNegativeValues(['--threshold'], OPTIONS), ['--threshold']);
  // An option that parseArgs would still refuse stays refused, with its own message.
  assert.throws(() => parseArgs({ args: joinNegativeValues(['--threshold', '-x'], OPTIONS), options: OPTIONS }), /ambiguous/);
});
