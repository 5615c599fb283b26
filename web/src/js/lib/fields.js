// fields: forms made from a list of field specs, for the administration's
// entities (offices, services, closures, operators, passwords): every
// control with its label, hint and feedback box, read back as the API's
// body, checked and submitted the same way. lib/form.js says the problems.
//
//   A spec: {name (the API field), label and hint (i18n keys), type (text,
//   number, email, password, date, select, checkbox, textarea, group),
//   required, options ([[value, label]] of a select), min, max, nullable
//   (a number left empty is sent as null: "back to the default"), col (the
//   grid class, default col-md-6), disabled, autocomplete}. A group is a
//   <fieldset id="<prefix>-<name>"> (data-field <name>) whose legend is
//   label, with its hint, around the specs of its fields: an object member
//   of the body. Its controls are #<prefix>-<name>-<field> carrying the API
//   path <name>.<field> (e.g. #office-limits-max_holds_per_client,
//   "limits.max_holds_per_client").
//
//   formBox({prefix, title, fields, values, submit, submitId, before,
//            extra, onSubmit, onError, texts, onCancel})
//     a <form id="<prefix>-form"> titled #<prefix>-form-title, with the
//     nodes before, the controls #<prefix>-<name> (data-field <name>; errors
//     #<prefix>-<name>-error), the nodes extra, the alert #<prefix>-error, the submit
//     button (#<prefix>-submit, or submitId) and, with onCancel,
//     #<prefix>-cancel. On
//     submit: the local checks, then await onSubmit(body) with the button
//     disabled; what it throws goes to onError(err) first (true: handled),
//     else is shown next to its fields or in the alert (texts: per code, as
//     lib/problems.js's problemText takes them).
//   readFields(prefix, fields)  the body: checkboxes as booleans, numbers as
//     numbers (an empty one is left out, or null when nullable), groups as
//     objects, the rest as text; disabled controls are left out
import { $, h } from './dom.js';
import { checkFields, showProblem } from './form.js';
import { t } from './i18n.js';

// described is the aria-describedby of the control id: its hint, if any, and its feedback box.
const described = (id, hint) => [hint && `${id}-hint`, `${id}-error`].filter(Boolean).join(' ');

// control is the field f (its API path: path) with its label, hint and feedback box.
function control(prefix, f, value, path = f.name) {
  if (f.type === 'group') return group(prefix, f, value);
  const id = `${prefix}-${f.name}`;
  const hint = f.hint ? h('span', { class: 'form-text', id: `${id}-hint`, text: t(f.hint) }) : null;
  const common = { id, name: path, 'data-field': path, disabled: !!f.disabled, 'aria-describedby': described(id, f.hint) };
  const feedback = h('div', { class: 'invalid-feedback', id: `${id}-error` });
  if (f.type === 'checkbox') {
    return h(
      'div',
      { class: 'field form-check' },
      h('input', { ...common, class: 'form-check-input', type: 'checkbox', checked: !!value }),
      h('label', { class: 'form-check-label', for: id, text: t(f.label) }),
      hint,
      feedback,
    );
  }
  let input;
  const required = !!f.required;
  if (f.type === 'textarea') input = h('textarea', { ...common, class: 'form-control', rows: 3, required });
  else if (f.type === 'select') input = h('select', { ...common, class: 'form-select', required }, f.options.map(([v, l]) => h('option', { value: v, text: l, selected: String(value ?? '') === v })));
  else input = h('input', { ...common, class: 'form-control', type: f.type || 'text', min: f.min, max: f.max, autocomplete: f.autocomplete || 'off', required });
  if (value !== undefined && value !== null && f.type !== 'select') input.value = String(value);
  return h('div', { class: 'field' }, h('label', { for: id, text: f.required ? `${t(f.label)} ${t('common.required_mark')}` : t(f.label) }), input, hint, feedback);
}

// group is the fieldset of the group g, its fields filled from values (an object).
function group(prefix, g, values) {
  const id = `${prefix}-${g.name}`;
  return h(
    'fieldset',
    { class: 'field', id, 'data-field': g.name, 'aria-describedby': described(id, g.hint) },
    h('legend', { class: 'field-label', text: t(g.label) }),
    g.hint ? h('p', { class: 'form-text', id: `${id}-hint`, text: t(g.hint) }) : null,
    h('div', { class: 'row' }, g.fields.map((f) => h('div', { class: f.col || 'col-md-6' }, control(id, f, values?.[f.name], `${g.name}.${f.name}`)))),
    h('div', { class: 'invalid-feedback', id: `${id}-error` }),
  );
}

function readFields(prefix, fields) {
  const out = {};
  for (const f of fields) {
    if (f.type === 'group') {
      out[f.name] = readFields(`${prefix}-${f.name}`, f.fields);
      continue;
    }
    const el = $(`#${prefix}-${f.name}`);
    if (!el || el.disabled) continue;
    if (f.type === 'checkbox') out[f.name] = el.checked;
    else if (f.type === 'number') {
      if (el.value !== '') out[f.name] = Number(el.value);
      else if (f.nullable) out[f.name] = null;
    } else out[f.name] = el.value;
  }
  return out;
}

export function formBox({ prefix, title, fields, values, submit, submitId = `${prefix}-submit`, before = [], extra = [], onSubmit, onError, texts, onCancel }) {
  const alert = h('div', { class: 'alert alert-danger', id: `${prefix}-error`, role: 'alert', tabindex: '-1', hidden: true });
  const button = h('button', { type: 'submit', class: 'btn btn-primary', id: submitId, text: submit });
  const form = h(
    'form',
    { class: 'admin-form', id: `${prefix}-form`, novalidate: true, 'aria-labelledby': `${prefix}-form-title` },
    h('h3', { class: 'h5', id: `${prefix}-form-title`, tabindex: '-1', text: title }),
    before,
    h('div', { class: 'row' }, fields.map((f) => h('div', { class: f.col || 'col-md-6' }, control(prefix, f, values?.[f.name])))),
    extra,
    alert,
    h(
      'div',
      { class: 'op-actions' },
      button,
      onCancel ? h('button', { type: 'button', class: 'btn btn-outline-secondary', id: `${prefix}-cancel`, text: t('admin.cancel_edit'), on: { click: onCancel } }) : null,
    ),
  );
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    if (!checkFields(form)) return;
    button.disabled = true;
    try {
      await onSubmit(readFields(prefix, fields));
    } catch (err) {
      if (!onError?.(err)) showProblem(err, { root: form, alert, texts });
    } finally {
      button.disabled = false;
    }
  });
  return form;
}
