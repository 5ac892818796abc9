// A map that says nothing says so: on the demo tiny ViT, Grad-CAM's map of cross-1.png is zero
// everywhere (no positive gradient-weighted patch), and the JSON and the summary carry the note.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CLI, ROOT } from './hardening-helpers';

const VIT = path.join(ROOT, 'demo', 'models', 'tiny-vit');
const image = (name: string) => path.join(ROOT, 'demo', 'vit-images', name);

function explain(...args: string[]): { code: number | null; stdout: string; stderr: string } {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'xai-map-note-'));
  const r = spawnSync(process.execPath, [CLI, 'explain', ...args, '--model', VIT, '--method', 'gradcam,gradient', '--backend', 'cpu', '--workers', '1', '--out', out], { encoding: 'utf8' });
  fs.rmSync(out, { recursive: true, force: true });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('a zero map carries a note with its likely cause; a map with any spread carries none', () => {
  const zero = explain(image('cross-1.png'), '--json');
  assert.equal(zero.code, 0, zero.stderr);
  const maps = JSON.parse(zero.stdout).maps as { method: string; note?: string }[];
  assert.match(maps.find((m) => m.method === 'gradcam')!.note!, /^the map is zero everywhere: no gradient-weighted activation of this layer is positive for this target/);
  assert.equal(maps.find((m) => m.method === 'gradient')!.note, undefined);
  const fine = explain(image('plus-2.png'), '--json');
  assert.equal(fine.code, 0, fine.stderr);
  assert.equal((JSON.parse(fine.stdout).maps as { note?: string }[]).filter((m) => m.note).length, 0);
  const human = explain(image('cross-1.png'));
  assert.match(human.stdout, /\n\s+note: the map is zero everywhere/);
});
