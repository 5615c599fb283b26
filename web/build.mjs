// Builds Sportello's static site: node web/build.mjs <outdir>
//
// - every page entry web/src/js/pages/<page>.js is bundled by esbuild into
//   <outdir>/assets/<page>.js (ES module, shared code from web/src/js/lib/,
//   the i18n JSON bundled in);
// - web/src/css/*.css are copied to <outdir>/assets/;
// - every page web/src/**/index.html is its <main> only, after a first line
//   <!--page title="<i18n key>" styles="<css names>" script="<page>"-->: it
//   goes into web/src/partials/page.html, the frame every page shares (the
//   head, the header with the language switch, the footer, the aria-live
//   announcer), whose {{title}} (and its Italian text), {{styles}},
//   {{script}} and {{main}} come from the page; <!--#include <name>--> in
//   either is web/src/partials/<name>.html (a piece two pages share). The
//   page keeps its folder (web/src/prenota/index.html →
//   <outdir>/prenota/index.html); <!--#openapi--> in a page is the
//   openapi.yaml beside it rendered as HTML (openapi-page.mjs), so the API
//   reference is a static page like the others;
// - other static files (images) are copied;
// - Bootstrap Italia's CSS, fonts (woff2/woff) and SVG sprite are copied to
//   <outdir>/assets/bootstrap-italia/: no CDN, no third-party request.
//
// The npm packages come from $SPORTELLO_NODE_MODULES (the Go package
// local/web installs them with npm ci into a cache folder), else
// web/node_modules. The build fails when an HTML or CSS file of the output
// refers to another origin.
import { cp, mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, extname, join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const src = join(here, 'src');
const out = process.argv[2] ? resolve(process.argv[2]) : null;
if (!out) {
  console.error('usage: node build.mjs <outdir>');
  process.exit(2);
}
const modules = resolve(process.env.SPORTELLO_NODE_MODULES || join(here, 'node_modules'));
const esbuild = await import(pathToFileURL(join(modules, 'esbuild', 'lib', 'main.js')).href);
const YAML = (await import(pathToFileURL(join(modules, 'yaml', 'dist', 'index.js')).href)).default;
const { render: renderOpenAPI } = await import('./openapi-page.mjs');
const bi = join(modules, 'bootstrap-italia', 'dist');

async function walk(dir) {
  const found = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) found.push(...(await walk(p)));
    else if (e.isFile()) found.push(p);
  }
  return found;
}

await rm(out, { recursive: true, force: true });
await mkdir(join(out, 'assets'), { recursive: true });

// 1. Pages' scripts.
const pagesDir = join(src, 'js', 'pages');
const entries = (await readdir(pagesDir)).filter((f) => f.endsWith('.js')).map((f) => join(pagesDir, f));
const result = await esbuild.build({
  entryPoints: entries,
  outdir: join(out, 'assets'),
  bundle: true,
  format: 'esm',
  splitting: false,
  target: ['es2022'],
  minify: true,
  sourcemap: 'linked',
  legalComments: 'eof',
  nodePaths: [modules],
  loader: { '.json': 'json' },
  logLevel: 'warning',
  metafile: true,
});
if (result.errors.length) process.exit(1);

// 2. Pages into the shared frame; CSS and images (everything under src but
// js/, i18n/ and partials/).
const partialsDir = join(src, 'partials');
const partials = {};
for (const f of await readdir(partialsDir)) if (f.endsWith('.html')) partials[f.slice(0, -'.html'.length)] = (await readFile(join(partialsDir, f), 'utf8')).trimEnd();
const include = (text) =>
  text.replace(/<!--#include ([\w-]+)-->/g, (_, name) => {
    if (!(name in partials)) throw new Error(`build.mjs: no partial ${name} (web/src/partials/${name}.html)`);
    return include(partials[name]);
  });
const italian = JSON.parse(await readFile(join(src, 'i18n', 'it.json'), 'utf8'));
const escapeHTML = (s) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

function page(rel, text) {
  const m = text.match(/^<!--page ([^>]*)-->\n/);
  if (!m) throw new Error(`build.mjs: ${rel} does not start with <!--page title="…" styles="…" script="…"-->`);
  const attrs = Object.fromEntries([...m[1].matchAll(/(\w+)="([^"]*)"/g)].map(([, k, v]) => [k, v]));
  const title = attrs.title?.split('.').reduce((o, k) => o?.[k], italian);
  if (typeof title !== 'string') throw new Error(`build.mjs: ${rel}: the title ${attrs.title} is not in it.json`);
  if (!attrs.script) throw new Error(`build.mjs: ${rel}: no script`);
  const vars = {
    title: attrs.title,
    title_text: escapeHTML(title),
    styles: (attrs.styles || '').split(/\s+/).filter(Boolean).map((s) => `<link rel="stylesheet" href="/assets/${s}.css">`).join('\n'),
    script: attrs.script,
  };
  const [before, after] = include(partials.page).split('{{main}}');
  const fill = (s) =>
    s.replace(/\{\{(\w+)\}\}/g, (_, k) => {
      if (!(k in vars)) throw new Error(`build.mjs: partials/page.html: no {{${k}}}`);
      return vars[k];
    });
  return `${fill(before)}${include(text.slice(m[0].length).trimEnd())}${fill(after)}\n`;
}

// withOpenAPI replaces <!--#openapi--> in the page at file with the
// openapi.yaml beside it, rendered.
async function withOpenAPI(file, text) {
  if (!text.includes('<!--#openapi-->')) return text;
  const doc = YAML.parse(await readFile(join(dirname(file), 'openapi.yaml'), 'utf8'));
  return text.replace('<!--#openapi-->', () => renderOpenAPI(doc));
}

for (const f of await walk(src)) {
  const rel = relative(src, f);
  if (/^(js|i18n|partials)\//.test(rel)) continue;
  const to = rel.startsWith('css/') ? join(out, 'assets', rel.slice('css/'.length)) : rel.startsWith('img/') ? join(out, 'assets', rel) : join(out, rel);
  await mkdir(dirname(to), { recursive: true });
  if (extname(rel) === '.html') await writeFile(to, page(rel, await withOpenAPI(f, await readFile(f, 'utf8'))));
  else await cp(f, to);
}

// 3. Bootstrap Italia: CSS (with its source map), fonts, sprite.
const biOut = join(out, 'assets', 'bootstrap-italia');
await mkdir(join(biOut, 'css'), { recursive: true });
// Its video player's icon font is a data: URI, which font-src 'self' refuses
// (and no page uses that player): drop it, and the source map that no
// longer matches.
const biCSS = (await readFile(join(bi, 'css', 'bootstrap-italia.min.css'), 'utf8'))
  .replace(/@font-face\{font-family:VideoJS;[^}]*\}/g, '')
  .replace(/\/\*# sourceMappingURL=[^*]*\*\/\s*$/, '');
if (/url\(\s*["']?data:application\/font/.test(biCSS)) throw new Error('build.mjs: a data: font is left in bootstrap-italia.min.css (CSP font-src)');
await writeFile(join(biOut, 'css', 'bootstrap-italia.min.css'), biCSS);
await cp(join(bi, 'svg'), join(biOut, 'svg'), { recursive: true });
await cp(join(bi, 'fonts'), join(biOut, 'fonts'), {
  recursive: true,
  filter: async (p) => (await stat(p)).isDirectory() || /\.(woff2?|txt)$/.test(p),
});

// 4. No reference to another origin in what the browser loads by itself.
const external = /(?:src|href|action|poster)\s*=\s*["']?\s*(?:https?:)?\/\/|url\(\s*["']?\s*(?:https?:)?\/\/|@import\s+(?:url\()?["']?\s*(?:https?:)?\/\//i;
const bad = [];
for (const f of await walk(out)) {
  const ext = extname(f);
  if (ext !== '.html' && ext !== '.css') continue;
  const text = await readFile(f, 'utf8');
  // SVG data URIs carry xmlns="http://www.w3.org/…": names, not requests.
  const stripped = text.replace(/url\(\s*["']?data:[^)]*\)/g, 'url(data:)');
  const m = stripped.match(external);
  if (m) bad.push(`${relative(out, f)}: ${m[0]}`);
  if (ext === '.html' && /<script(?![^>]*\bsrc=)[^>]*>|\sstyle\s*=|\son[a-z]+\s*=/i.test(text)) {
    bad.push(`${relative(out, f)}: inline script, style or event handler (the CSP forbids them)`);
  }
}
if (bad.length) {
  console.error('build.mjs: the site must not refer to other origins nor carry inline code:\n  ' + bad.join('\n  '));
  process.exit(1);
}

const pages = Object.keys(result.metafile.outputs).filter((f) => f.endsWith('.js'));
await writeFile(join(out, 'assets', 'build.json'), JSON.stringify({ pages: pages.map((p) => relative(out, resolve(p))) }, null, 2) + '\n');
console.log(`build.mjs: ${pages.length} page bundles, site in ${out}`);
