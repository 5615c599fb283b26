// Renders an OpenAPI 3.1 document as static HTML for the site (build.mjs
// puts it where a page says <!--#openapi-->): the operations by tag, each
// with its credentials, parameters, request body and answers, then every
// schema with its members. Static, so the strict CSP holds: no script, no
// inline style; Bootstrap Italia's classes only. Descriptions are text
// with `code` and **strong**, blank lines between paragraphs.

const METHODS = ['get', 'post', 'put', 'patch', 'delete'];

const esc = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

// inline is a line of description text: escaped, with `code` and **strong**.
const inline = (s) =>
  esc(s)
    .replace(/`([^`]+)`/g, '<code>$1</code>')
    .replace(/\*\*([^*]+)\*\*/g, '<strong>$1</strong>');

// prose is a description: paragraphs between blank lines.
const prose = (s) =>
  s
    ? String(s)
        .trim()
        .split(/\n\s*\n/)
        .map((p) => `<p>${inline(p.replace(/\s*\n\s*/g, ' '))}</p>`)
        .join('\n')
    : '';

const refName = (ref) => ref.split('/').pop();
const anchor = (kind, name) => `${kind}-${name.replace(/[^A-Za-z0-9_-]/g, '-')}`;

// resolve follows a local $ref ("#/components/...") in doc.
function resolve(doc, v) {
  while (v && v.$ref) v = v.$ref.slice(2).split('/').reduce((o, k) => o?.[k], doc);
  return v;
}

// typeOf is a schema in a few words: a link for a named schema, "array of
// …", the values of an enum, the alternatives of a union.
function typeOf(s) {
  if (!s) return 'any';
  if (s.$ref) {
    const name = refName(s.$ref);
    return `<a href="#${anchor('schema', name)}">${esc(name)}</a>`;
  }
  if (s.const !== undefined) return `<code>${esc(JSON.stringify(s.const))}</code>`;
  if (s.enum) return 'one of ' + s.enum.map((v) => `<code>${esc(JSON.stringify(v))}</code>`).join(', ');
  for (const k of ['allOf', 'anyOf', 'oneOf']) {
    if (s[k]) return s[k].map(typeOf).join(k === 'allOf' ? ' and ' : ' or ');
  }
  const types = Array.isArray(s.type) ? s.type : s.type ? [s.type] : [];
  const words = types.map((t) => {
    if (t === 'array') return `array of ${typeOf(s.items)}`;
    if (t === 'object' && s.additionalProperties && typeof s.additionalProperties === 'object') return `object of ${typeOf(s.additionalProperties)}`;
    return esc(s.format ? `${t} (${s.format})` : t);
  });
  return words.length ? words.join(' or ') : 'any';
}

// bounds is a schema's limits, in words.
function bounds(s) {
  const out = [];
  if (s.minimum !== undefined) out.push(`≥ ${s.minimum}`);
  if (s.maximum !== undefined) out.push(`≤ ${s.maximum}`);
  if (s.minLength !== undefined) out.push(`at least ${s.minLength} characters`);
  if (s.maxLength !== undefined) out.push(`at most ${s.maxLength} characters`);
  if (s.pattern) out.push(`matches <code>${esc(s.pattern)}</code>`);
  return out.join('; ');
}

// members is the table of an object schema's members (through allOf).
function members(doc, s) {
  const rows = [];
  const add = (schema) => {
    schema = resolve(doc, schema);
    if (!schema) return;
    for (const part of schema.allOf || []) add(part);
    const required = new Set(schema.required || []);
    for (const [name, p] of Object.entries(schema.properties || {})) {
      const desc = [p.description ? inline(p.description) : '', bounds(p)].filter(Boolean).join('; ');
      rows.push(`<tr><td><code>${esc(name)}</code>${required.has(name) ? ' <span class="badge bg-secondary">required</span>' : ''}</td><td>${typeOf(p)}</td><td>${desc}</td></tr>`);
    }
  };
  add(s);
  if (!rows.length) return '';
  return `<div class="table-responsive"><table class="table table-sm">
<thead><tr><th scope="col">member</th><th scope="col">type</th><th scope="col">about</th></tr></thead>
<tbody>${rows.join('\n')}</tbody></table></div>`;
}

// body is a request's or an answer's content: each media type and its schema.
function body(doc, content) {
  return Object.entries(content || {})
    .map(([type, media]) => {
      const s = media.schema;
      const inlineMembers = s && !s.$ref ? members(doc, s) : '';
      return `<p><code>${esc(type)}</code>${s ? `: ${typeOf(s)}` : ''}</p>${inlineMembers}`;
    })
    .join('\n');
}

function parameters(doc, op) {
  const params = (op.parameters || []).map((p) => resolve(doc, p));
  if (!params.length) return '';
  const rows = params.map((p) => {
    const desc = [p.description ? inline(p.description) : '', bounds(p.schema || {})].filter(Boolean).join('; ');
    return `<tr><td><code>${esc(p.name)}</code>${p.required ? ' <span class="badge bg-secondary">required</span>' : ''}</td><td>${esc(p.in)}</td><td>${typeOf(p.schema)}</td><td>${desc}</td></tr>`;
  });
  return `<h4 class="h6">Parameters</h4><div class="table-responsive"><table class="table table-sm">
<thead><tr><th scope="col">name</th><th scope="col">in</th><th scope="col">type</th><th scope="col">about</th></tr></thead>
<tbody>${rows.join('\n')}</tbody></table></div>`;
}

function security(doc, op) {
  const reqs = op.security ?? doc.security;
  if (!reqs || !reqs.length) return '';
  const alternatives = reqs.map((r) => {
    const names = Object.keys(r);
    return names.length ? names.map((n) => `<a href="#${anchor('security', n)}">${esc(n)}</a>`).join(' and ') : 'none';
  });
  return `<p><strong>Credentials:</strong> ${alternatives.join(', or ')}</p>`;
}

function responses(doc, op) {
  const rows = Object.entries(op.responses || {}).map(([status, r]) => {
    const res = resolve(doc, r);
    const headers = Object.keys(res.headers || {});
    return `<tr><td><code>${esc(status)}</code></td><td>${inline(res.description || '')}${
      headers.length ? `<br>Headers: ${headers.map((h) => `<code>${esc(h)}</code>`).join(', ')}` : ''
    }${res.content ? body(doc, res.content) : ''}</td></tr>`;
  });
  return `<h4 class="h6">Answers</h4><div class="table-responsive"><table class="table table-sm">
<thead><tr><th scope="col">status</th><th scope="col">what</th></tr></thead>
<tbody>${rows.join('\n')}</tbody></table></div>`;
}

function operation(doc, path, method, op) {
  const id = op.operationId || `${method}-${path}`;
  const req = op.requestBody ? resolve(doc, op.requestBody) : null;
  return `<article class="mb-5" id="${esc(anchor('op', id))}" aria-labelledby="${esc(anchor('op', id))}-title">
<h3 class="h5" id="${esc(anchor('op', id))}-title"><span class="badge bg-primary">${method.toUpperCase()}</span> <code>${esc(path)}</code></h3>
<p class="lead">${inline(op.summary || '')}</p>
${prose(op.description)}
${security(doc, op)}
${parameters(doc, op)}
${req ? `<h4 class="h6">Body${req.required ? '' : ' (optional)'}</h4>${prose(req.description)}${body(doc, req.content)}` : ''}
${responses(doc, op)}
</article>`;
}

// render is the HTML of doc (a parsed OpenAPI document).
export function render(doc) {
  const out = [];
  out.push(`<h2 id="api-about">${esc(doc.info.title)} <small class="text-muted">OpenAPI ${esc(doc.openapi)}, version ${esc(doc.info.version)}</small></h2>`);
  out.push(prose(doc.info.description));
  const tags = doc.tags || [];
  out.push('<nav aria-labelledby="api-toc-title"><h2 class="h4" id="api-toc-title">Contents</h2><ul>');
  for (const tag of tags) out.push(`<li><a href="#${anchor('tag', tag.name)}">${esc(tag.name)}</a></li>`);
  out.push(`<li><a href="#api-security">Credentials</a></li><li><a href="#api-schemas">Schemas</a></li></ul></nav>`);
  for (const tag of tags) {
    out.push(`<section class="mt-5" aria-labelledby="${anchor('tag', tag.name)}"><h2 id="${anchor('tag', tag.name)}">${esc(tag.name)}</h2>${prose(tag.description)}`);
    for (const [path, item] of Object.entries(doc.paths || {})) {
      for (const method of METHODS) {
        const op = item[method];
        if (op && (op.tags || []).includes(tag.name)) out.push(operation(doc, path, method, op));
      }
    }
    out.push('</section>');
  }
  const schemes = doc.components?.securitySchemes || {};
  out.push('<section class="mt-5" aria-labelledby="api-security"><h2 id="api-security">Credentials</h2><dl>');
  for (const [name, s] of Object.entries(schemes)) {
    const where = s.type === 'http' ? `Authorization: ${esc(s.scheme)}` : `${esc(s.in)} ${esc(s.name)}`;
    out.push(`<dt id="${anchor('security', name)}"><code>${esc(name)}</code> (${where})</dt><dd>${inline(s.description || '')}</dd>`);
  }
  out.push('</dl></section>');
  out.push('<section class="mt-5" aria-labelledby="api-schemas"><h2 id="api-schemas">Schemas</h2>');
  for (const [name, s] of Object.entries(doc.components?.schemas || {})) {
    const table = members(doc, s);
    out.push(`<article class="mb-4" aria-labelledby="${anchor('schema', name)}"><h3 class="h5" id="${anchor('schema', name)}"><code>${esc(name)}</code></h3>${prose(s.description)}${
      table || `<p>${typeOf(s)}</p>`
    }</article>`);
  }
  out.push('</section>');
  return out.join('\n');
}
