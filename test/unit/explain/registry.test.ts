/** The method registry: ids, parameters, package.json's settings, and what applies to which model. */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { DEFAULT_METHODS, EXPLAINERS, explainerById, whyNotApplicable } from '../../../src/extension/explain/registry';
import { paramsFor } from '../../../src/extension/explain/explain-image';
import { LayersModelAdapter } from '../../../src/extension/model/layers-adapter';
import { UserError } from '../../../src/shared/errors';
import { branchingModel, gapModel, linearModel } from '../../helpers/models';
import { useBackend } from '../../helpers/tf-test';

const ROOT = path.resolve(__dirname, '../../../..');

before(() => useBackend('cpu'));

test('method ids are unique, lower-case, and every parameter default is valid', () => {
  const ids = EXPLAINERS.map((e) => e.id);
  assert.equal(new Set(ids).size, ids.length);
  for (const e of EXPLAINERS) {
    assert.match(e.id, /^[a-z]+$/);
    assert.equal(explainerById(e.id.toUpperCase()), e);
    for (const p of e.params) {
      if (p.choices) assert.ok(p.choices.includes(String(p.default)), `${e.id}.${p.key} default ${p.default} is one of its choices`);
      else {
        assert.equal(typeof p.default, 'number', `${e.id}.${p.key}`);
        assert.ok((p.min ?? -Infinity) <= (p.default as number) && (p.default as number) <= (p.max ?? Infinity), `${e.id}.${p.key} default within bounds`);
      }
    }
  }
  assert.throws(() => explainerById('magic'), UserError);
});

test("package.json's method setting lists exactly the registered methods, and its default is DEFAULT_METHODS", () => {
  const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
  const setting = pkg.contributes.configuration.properties['xaiLens.defaultMethods'];
  assert.deepEqual(setting.items.enum, EXPLAINERS.map((e) => e.id));
  assert.equal(setting.items.enumDescriptions.length, EXPLAINERS.length);
  assert.deepEqual(setting.default, [...DEFAULT_METHODS]);
  for (const id of DEFAULT_METHODS) explainerById(id);
});

test('what applies: CAM needs a GAP → Dense head, CAM methods a spatial layer', () => {
  const gap = new LayersModelAdapter(gapModel());
  const linear = new LayersModelAdapter(linearModel());
  const branching = new LayersModelAdapter(branchingModel());
  try {
    const before = tf.memory().numTensors;
    assert.equal(whyNotApplicable(explainerById('cam'), gap), undefined);
    assert.match(whyNotApplicable(explainerById('cam'), branching, 'c1') ?? '', /^CAM needs a GlobalAveragePooling2D → Dense head after "c1"/);
    assert.equal(tf.memory().numTensors, before, 'checking CAM leaves no tensors behind');
    assert.match(whyNotApplicable(explainerById('gradcam'), linear) ?? '', /this model has none/);
    for (const id of ['gradient', 'ig', 'occlusion', 'rise', 'random']) assert.equal(whyNotApplicable(explainerById(id), linear), undefined, id);
  } finally {
    [gap, linear, branching].forEach((a) => a.dispose());
  }
});

test('parameters: plain keys reach every method that has them, scoped keys one method, and bad values are refused', () => {
  const ig = explainerById('ig');
  const sg = explainerById('smoothgrad');
  assert.deepEqual(paramsFor(ig, { steps: 128, 'smoothgrad.samples': 9 }), { steps: 128 });
  assert.deepEqual(paramsFor(sg, { steps: 128, 'smoothgrad.samples': 9 }), { samples: 9 });
  assert.deepEqual(paramsFor(ig, { 'ig.steps': '32', baseline: 'Blurred' }), { steps: 32, baseline: 'blurred' });
  assert.throws(() => paramsFor(ig, { 'ig.window': 3 }), /Integrated Gradients has no parameter "window"/);
  assert.throws(() => paramsFor(ig, { steps: 0 }), /ig\.steps must be between/);
  assert.throws(() => paramsFor(ig, { steps: 'many' }), /ig\.steps must be a number/);
  assert.throws(() => paramsFor(ig, { baseline: 'grey' }), /ig\.baseline must be one of/);
});
