// dom: tiny helpers. Nothing here sets inline styles or HTML strings (the
// CSP forbids inline styles; text goes in as text).
//
//   $(sel, root)          querySelector
//   $$(sel, root)         querySelectorAll as an array
//   h(tag, attrs, ...children)  creates an element: attrs.class, attrs.text,
//                         attrs.dataset {..}, attrs.on {click: fn, ...},
//                         booleans (true: set as "", false/null: omitted),
//                         anything else setAttribute; children are nodes or
//                         strings (text), arrays are flattened, null skipped
//   clear(el)             removes every child
//   show(el, visible)     toggles the hidden attribute
//   focus(el)             focuses el (made focusable with tabindex=-1 when needed)

export const $ = (sel, root = document) => root.querySelector(sel);
export const $$ = (sel, root = document) => Array.from(root.querySelectorAll(sel));

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === 'class') el.className = Array.isArray(v) ? v.filter(Boolean).join(' ') : v;
    else if (k === 'text') el.textContent = v;
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k === 'on') for (const [ev, fn] of Object.entries(v)) el.addEventListener(ev, fn);
    else if (k === 'style') throw new Error('dom.h: no inline styles (CSP); use a class');
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

export function clear(el) {
  while (el.firstChild) el.removeChild(el.firstChild);
  return el;
}

export function show(el, visible = true) {
  el.hidden = !visible;
  return el;
}

export function focus(el) {
  if (!el) return;
  if (!el.hasAttribute('tabindex') && !/^(A|BUTTON|INPUT|SELECT|TEXTAREA)$/.test(el.tagName)) el.setAttribute('tabindex', '-1');
  el.focus();
}
