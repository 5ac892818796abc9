import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fmtAuc, fmtMeanStd, fmtMs, fmtP, fmtTime, fmtW, fmtWeight, showToken } from '../../../src/webview/util/format';

test('fmtMs: whole milliseconds below 10 s, tenths of seconds from 10 s', () => {
  assert.equal(fmtMs(0), '0 ms');
  assert.equal(fmtMs(1.5), '2 ms');
  assert.equal(fmtMs(9999), '9999 ms');
  assert.equal(fmtMs(10_000), '10.0 s');
  assert.equal(fmtMs(12_345), '12.3 s');
  assert.equal(fmtMs(-5), '-5 ms');
  assert.equal(fmtMs(NaN), 'NaN ms');
});

test('fmtAuc: three decimals, a dash for a missing or non-finite value', () => {
  assert.equal(fmtAuc(0), '0.000');
  assert.equal(fmtAuc(0.12345), '0.123');
  assert.equal(fmtAuc(0.9996), '1.000');
  assert.equal(fmtAuc(-0.5), '-0.500');
  assert.equal(fmtAuc(undefined), '–');
  assert.equal(fmtAuc(NaN), '–');
  assert.equal(fmtAuc(Infinity), '–');
});

test('fmtWeight: 0 plain, four decimals from 0.001 in magnitude, an exponent below', () => {
  assert.equal(fmtWeight(0), '0');
  assert.equal(fmtWeight(-0), '0');
  assert.equal(fmtWeight(0.5), '0.5000');
  assert.equal(fmtWeight(0.001), '0.0010');
  assert.equal(fmtWeight(0.00099), '9.90e-4');
  assert.equal(fmtWeight(1e-12), '1.00e-12');
  assert.equal(fmtWeight(-0.25), '-0.2500');
  assert.equal(fmtWeight(-0.0005), '-5.00e-4');
  assert.equal(fmtWeight(1234.56789), '1234.5679');
  assert.equal(fmtWeight(1e21), '1e+21');
  assert.equal(fmtWeight(NaN), 'NaN');
});

test('fmtW: two decimals near 1, three from 0.01, an exponent below, 0 plain', () => {
  assert.equal(fmtW(1), '1.00');
  assert.equal(fmtW(0.996), '1.00');
  // 0.995 is stored just below itself, so toFixed(2) rounds it down.
  assert.equal(fmtW(0.995), '0.99');
  assert.equal(fmtW(0.992), '0.992');
  assert.equal(fmtW(0.5), '0.500');
  assert.equal(fmtW(0.01), '0.010');
  assert.equal(fmtW(0.0099), '9.9e-3');
  assert.equal(fmtW(1e-7), '1.0e-7');
  assert.equal(fmtW(0), '0');
  // Negative weights (never in softmax probabilities) fall through to the exponent.
  assert.equal(fmtW(-0.2), '-2.0e-1');
  assert.equal(fmtW(NaN), 'NaN');
});

test('showToken: whitespace made visible, long tokens cut to max with an ellipsis', () => {
  assert.equal(showToken('hello'), 'hello');
  assert.equal(showToken(''), '');
  assert.equal(showToken(' a\tb\n'), '·a·b·');
  assert.equal(showToken('abcde', 5), 'abcde');
  assert.equal(showToken('abcdef', 5), 'abcd…');
  assert.equal(showToken('x'.repeat(30)), `${'x'.repeat(23)}…`);
  assert.equal(showToken('x'.repeat(24)), 'x'.repeat(24));
});

test('fmtP: 1 at the top, three or four decimals, an exponent below 0.001, a dash for non-finite', () => {
  assert.equal(fmtP(1), '1');
  assert.equal(fmtP(1.5), '1');
  assert.equal(fmtP(0.05), '0.050');
  assert.equal(fmtP(0.01), '0.010');
  assert.equal(fmtP(0.00999), '0.0100');
  assert.equal(fmtP(0.001), '0.0010');
  assert.equal(fmtP(0.000123), '1.2e-4');
  assert.equal(fmtP(0), '0.0e+0');
  assert.equal(fmtP(NaN), '–');
  assert.equal(fmtP(Infinity), '–');
  assert.equal(fmtP(-Infinity), '–');
});

test('fmtMeanStd: both to two decimals', () => {
  assert.equal(fmtMeanStd(0.5, 0.123), '0.50 ± 0.12');
  assert.equal(fmtMeanStd(0, 0), '0.00 ± 0.00');
  assert.equal(fmtMeanStd(-0.1, 1), '-0.10 ± 1.00');
  assert.equal(fmtMeanStd(NaN, 0.2), 'NaN ± 0.20');
});

test('fmtTime: medium date and short time in the given locale and zone; not a date: as given', () => {
  assert.equal(fmtTime('2025-03-02T14:05:00Z', 'en-GB', 'UTC'), '2 Mar 2025, 14:05');
  assert.equal(fmtTime('2025-03-02T14:05:00Z', 'en-US', 'America/New_York').replace(/\s/g, ' '), 'Mar 2, 2025, 9:05 AM');
  assert.equal(fmtTime('not a date'), 'not a date');
  assert.equal(fmtTime(''), '');
});
