// lib/problems.js: the API's reasons and codes, said in Italian and English
// with their limits — never the API's English message.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { ApiError } from '../../src/js/lib/api.js';
import { setLang } from '../../src/js/lib/i18n.js';
import { fieldName, problemText, reasonText } from '../../src/js/lib/problems.js';

// The reasons and codes of functions/internal/domain/apperr, read from the Go source.
const apperr = readFileSync(new URL('../../../functions/internal/domain/apperr/apperr.go', import.meta.url), 'utf8');
const constants = (type) => [...apperr.matchAll(new RegExp(`^\\s+\\w+\\s+${type}\\s+=\\s+"(\\w+)"`, 'gm'))].map((m) => m[1]);
const REASONS = constants('Reason');
const CODES = constants('Code');

const invalid = (errors) => new ApiError(400, { code: 'invalid', field: errors[0].field, detail: errors[0].message, errors });

test('the Go source lists the reasons and codes this test walks through', () => {
  assert.ok(REASONS.length >= 20 && REASONS.includes('too_long') && REASONS.includes('not_a_slot'), REASONS.join());
  assert.ok(CODES.length >= 15 && CODES.includes('locked'), CODES.join());
});

test('every reason and every code has its own text in both languages', () => {
  for (const lang of ['it', 'en']) {
    setLang(lang);
    const generic = reasonText({ reason: 'no_such_reason' });
    for (const reason of REASONS) {
      const text = reasonText({ field: 'x', reason, limit: 3, min: 1, max: 9, allowed: ['a', 'b'] });
      assert.notEqual(text, generic, `${lang}: reason ${reason} has no text of its own`);
      assert.doesNotMatch(text, /\{\w+\}/, `${lang}: reason ${reason}: ${text}`);
    }
    for (const code of CODES) {
      const text = problemText(new ApiError(500, { code }));
      assert.doesNotMatch(text, /\{\w+\}|errors\.code/, `${lang}: code ${code}: ${text}`);
      assert.notEqual(text, problemText(new ApiError(500, { code: 'no_such_code' })), `${lang}: code ${code} has no text of its own`);
    }
  }
  setLang('it');
});

test('limits are interpolated', () => {
  setLang('it');
  assert.equal(reasonText({ field: 'citizen.given_name', reason: 'too_long', limit: 100 }), 'Al massimo 100 caratteri.');
  assert.equal(reasonText({ field: 'duration_minutes', reason: 'out_of_range', min: 5, max: 480 }), 'Inserisci un numero intero da 5 a 480.');
  assert.equal(reasonText({ field: 'role', reason: 'not_allowed', allowed: ['operator', 'administrator'] }), 'Valore non ammesso: scegli tra operator, administrator.');
  assert.equal(reasonText({ field: 'hours', reason: 'too_many', limit: 4 }), 'Al massimo 4 elementi.');
  assert.equal(reasonText({ field: 'x', reason: 'too_large', limit: 20 * 1024 * 1024 }), 'Al massimo 20 MB.');
  setLang('en');
  assert.equal(reasonText({ field: 'citizen.given_name', reason: 'too_long', limit: 100 }), 'At most 100 characters.');
  assert.equal(reasonText({ field: 'password', reason: 'too_short', limit: 12 }), 'At least 12 characters.');
  setLang('it');
});

test("a field's own text comes before its reason's", () => {
  setLang('it');
  assert.equal(fieldName('citizen.privacy_consent'), 'privacy_consent');
  assert.equal(fieldName('hours[3].closes'), 'closes');
  assert.equal(fieldName('offices[2]'), 'offices');
  assert.match(reasonText({ field: 'citizen.privacy_consent', reason: 'required' }), /informativa sulla privacy/);
  assert.equal(reasonText({ field: 'citizen.email', reason: 'required' }), 'Campo obbligatorio.');
  assert.match(reasonText({ field: 'hours[3].closes', reason: 'order' }), /chiusura.*apertura/);
  assert.match(reasonText({ field: 'password', reason: 'too_long', limit: 72 }), /72 byte/);
  assert.match(reasonText({ field: 'size', reason: 'too_large', limit: 20 * 1024 * 1024 }), /20 MB/);
});

test('an unknown reason is a generic "invalid value", never the English message', () => {
  setLang('it');
  const fe = { field: 'x', reason: 'brand_new', message: 'must be shiny' };
  assert.equal(reasonText(fe), 'Valore non valido.');
  assert.equal(reasonText({ field: 'x', message: 'no reason at all' }), 'Valore non valido.');
  setLang('en');
  assert.equal(reasonText(fe), 'Invalid value.');
  setLang('it');
});

test('problemText: field problems, codes, the network, the lock, a page\'s own texts', () => {
  setLang('it');
  const err = invalid([
    { field: 'start', reason: 'past', message: '2027-03-28T09:00:00+02:00 is in the past' },
    { field: 'start', reason: 'past', message: 'again' },
    { field: 'citizen.email', reason: 'invalid_email', message: 'not a valid email address' },
  ]);
  assert.equal(problemText(err), "L'orario è già passato. Inserisci un indirizzo email valido, ad esempio nome@esempio.it.");
  assert.doesNotMatch(problemText(err), /past|valid email/);
  assert.equal(problemText(new ApiError(409, { code: 'conflict', detail: 'the booking is cancelled' })), 'Non è possibile nello stato attuale: ricarica la pagina.');
  assert.equal(problemText(new ApiError(0, { code: 'network', detail: 'Failed to fetch' })), t0('common.error_network'));
  assert.equal(problemText(new ApiError(429, { code: 'locked' }, 150)), "Troppi tentativi non riusciti: l'accesso è bloccato. Riprova tra 3 minuti.");
  assert.match(problemText(new ApiError(429, { code: 'locked' })), /tra 1 minuti/);
  // A page's own texts: an i18n key or a function.
  assert.equal(problemText(new ApiError(404, { code: 'not_found' }), { not_found: 'manage.link_invalid' }), t0('manage.link_invalid'));
  assert.equal(problemText(new ApiError(409, { code: 'conflict' }), { conflict: (e) => `own ${e.status}` }), 'own 409');
  // No problem document: the code comes from the status.
  assert.equal(new ApiError(404, {}).code, 'not_found');
  assert.equal(new ApiError(503, { detail: 'Service Unavailable' }).code, 'unavailable');
  assert.match(problemText(new ApiError(418, {})), /\(http_418\)/);
  // Not an ApiError at all: a fault of the page.
  assert.match(problemText(new TypeError('x is undefined')), /imprevisto/);
});

// t0 reads the Italian text of a key straight from it.json.
function t0(key) {
  const it = JSON.parse(readFileSync(new URL('../../src/i18n/it.json', import.meta.url), 'utf8'));
  return key.split('.').reduce((o, k) => o[k], it);
}
