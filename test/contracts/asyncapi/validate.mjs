// node validate.mjs <document.json>
//
// Parses an AsyncAPI document with the AsyncAPI project's own parser
// (@asyncapi/parser, pinned in package-lock.json) and prints one JSON object:
// the diagnostics by severity and, when the document parsed, what it holds
// (the addresses of its channels, its operations, its messages). The parser
// validates the document against the AsyncAPI schema, every payload and
// header against its schema format, and runs its own Spectral rules.
//
// The packages come from $SPORTELLO_NODE_MODULES (the Go package local/web
// installs them with npm ci into a cache folder), else ./node_modules.
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';

const modules = process.env.SPORTELLO_NODE_MODULES || join(import.meta.dirname, 'node_modules');
const require = createRequire(join(modules, 'index.js'));
const { Parser } = require('@asyncapi/parser');

const source = resolve(process.argv[2]);
const text = await readFile(source, 'utf8');
// The document refers to nothing outside itself: no resolver may fetch.
const parser = new Parser({ __unstable: { resolver: { cache: false, resolvers: [] } } });
const { document, diagnostics } = await parser.parse(text, { source });

const severities = ['error', 'warning', 'information', 'hint'];
const out = { error: [], warning: [], information: [], hint: [] };
for (const d of diagnostics) {
  out[severities[d.severity]].push(`${d.code}: ${d.message} at ${d.path.join('.')}`);
}
if (document) {
  out.channels = document.channels().all().map((c) => c.address()).sort();
  out.operations = document.operations().all().map((o) => `${o.id()} ${o.action()}`).sort();
  out.messages = document.components().messages().all().map((m) => `${m.id()} ${m.contentType()}`).sort();
}
console.log(JSON.stringify(out, null, 2));
process.exit(document && out.error.length === 0 ? 0 : 1);
