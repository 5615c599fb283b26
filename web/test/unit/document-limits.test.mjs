// lib/document-limits.js: what the documents function accepts, the one
// place of the site that says it, against the Go source.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { ACCEPT, contentType, fileProblem, MAX_BYTES, MAX_FILES, TYPES } from '../../src/js/lib/document-limits.js';

const file = (name, type, size = 1000) => ({ name, type, size });

test('the types are the documents function\'s', () => {
  const go = readFileSync(new URL('../../../functions/internal/app/documents/validation.go', import.meta.url), 'utf8');
  const listed = go.match(/var ContentTypes = \[\]string\{([^}]*)\}/)[1].match(/"([^"]+)"/g).map((s) => s.slice(1, -1));
  assert.deepEqual([...new Set(Object.values(TYPES))].sort(), listed.sort());
  assert.equal(MAX_BYTES, 20 * 1024 * 1024);
  assert.equal(MAX_FILES, 20);
  for (const t of listed) assert.ok(ACCEPT.split(',').includes(t), `ACCEPT lacks ${t}`);
  assert.ok(ACCEPT.split(',').includes('.p7m'));
});

test('contentType: by the type the browser gives, else by the extension', () => {
  assert.equal(contentType(file('scan.PDF', '')), 'application/pdf');
  assert.equal(contentType(file('firmato.pdf.p7m', '')), 'application/pkcs7-mime');
  assert.equal(contentType(file('firmato.p7m', 'application/x-pkcs7-mime')), 'application/pkcs7-mime');
  assert.equal(contentType(file('foto', 'image/png')), 'image/png');
  assert.equal(contentType(file('foto.jpeg', '')), 'image/jpeg');
  assert.equal(contentType(file('programma.exe', 'application/x-msdownload')), '');
  assert.equal(contentType(file('senza-estensione', '')), '');
  assert.equal(contentType(file('x.constructor', '')), '');
});

test('fileProblem: the type, an empty file, the size', () => {
  assert.equal(fileProblem(file('a.pdf', 'application/pdf', 1)), '');
  assert.equal(fileProblem(file('a.pdf', 'application/pdf', MAX_BYTES)), '');
  assert.equal(fileProblem(file('a.pdf', 'application/pdf', MAX_BYTES + 1)), 'too_big');
  assert.equal(fileProblem(file('a.pdf', 'application/pdf', 0)), 'empty_file');
  assert.equal(fileProblem(file('a.exe', 'application/x-msdownload')), 'bad_type');
});
