// An untrusted workspace supplies data, never code: no native backend is loaded from its
// node_modules, and the settings that could point elsewhere are restricted (package.json).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { nativeSearchPaths } from '../../../src/extension/backend/native-search-paths';

const ROOT = path.join(__dirname, '../../../..');

test('native backends are searched in the extension\'s install, then in the workspace folders only when trusted', () => {
  const storage = path.join('store', 'xai-lens');
  const folders = [path.join('ws', 'a'), path.join('ws', 'b')];
  assert.deepEqual(nativeSearchPaths(storage, folders, true), [path.join(storage, 'native'), ...folders]);
  assert.deepEqual(nativeSearchPaths(storage, folders, false), [path.join(storage, 'native')]);
  assert.deepEqual(nativeSearchPaths(storage, [], true), [path.join(storage, 'native')]);
});

test('package.json: limited support in untrusted workspaces, restricting settings that exist', () => {
  const manifest = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
  const trust = manifest.capabilities.untrustedWorkspaces;
  assert.equal(trust.supported, 'limited');
  assert.deepEqual(trust.restrictedConfigurations, ['xaiLens.modelPath', 'xaiLens.backend']);
  const settings = manifest.contributes.configuration.properties;
  for (const key of trust.restrictedConfigurations) {
    assert.ok(key in settings, `${key} is a contributed setting`);
    assert.ok(trust.description.includes(key), `the description names ${key}`);
  }
  assert.match(trust.description, /node_modules/);
});
