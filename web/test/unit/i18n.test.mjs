// lib/i18n.js: lookups, the Italian fallback, interpolation, the switch;
// and the two dictionaries hold the same keys with the same placeholders.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { getLang, has, locale, onLangChange, setLang, t } from '../../src/js/lib/i18n.js';

const dict = (lang) => JSON.parse(readFileSync(new URL(`../../src/i18n/${lang}.json`, import.meta.url), 'utf8'));

function leaves(o, prefix = '', out = new Map()) {
  for (const [k, v] of Object.entries(o)) {
    if (v && typeof v === 'object') leaves(v, `${prefix}${k}.`, out);
    else out.set(`${prefix}${k}`, v);
  }
  return out;
}

test('Italian by default, with dot-path keys', () => {
  assert.equal(getLang(), 'it');
  assert.equal(locale(), 'it-IT');
  assert.equal(t('common.loading'), 'Caricamento…');
  assert.equal(t('booking.steps.office'), 'Ufficio');
});

test('placeholders are filled; unknown ones are left as they are', () => {
  assert.equal(t('format.minutes', { n: 5 }), '5 minuti');
  assert.equal(t('format.and', { a: 'x' }), 'x e {b}');
  assert.equal(t('errors.reason.too_long', { limit: 0 }), 'Al massimo 0 caratteri.');
});

test('an unknown key is itself; a key of an object is not a string', () => {
  assert.equal(t('no.such.key'), 'no.such.key');
  assert.equal(has('no.such.key'), false);
  assert.equal(has('booking.steps'), false);
  assert.equal(t('booking.steps'), 'booking.steps');
  assert.equal(has('common.loading'), true);
});

test('the switch: English, its listeners, and back', () => {
  const heard = [];
  onLangChange((l) => heard.push(l));
  setLang('en');
  assert.equal(getLang(), 'en');
  assert.equal(locale(), 'en-GB');
  assert.equal(t('common.loading'), 'Loading…');
  setLang('en'); // no change, no call
  setLang('fr'); // not a language of the site
  assert.equal(getLang(), 'en');
  setLang('it');
  assert.deepEqual(heard, ['en', 'it']);
});

test('it.json and en.json have the same keys and the same placeholders', () => {
  const it = leaves(dict('it'));
  const en = leaves(dict('en'));
  assert.deepEqual([...en.keys()].filter((k) => !it.has(k)), [], 'keys only in en.json');
  assert.deepEqual([...it.keys()].filter((k) => !en.has(k)), [], 'keys only in it.json');
  const names = (s) => [...String(s).matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();
  for (const [k, v] of it) assert.deepEqual(names(en.get(k)), names(v), `placeholders of ${k}`);
});
