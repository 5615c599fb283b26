// Every i18n key the pages and scripts name literally is in it.json (and,
// by i18n.test.mjs, in en.json): data-i18n and data-i18n-attr in the HTML,
// t('…'), has('…') and the i18n keys given as texts in the scripts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { has } from '../../src/js/lib/i18n.js';

const src = fileURLToPath(new URL('../../src/', import.meta.url));
const files = (dir, ext) =>
  readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith(ext))
    .map((e) => join(e.parentPath ?? e.path, e.name));

test('the keys the HTML names exist', () => {
  const missing = [];
  for (const f of files(src, '.html')) {
    const html = readFileSync(f, 'utf8');
    const keys = [...html.matchAll(/data-i18n="([^"{]+)"/g)].map((m) => m[1]);
    for (const [, pairs] of html.matchAll(/data-i18n-attr="([^"]+)"/g)) keys.push(...pairs.split(';').map((p) => p.split(':')[1].trim()));
    for (const [, k] of html.matchAll(/<!--page title="([^"]+)"/g)) keys.push(k);
    for (const k of keys) if (!has(k)) missing.push(`${f.slice(src.length)}: ${k}`);
  }
  assert.deepEqual(missing, []);
});

test('the keys the scripts name literally exist', () => {
  const missing = [];
  // A quoted string that looks like a key of one of the dictionary's blocks.
  const blocks = Object.keys(JSON.parse(readFileSync(join(src, 'i18n', 'it.json'), 'utf8')));
  const key = new RegExp(`'((?:${blocks.join('|')})\\.[a-z0-9_.]+)'`, 'g');
  for (const f of files(join(src, 'js'), '.js')) {
    for (const [, k] of readFileSync(f, 'utf8').matchAll(key)) if (!k.endsWith('.') && !has(k)) missing.push(`${f.slice(src.length)}: ${k}`);
  }
  assert.deepEqual(missing, []);
});
