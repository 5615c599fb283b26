// form: how every page (booking, manage, room, console, administration)
// says what is wrong — next to the field, with Bootstrap Italia's
// .is-invalid and .invalid-feedback box, aria-invalid and
// aria-describedby; or in the page's alert when a problem names no field
// of the page — and checks the fields before anything is sent. The texts
// come from lib/problems.js (the API's reasons and codes, in the page's
// language).
//
// A control carries the API field(s) it shows the problems of in
// data-field (space-separated: "citizen.email", "hours[3].opens hours[3]");
// its feedback box is #<id>-error (made after it when missing).
//
//   fieldError(el, text, {box})  shows text next to el (an input, select,
//                          textarea, or a fieldset/group of them); "" clears
//   clearErrors(root)      clears every field error under root and hides its
//                          alerts (.alert[role=alert])
//   focusFirstInvalid(root)  focuses the first control marked invalid under
//                          root (in document order) and returns it
//   checkFields(root)      the local checks of every enabled control under
//                          root — required, maxlength (in characters),
//                          type=email, min/max of a number — shown as the
//                          API's reasons would be; focuses the first field
//                          at fault and announces its problem; true when
//                          there is none
//   controlFor(root, path) the control under root that carries the API field
//                          path, or the nearest one of its parents
//                          ("hours[3].weekday" → "hours[3]" → "hours")
//   showProblem(err, {root, alert, texts})  shows an API problem instead of
//                          what root showed: every field problem next to its
//                          control under root, the rest (and any other
//                          problem) in alert, texts as problemText's;
//                          focuses the first field at fault and announces
//                          its problem (else focuses the alert); returns
//                          the controls marked
//   showAlert(el, text, {focus})  a page-level alert: text shown, or hidden
//                          when ""
import { $$, focus, h, show } from './dom.js';
import { announce } from './layout.js';
import { problemText, reasonText } from './problems.js';

const CONTROLS = 'input, select, textarea';
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

function feedbackBox(el) {
  const id = `${el.id}-error`;
  let box = document.getElementById(id);
  if (!box) {
    box = h('div', { class: 'invalid-feedback', id });
    if (el.matches(CONTROLS)) el.after(box);
    else el.append(box);
  }
  const described = (el.getAttribute('aria-describedby') || '').split(/\s+/).filter(Boolean);
  if (!described.includes(id)) el.setAttribute('aria-describedby', [...described, id].join(' '));
  return box;
}

export function fieldError(el, text, { box = feedbackBox(el) } = {}) {
  box.textContent = text || '';
  const single = el.matches(CONTROLS);
  if (single) el.classList.toggle('is-invalid', !!text);
  for (const c of single ? [el] : $$(CONTROLS, el)) {
    if (text) c.setAttribute('aria-invalid', 'true');
    else c.removeAttribute('aria-invalid');
  }
}

export function clearErrors(root) {
  for (const box of $$('.invalid-feedback', root)) box.textContent = '';
  for (const el of $$('.is-invalid', root)) el.classList.remove('is-invalid');
  for (const el of $$('[aria-invalid]', root)) el.removeAttribute('aria-invalid');
  for (const el of $$('.alert[role=alert]', root)) show(el, false);
}

function focusFirstInvalid(root) {
  const first = $$('[aria-invalid="true"]', root)[0];
  focus(first);
  return first;
}

// sayFirst focuses the first field at fault under root and announces its
// problem; false when there is none.
function sayFirst(root) {
  const first = focusFirstInvalid(root);
  if (!first) return false;
  const box = document.getElementById(`${first.id}-error`) || document.getElementById(`${first.closest('[data-field]')?.id}-error`);
  if (box) announce(box.textContent);
  return true;
}

// problemOf is the reason a control's value would be refused with, as the
// API says it, or null.
function problemOf(c) {
  const field = c.dataset.field?.split(/\s+/)[0] || c.name;
  if (c.type === 'checkbox') return c.required && !c.checked ? { field, reason: 'required' } : null;
  const v = c.value.trim();
  if (!v) return c.required || (c.type === 'number' && c.validity.badInput) ? { field, reason: 'required' } : null;
  if (c.maxLength > 0 && [...v].length > c.maxLength) return { field, reason: 'too_long', limit: c.maxLength };
  if (c.type === 'email' && !EMAIL.test(v)) return { field, reason: 'invalid_email' };
  if (c.type === 'number') {
    const n = Number(v);
    const min = c.min === '' ? -Infinity : Number(c.min);
    const max = c.max === '' ? Infinity : Number(c.max);
    if (!Number.isInteger(n) || n < min || n > max) return { field, reason: 'out_of_range', min: c.min || undefined, max: c.max || undefined };
  }
  return null;
}

export function checkFields(root) {
  clearErrors(root);
  for (const c of $$(CONTROLS, root)) {
    if (c.disabled || c.type === 'radio' || c.type === 'file' || c.type === 'hidden') continue;
    const p = problemOf(c);
    if (!p) continue;
    fieldError(c, reasonText(p));
  }
  return !sayFirst(root);
}

export function controlFor(root, path) {
  for (let name = path; name; ) {
    const el = root.querySelector(`[data-field~="${name.replace(/["\\]/g, '\\$&')}"]`);
    if (el) return el;
    const parent = name.replace(/(\[\d+\]|\.[^.[]*)$/, '');
    name = parent === name ? '' : parent;
  }
  return null;
}

export function showProblem(err, { root = document, alert, texts = {} } = {}) {
  clearErrors(root);
  const marked = [];
  const rest = [];
  for (const fe of err?.code === 'invalid' ? err.fields : []) {
    const el = controlFor(root, fe.field || '');
    if (el) {
      if (!marked.includes(el)) fieldError(el, reasonText(fe));
      marked.push(el);
    } else rest.push(fe);
  }
  const own = err?.code && texts[err.code];
  const text = own || !marked.length ? problemText(err, texts) : rest.length ? problemText({ ...err, fields: rest }, texts) : '';
  if (alert) showAlert(alert, text);
  if (!sayFirst(root) && text) focus(alert);
  return marked;
}

export function showAlert(el, text, { focus: focusIt = false } = {}) {
  el.textContent = text || '';
  show(el, !!text);
  if (text && focusIt) focus(el);
}
