// The administration (/operatore/amministrazione/), for administrators
// only: offices, services (rules, weekly hours with several periods a day,
// desks), closures, operator accounts and the audit log, through
// /api/operator/admin (functions/admin). An operator who is not an
// administrator gets a clear "not allowed"; without a session, a link to
// sign in on the console.
//
// The stranded-bookings rule: a change the API refuses with 409 and a
// "bookings" list shows those bookings (#stranded) with a preview
// (?dry_run=true, nothing written) and "Annulla le prenotazioni e avvisa i
// cittadini", which resends the change with "cancel_affected": true.
//
// Forms: every control has the id <form prefix>-<API field> (e.g.
// #office-name, #service-duration_minutes, #closure-first_day,
// #operator-email) and its error #<id>-error; a problem naming a field
// marks it there, others go to #<form prefix>-error.
import { initPage, announce } from '../lib/layout.js';
import { ApiError, api, get, setCsrfToken } from '../lib/api.js';
import { $, $$, clear, focus, h, show } from '../lib/dom.js';
import { formatDateTime, formatShortDate, formatTimeRange, weekdayNames } from '../lib/format.js';
import { onLangChange, t } from '../lib/i18n.js';

initPage();

const A = '/api/operator/admin';
const data = { me: null, offices: [], services: [], closures: [], operators: [], audit: [], auditMore: false };
let section = 'offices';
let editingOffice = null; // office id being edited
let editingService = null; // service id being edited
let editingOperator = null;
let resetting = null;
let pending = null; // the change the stranded panel is about

// ---------- helpers ----------

function errorText(err) {
  if (!(err instanceof ApiError)) return t('common.error_generic', { detail: String(err?.message || err) });
  if (err.status === 0) return t('common.error_network');
  return t('common.error_generic', { detail: err.detail || err.code });
}

const call = (method, path, body) => api(path, { method, body, operator: true });

function message(text) {
  $('#admin-message').textContent = '';
  setTimeout(() => {
    $('#admin-message').textContent = text;
  }, 30);
}

function officeName(id) {
  return data.offices.find((o) => o.id === id)?.name || id;
}

function serviceName(id) {
  return data.services.find((s) => s.id === id)?.name || id;
}

function dayLabel(day) {
  return formatShortDate(`${day}T12:00:00Z`);
}

// A field spec: {name, type, label, required, options (select: [[value, label]]), min, max, hint}.
function control(prefix, f, value) {
  const id = `${prefix}-${f.name}`;
  const described = [f.hint ? `${id}-hint` : null, `${id}-error`].filter(Boolean).join(' ');
  const label = [t(f.label), f.required ? ` ${t('common.required_mark')}` : ''].join('');
  if (f.type === 'checkbox') {
    return h(
      'div',
      { class: 'field form-check' },
      h('input', { class: 'form-check-input', type: 'checkbox', id, name: f.name, checked: !!value, 'aria-describedby': described }),
      h('label', { class: 'form-check-label', for: id, text: t(f.label) }),
      f.hint ? h('span', { class: 'form-text', id: `${id}-hint`, text: t(f.hint) }) : null,
      h('div', { class: 'invalid-feedback', id: `${id}-error` }),
    );
  }
  let input;
  if (f.type === 'textarea') input = h('textarea', { class: 'form-control', id, name: f.name, rows: 3, 'aria-describedby': described });
  else if (f.type === 'select') {
    input = h(
      'select',
      { class: 'form-select', id, name: f.name, disabled: !!f.disabled, 'aria-describedby': described },
      f.options.map(([v, l]) => h('option', { value: v, text: l, selected: String(value ?? '') === v })),
    );
  } else
    input = h('input', {
      class: 'form-control',
      type: f.type || 'text',
      id,
      name: f.name,
      min: f.min,
      max: f.max,
      autocomplete: f.autocomplete || 'off',
      required: !!f.required,
      disabled: !!f.disabled,
      'aria-describedby': described,
    });
  if (value !== undefined && value !== null && f.type !== 'select') input.value = String(value);
  return h(
    'div',
    { class: 'field' },
    h('label', { for: id, text: label }),
    input,
    f.hint ? h('span', { class: 'form-text', id: `${id}-hint`, text: t(f.hint) }) : null,
    h('div', { class: 'invalid-feedback', id: `${id}-error` }),
  );
}

function readFields(prefix, fields) {
  const out = {};
  for (const f of fields) {
    const el = $(`#${prefix}-${f.name}`);
    if (!el || el.disabled) continue;
    if (f.type === 'checkbox') out[f.name] = el.checked;
    else if (f.type === 'number') out[f.name] = el.value === '' ? NaN : Number(el.value);
    else out[f.name] = el.value;
  }
  return out;
}

function clearErrors(root) {
  for (const box of $$('.invalid-feedback', root)) box.textContent = '';
  for (const el of $$('.is-invalid', root)) {
    el.classList.remove('is-invalid');
    el.removeAttribute('aria-invalid');
  }
  for (const el of $$('.admin-form-error', root)) show(el, false);
}

function markError(id, text) {
  const input = $(`#${id}`);
  const box = $(`#${id}-error`);
  if (!box) return false;
  box.textContent = text;
  if (input) {
    input.classList.add('is-invalid');
    input.setAttribute('aria-invalid', 'true');
  }
  return true;
}

// fieldErrors puts each problem next to its field: map(field) → element id
// (default prefix-field); the rest goes to #<prefix>-error. Focus goes to
// the first one.
function fieldErrors(prefix, err, map = (f) => `${prefix}-${f}`) {
  const general = [];
  let first = null;
  const list = err instanceof ApiError && err.status === 400 && err.fields.length ? err.fields : [];
  for (const { field, message: msg } of list) {
    const id = field ? map(field) : null;
    if (id && markError(id, t('errors.invalid', { detail: msg }))) first ??= $(`#${id}`) || $(`#${id}-error`);
    else general.push(field ? `${field}: ${msg}` : msg);
  }
  if (!list.length) general.push(errorText(err));
  const box = $(`#${prefix}-error`);
  if (box && general.length) {
    box.textContent = general.join(' ');
    show(box, true);
    first ??= box;
  }
  focus(first);
}

function localCheck(prefix, fields, body) {
  let first = null;
  for (const f of fields) {
    const v = body[f.name];
    if (!(f.name in body)) continue;
    let msg = '';
    if (f.required && (v === '' || (typeof v === 'number' && Number.isNaN(v)))) msg = t('errors.required');
    else if (f.type === 'number' && Number.isNaN(v)) msg = t('errors.required');
    if (msg) {
      markError(`${prefix}-${f.name}`, msg);
      first ??= $(`#${prefix}-${f.name}`);
    }
  }
  if (first) focus(first);
  return !first;
}

function formBox(prefix, title, fields, values, { submit, onSubmit, onCancel, extra = [] }) {
  const form = h(
    'form',
    { class: 'admin-form', id: `${prefix}-form`, novalidate: true, 'aria-labelledby': `${prefix}-form-title` },
    h('h3', { class: 'h5', id: `${prefix}-form-title`, tabindex: '-1', text: title }),
    h('div', { class: 'row' }, fields.map((f) => h('div', { class: f.col || 'col-md-6' }, control(prefix, f, values?.[f.name])))),
    extra,
    h('div', { class: 'alert alert-danger admin-form-error', id: `${prefix}-error`, role: 'alert', hidden: true }),
    h(
      'div',
      { class: 'op-actions' },
      h('button', { type: 'submit', class: 'btn btn-primary', id: `${prefix}-submit`, text: submit }),
      onCancel ? h('button', { type: 'button', class: 'btn btn-outline-secondary', id: `${prefix}-cancel`, text: t('admin.cancel_edit'), on: { click: onCancel } }) : null,
    ),
  );
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clearErrors(form);
    const btn = $(`#${prefix}-submit`);
    btn.disabled = true;
    try {
      await onSubmit(form);
    } finally {
      btn.disabled = false;
    }
  });
  return form;
}

function table(id, caption, heads, rows) {
  if (!rows.length) return h('p', { id: `${id}-empty`, text: t('admin.empty') });
  return h(
    'div',
    { class: 'table-responsive' },
    h(
      'table',
      { class: 'table admin-table', id },
      h('caption', { class: 'visually-hidden', text: caption }),
      h('thead', {}, h('tr', {}, heads.map((x) => h('th', { scope: 'col', text: x })))),
      h('tbody', {}, rows),
    ),
  );
}

function yesNo(b) {
  return t(b ? 'admin.yes' : 'admin.no');
}

// ---------- the stranded-bookings rule ----------

// change sends a change that may strand bookings; a 409 with "bookings"
// opens the stranded panel. onDone(result) runs once it is applied.
async function change(method, path, body, { prefix, onDone, map }) {
  try {
    const r = await call(method, path, body);
    await onDone(r);
    return true;
  } catch (err) {
    if (err instanceof ApiError && err.status === 409 && Array.isArray(err.problem?.bookings)) {
      openStranded({ method, path, body, bookings: err.problem.bookings, onDone, prefix });
      return false;
    }
    if (err instanceof ApiError && err.status === 401) return signedOut();
    fieldErrors(prefix, err, map);
    return false;
  }
}

function reasonLabel(r) {
  const key = `admin.stranded.reasons.${r}`;
  const s = t(key);
  return s === key ? r : s;
}

function openStranded(p) {
  pending = p;
  $('#stranded-intro').textContent = t('admin.stranded.intro', { n: p.bookings.length });
  const tbody = clear($('#stranded-list'));
  for (const b of p.bookings) {
    tbody.append(
      h(
        'tr',
        { id: `stranded-${b.id}` },
        h('td', { text: `${dayLabel(b.start.slice(0, 10))} ${formatTimeRange(b.start, b.end)}` }),
        h('td', { text: serviceName(b.service_id) }),
        h('td', { text: b.desk }),
        h('td', { text: reasonLabel(b.reason) }),
        h('td', { class: 'op-ref', text: b.id }),
      ),
    );
  }
  $('#stranded-preview-result').textContent = '';
  show($('#stranded-error'), false);
  show($('#stranded'), true);
  focus($('#stranded-title'));
  announce(t('admin.stranded.intro', { n: p.bookings.length }));
}

function closeStranded() {
  pending = null;
  show($('#stranded'), false);
}

function describeResult(r) {
  const parts = [t('admin.stranded.result_cancelled', { n: r.cancelled?.length || 0 })];
  if (r.reassigned?.length) parts.push(t('admin.stranded.result_reassigned', { n: r.reassigned.length }));
  return parts.join(' ');
}

$('#stranded-preview').addEventListener('click', async () => {
  if (!pending) return;
  show($('#stranded-error'), false);
  try {
    const sep = pending.path.includes('?') ? '&' : '?';
    const r = await call(pending.method, `${pending.path}${sep}dry_run=true`, { ...pending.body, cancel_affected: true });
    $('#stranded-preview-result').textContent = `${t('admin.stranded.preview_result')} ${describeResult(r)}`;
  } catch (err) {
    $('#stranded-error').textContent = errorText(err);
    show($('#stranded-error'), true);
  }
});

$('#stranded-confirm').addEventListener('click', async () => {
  if (!pending) return;
  const p = pending;
  $('#stranded-confirm').disabled = true;
  show($('#stranded-error'), false);
  try {
    const r = await call(p.method, p.path, { ...p.body, cancel_affected: true });
    closeStranded();
    await p.onDone(r);
    message(`${t('admin.stranded.done')} ${describeResult(r)}`);
  } catch (err) {
    if (err instanceof ApiError && err.status === 409 && Array.isArray(err.problem?.bookings)) openStranded({ ...p, bookings: err.problem.bookings });
    else {
      $('#stranded-error').textContent = errorText(err);
      show($('#stranded-error'), true);
    }
  } finally {
    $('#stranded-confirm').disabled = false;
  }
});

$('#stranded-abort').addEventListener('click', () => {
  const prefix = pending?.prefix;
  closeStranded();
  message(t('admin.stranded.aborted'));
  focus($(`#${prefix}-form-title`) || $(`#${section}-title`));
});

// ---------- sections ----------

for (const b of $$('#admin-tabs button')) {
  b.addEventListener('click', () => showSection(b.dataset.section, true));
}

function showSection(name, moveFocus) {
  section = name;
  closeStranded();
  for (const b of $$('#admin-tabs button')) b.setAttribute('aria-pressed', String(b.dataset.section === name));
  for (const s of ['offices', 'services', 'closures', 'operators', 'audit']) show($(`#section-${s}`), s === name);
  history.replaceState(null, '', `#${name}`);
  render();
  if (name === 'audit' && !data.audit.length) loadAudit(false);
  if (moveFocus) focus($(`#${name}-title`));
}

function render() {
  if (section === 'offices') renderOffices();
  else if (section === 'services') renderServices();
  else if (section === 'closures') renderClosures();
  else if (section === 'operators') renderOperators();
  else renderAudit();
}

async function reload(...what) {
  const loaders = {
    offices: async () => (data.offices = (await get(`${A}/offices`, { operator: true })).offices || []),
    services: async () => (data.services = (await get(`${A}/services`, { operator: true })).services || []),
    closures: async () => (data.closures = (await get(`${A}/closures`, { operator: true })).closures || []),
    operators: async () => (data.operators = (await get(`${A}/operators`, { operator: true })).operators || []),
  };
  await Promise.all(what.map((w) => loaders[w]()));
}

// ---------- offices ----------

const officeFields = () => [
  { name: 'id', label: 'admin.offices.id', required: true, hint: 'admin.id_hint', disabled: !!editingOffice },
  { name: 'name', label: 'admin.offices.name', required: true },
  { name: 'address', label: 'admin.offices.address' },
  { name: 'position', label: 'admin.position', type: 'number' },
  { name: 'description', label: 'admin.offices.description', type: 'textarea', col: 'col-12' },
];

function renderOffices() {
  const rows = data.offices.map((o) =>
    h(
      'tr',
      { id: `office-row-${o.id}` },
      h('td', { text: o.id }),
      h('td', { text: o.name }),
      h('td', { text: o.address || '—' }),
      h('td', { text: o.active ? t('admin.active') : t('admin.inactive') }),
      h(
        'td',
        {},
        h(
          'div',
          { class: 'op-actions' },
          h('button', {
            type: 'button',
            class: 'btn btn-outline-primary btn-sm',
            id: `office-edit-${o.id}`,
            'aria-label': t('admin.edit_label', { name: o.name }),
            text: t('common.edit'),
            on: { click: () => editOffice(o.id) },
          }),
          h('button', {
            type: 'button',
            class: `btn btn-sm ${o.active ? 'btn-outline-danger' : 'btn-outline-success'}`,
            id: `office-toggle-${o.id}`,
            'aria-label': t(o.active ? 'admin.deactivate_label' : 'admin.activate_label', { name: o.name }),
            text: t(o.active ? 'admin.deactivate' : 'admin.activate'),
            on: { click: () => toggleOffice(o) },
          }),
        ),
      ),
    ),
  );
  clear($('#offices-list')).append(
    table('offices-table', t('admin.offices.caption'), [t('admin.offices.id'), t('admin.offices.name'), t('admin.offices.address'), t('admin.state'), t('admin.actions')], rows),
  );
  const o = editingOffice ? data.offices.find((x) => x.id === editingOffice) : null;
  const box = clear($('#office-form-box'));
  box.append(
    formBox('office', o ? t('admin.offices.edit_title', { name: o.name }) : t('admin.offices.create_title'), officeFields(), o || { position: 0 }, {
      submit: o ? t('admin.save') : t('admin.offices.create'),
      onCancel: o
        ? () => {
            editingOffice = null;
            renderOffices();
            focus($('#office-form-title'));
          }
        : null,
      onSubmit: async () => {
        const body = readFields('office', officeFields());
        if (!localCheck('office', officeFields(), body)) return;
        if (o) {
          await change('PATCH', `${A}/offices/${encodeURIComponent(o.id)}`, body, {
            prefix: 'office',
            onDone: async () => {
              await reload('offices');
              editingOffice = null;
              renderOffices();
              message(t('admin.offices.saved', { name: body.name }));
            },
          });
        } else {
          try {
            await call('POST', `${A}/offices`, body);
            await reload('offices');
            renderOffices();
            message(t('admin.offices.created', { name: body.name }));
            focus($(`#office-row-${body.id} td`));
          } catch (err) {
            if (err instanceof ApiError && err.status === 409) markError('office-id', t('admin.id_taken'));
            fieldErrors('office', err);
          }
        }
      },
    }),
  );
}

function editOffice(id) {
  editingOffice = id;
  renderOffices();
  focus($('#office-form-title'));
}

async function toggleOffice(o) {
  await change('PATCH', `${A}/offices/${encodeURIComponent(o.id)}`, { active: !o.active }, {
    prefix: 'office',
    onDone: async () => {
      await reload('offices', 'services');
      renderOffices();
      message(t(o.active ? 'admin.offices.deactivated' : 'admin.offices.activated', { name: o.name }));
    },
  });
}

// ---------- services ----------

const serviceFields = (editing) => [
  { name: 'id', label: 'admin.services.id', required: true, hint: 'admin.id_hint', disabled: editing },
  { name: 'office_id', label: 'admin.services.office', type: 'select', required: true, options: data.offices.map((o) => [o.id, o.name]), disabled: editing },
  { name: 'name', label: 'admin.services.name', required: true },
  { name: 'duration_minutes', label: 'admin.services.duration', type: 'number', required: true, min: 5, max: 480 },
  { name: 'buffer_minutes', label: 'admin.services.buffer', type: 'number', min: 0, max: 240 },
  { name: 'min_notice_minutes', label: 'admin.services.notice', type: 'number', min: 0, max: 43200 },
  { name: 'horizon_days', label: 'admin.services.horizon', type: 'number', min: 1, max: 366 },
  { name: 'cancel_cutoff_minutes', label: 'admin.services.cutoff', type: 'number', min: 0, max: 43200 },
  { name: 'position', label: 'admin.position', type: 'number' },
  { name: 'open_on_holidays', label: 'admin.services.holidays', type: 'checkbox' },
  { name: 'description', label: 'admin.services.description', type: 'textarea', col: 'col-12' },
  { name: 'what_to_bring', label: 'admin.services.what_to_bring', type: 'textarea', col: 'col-12' },
];

function filteredServices() {
  const f = $('#services-filter').value;
  return data.services.filter((s) => !f || s.office_id === f);
}

function renderServiceFilter() {
  const sel = $('#services-filter');
  const cur = sel.value;
  clear(sel).append(h('option', { value: '', text: t('admin.services.all_offices') }), ...data.offices.map((o) => h('option', { value: o.id, text: o.name, selected: o.id === cur })));
}
$('#services-filter').addEventListener('change', () => renderServices());

function renderServices() {
  renderServiceFilter();
  const rows = filteredServices().map((s) =>
    h(
      'tr',
      { id: `service-row-${s.id}` },
      h('td', { text: s.id }),
      h('td', { text: s.name }),
      h('td', { text: officeName(s.office_id) }),
      h('td', { text: t('admin.services.minutes', { n: s.duration_minutes }) }),
      h('td', { text: String((s.desks || []).filter((d) => d.active).length) }),
      h('td', { text: s.active ? t('admin.active') : t('admin.inactive') }),
      h(
        'td',
        {},
        h(
          'div',
          { class: 'op-actions' },
          h('button', {
            type: 'button',
            class: 'btn btn-outline-primary btn-sm',
            id: `service-edit-${s.id}`,
            'aria-label': t('admin.services.edit_label', { name: s.name }),
            text: t('admin.services.edit'),
            on: { click: () => editService(s.id) },
          }),
          h('button', {
            type: 'button',
            class: `btn btn-sm ${s.active ? 'btn-outline-danger' : 'btn-outline-success'}`,
            id: `service-toggle-${s.id}`,
            'aria-label': t(s.active ? 'admin.deactivate_label' : 'admin.activate_label', { name: s.name }),
            text: t(s.active ? 'admin.deactivate' : 'admin.activate'),
            on: { click: () => toggleService(s) },
          }),
        ),
      ),
    ),
  );
  clear($('#services-list')).append(
    table(
      'services-table',
      t('admin.services.caption'),
      [t('admin.services.id'), t('admin.services.name'), t('admin.services.office'), t('admin.services.duration_short'), t('admin.services.desks_count'), t('admin.state'), t('admin.actions')],
      rows,
    ),
  );
  const s = editingService ? data.services.find((x) => x.id === editingService) : null;
  const fields = serviceFields(!!s);
  const defaults = { office_id: $('#services-filter').value || data.offices[0]?.id, duration_minutes: 30, buffer_minutes: 0, min_notice_minutes: 120, horizon_days: 60, cancel_cutoff_minutes: 120, position: 0 };
  clear($('#service-form-box')).append(
    formBox('service', s ? t('admin.services.edit_title', { name: s.name }) : t('admin.services.create_title'), fields, s || defaults, {
      submit: s ? t('admin.save') : t('admin.services.create'),
      onCancel: s
        ? () => {
            editingService = null;
            renderServices();
            focus($('#service-form-title'));
          }
        : null,
      onSubmit: async () => {
        const body = readFields('service', fields);
        if (!localCheck('service', fields, body)) return;
        if (s) {
          await change('PATCH', `${A}/services/${encodeURIComponent(s.id)}`, body, {
            prefix: 'service',
            onDone: async () => {
              await reload('services');
              renderServices();
              message(t('admin.services.saved', { name: body.name }));
            },
          });
        } else {
          try {
            await call('POST', `${A}/services`, body);
            await reload('services');
            editingService = body.id;
            renderServices();
            message(t('admin.services.created', { name: body.name }));
            focus($('#hours-title'));
          } catch (err) {
            if (err instanceof ApiError && err.status === 409) markError('service-id', t('admin.id_taken'));
            fieldErrors('service', err);
          }
        }
      },
    }),
  );
  const extra = clear($('#service-extra'));
  if (s) extra.append(hoursEditor(s), desksEditor(s));
}

function editService(id) {
  editingService = id;
  renderServices();
  focus($('#service-form-title'));
}

async function toggleService(s) {
  await change('PATCH', `${A}/services/${encodeURIComponent(s.id)}`, { active: !s.active }, {
    prefix: 'service',
    onDone: async () => {
      await reload('services');
      renderServices();
      message(t(s.active ? 'admin.services.deactivated' : 'admin.services.activated', { name: s.name }));
    },
  });
}

// The week's hours: per weekday, a list of periods {opens, closes}.
let hoursDraft = null; // {serviceId, days: {1: [{opens, closes}], ...}}

function draftFor(s) {
  if (hoursDraft?.serviceId === s.id) return hoursDraft;
  const days = {};
  for (let d = 1; d <= 7; d++) days[d] = [];
  for (const x of s.opening_hours || []) days[x.weekday].push({ opens: x.opens, closes: x.closes });
  hoursDraft = { serviceId: s.id, days };
  return hoursDraft;
}

function syncDraft() {
  if (!hoursDraft) return;
  for (let d = 1; d <= 7; d++) {
    hoursDraft.days[d] = hoursDraft.days[d].map((p, i) => ({
      opens: $(`#hours-${d}-${i}-opens`)?.value ?? p.opens,
      closes: $(`#hours-${d}-${i}-closes`)?.value ?? p.closes,
    }));
  }
}

function hoursEditor(s) {
  const draft = draftFor(s);
  const names = weekdayNames('long');
  const box = h(
    'form',
    { class: 'admin-form', id: 'hours-form', novalidate: true, 'aria-labelledby': 'hours-title' },
    h('h3', { class: 'h5', id: 'hours-title', tabindex: '-1', text: t('admin.hours.title', { name: s.name }) }),
    h('p', { text: t('admin.hours.intro') }),
  );
  for (let d = 1; d <= 7; d++) {
    const fs = h('fieldset', { class: 'admin-hours-day', id: `hours-day-${d}` }, h('legend', { text: names[d - 1] }));
    if (!draft.days[d].length) fs.append(h('p', { class: 'mb-2', id: `hours-${d}-closed`, text: t('admin.hours.closed') }));
    draft.days[d].forEach((p, i) => {
      const base = `hours-${d}-${i}`;
      fs.append(
        h(
          'div',
          { class: 'admin-period', id: base },
          h(
            'div',
            { class: 'field' },
            h('label', { for: `${base}-opens`, text: t('admin.hours.opens_label', { day: names[d - 1], n: i + 1 }) }),
            h('input', { type: 'time', class: 'form-control', id: `${base}-opens`, value: p.opens, required: true, 'aria-describedby': `${base}-opens-error` }),
            h('div', { class: 'invalid-feedback', id: `${base}-opens-error` }),
          ),
          h(
            'div',
            { class: 'field' },
            h('label', { for: `${base}-closes`, text: t('admin.hours.closes_label', { day: names[d - 1], n: i + 1 }) }),
            h('input', { type: 'time', class: 'form-control', id: `${base}-closes`, value: p.closes, required: true, 'aria-describedby': `${base}-closes-error` }),
            h('div', { class: 'invalid-feedback', id: `${base}-closes-error` }),
          ),
          h('button', {
            type: 'button',
            class: 'btn btn-outline-danger btn-sm',
            id: `${base}-remove`,
            text: t('admin.hours.remove'),
            'aria-label': t('admin.hours.remove_label', { day: names[d - 1], n: i + 1 }),
            on: {
              click: () => {
                syncDraft();
                draft.days[d].splice(i, 1);
                renderServices();
                focus($(`#hours-add-${d}`));
              },
            },
          }),
        ),
      );
    });
    fs.append(
      h('button', {
        type: 'button',
        class: 'btn btn-outline-primary btn-sm',
        id: `hours-add-${d}`,
        text: t('admin.hours.add'),
        'aria-label': t('admin.hours.add_label', { day: names[d - 1] }),
        on: {
          click: () => {
            syncDraft();
            const last = draft.days[d][draft.days[d].length - 1];
            draft.days[d].push(last ? { opens: last.closes, closes: last.closes < '23:00' ? `${String(Number(last.closes.slice(0, 2)) + 1).padStart(2, '0')}${last.closes.slice(2)}` : '23:59' } : { opens: '09:00', closes: '12:30' });
            renderServices();
            focus($(`#hours-${d}-${draft.days[d].length - 1}-opens`));
          },
        },
      }),
    );
    box.append(fs);
  }
  box.append(
    h('div', { class: 'alert alert-danger admin-form-error', id: 'hours-error', role: 'alert', hidden: true }),
    h('button', { type: 'submit', class: 'btn btn-primary', id: 'hours-save', text: t('admin.hours.save') }),
  );
  box.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clearErrors(box);
    syncDraft();
    const hours = [];
    const ids = [];
    for (let d = 1; d <= 7; d++)
      draft.days[d].forEach((p, i) => {
        hours.push({ weekday: d, opens: p.opens, closes: p.closes });
        ids.push(`hours-${d}-${i}`);
      });
    const map = (field) => {
      const m = /^hours\[(\d+)\]\.(opens|closes|weekday)$/.exec(field);
      if (!m || !ids[Number(m[1])]) return null;
      return `${ids[Number(m[1])]}-${m[2] === 'weekday' ? 'opens' : m[2]}`;
    };
    $('#hours-save').disabled = true;
    try {
      await change('PUT', `${A}/services/${encodeURIComponent(s.id)}/hours`, { hours }, {
        prefix: 'hours',
        map,
        onDone: async () => {
          hoursDraft = null;
          await reload('services');
          renderServices();
          message(t('admin.hours.saved', { name: s.name }));
          focus($('#hours-title'));
        },
      });
    } finally {
      if ($('#hours-save')) $('#hours-save').disabled = false;
    }
  });
  return box;
}

function desksEditor(s) {
  const rows = (s.desks || []).map((d) =>
    h(
      'tr',
      { id: `desk-row-${d.id}` },
      h('td', { text: d.label }),
      h('td', { text: d.active ? t('admin.active') : t('admin.inactive') }),
      h(
        'td',
        {},
        h('button', {
          type: 'button',
          class: `btn btn-sm ${d.active ? 'btn-outline-danger' : 'btn-outline-success'}`,
          id: `desk-toggle-${d.id}`,
          'aria-label': t(d.active ? 'admin.deactivate_label' : 'admin.activate_label', { name: d.label }),
          text: t(d.active ? 'admin.deactivate' : 'admin.activate'),
          on: {
            click: () =>
              change('PATCH', `${A}/desks/${d.id}`, { active: !d.active }, {
                prefix: 'desk',
                onDone: async (r) => {
                  await reload('services');
                  renderServices();
                  const moved = r?.reassigned?.length ? ` ${t('admin.stranded.result_reassigned', { n: r.reassigned.length })}` : '';
                  message(t(d.active ? 'admin.desks.deactivated' : 'admin.desks.activated', { name: d.label }) + moved);
                },
              }),
          },
        }),
      ),
    ),
  );
  const form = h(
    'form',
    { class: 'admin-form', id: 'desk-form', novalidate: true, 'aria-labelledby': 'desks-title' },
    h('h3', { class: 'h5', id: 'desks-title', tabindex: '-1', text: t('admin.desks.title', { name: s.name }) }),
    h('p', { text: t('admin.desks.intro') }),
    table('desks-table', t('admin.desks.caption'), [t('admin.desks.label'), t('admin.state'), t('admin.actions')], rows),
    h(
      'div',
      { class: 'field' },
      h('label', { for: 'desk-label', text: `${t('admin.desks.new_label')} ${t('common.required_mark')}` }),
      h('input', { type: 'text', class: 'form-control', id: 'desk-label', 'aria-describedby': 'desk-label-error' }),
      h('div', { class: 'invalid-feedback', id: 'desk-label-error' }),
    ),
    h('div', { class: 'alert alert-danger admin-form-error', id: 'desk-error', role: 'alert', hidden: true }),
    h('button', { type: 'submit', class: 'btn btn-primary', id: 'desk-add', text: t('admin.desks.add') }),
  );
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clearErrors(form);
    const label = $('#desk-label').value.trim();
    if (!label) {
      markError('desk-label', t('errors.required'));
      return focus($('#desk-label'));
    }
    try {
      await call('POST', `${A}/services/${encodeURIComponent(s.id)}/desks`, { label });
      await reload('services');
      renderServices();
      message(t('admin.desks.added', { name: label }));
      focus($('#desk-label'));
    } catch (err) {
      fieldErrors('desk', err);
    }
  });
  return form;
}

// ---------- closures ----------

const closureFields = () => [
  { name: 'office_id', label: 'admin.closures.office', type: 'select', options: [['', t('admin.closures.every_office')], ...data.offices.map((o) => [o.id, o.name])] },
  { name: 'reason', label: 'admin.closures.reason' },
  { name: 'first_day', label: 'admin.closures.first_day', type: 'date', required: true },
  { name: 'last_day', label: 'admin.closures.last_day', type: 'date', required: true },
];

function renderClosures() {
  const rows = data.closures.map((c) =>
    h(
      'tr',
      { id: `closure-row-${c.id}` },
      h('td', { text: c.office_id ? officeName(c.office_id) : t('admin.closures.every_office') }),
      h('td', { text: c.first_day === c.last_day ? dayLabel(c.first_day) : `${dayLabel(c.first_day)} – ${dayLabel(c.last_day)}` }),
      h('td', { text: c.reason || '—' }),
      h(
        'td',
        {},
        h('button', {
          type: 'button',
          class: 'btn btn-outline-danger btn-sm',
          id: `closure-remove-${c.id}`,
          'aria-label': t('admin.closures.remove_label', { when: dayLabel(c.first_day) }),
          text: t('admin.closures.remove'),
          on: {
            click: async () => {
              try {
                await call('DELETE', `${A}/closures/${c.id}`);
                await reload('closures');
                renderClosures();
                message(t('admin.closures.removed'));
                focus($('#closures-title'));
              } catch (err) {
                message(errorText(err));
              }
            },
          },
        }),
      ),
    ),
  );
  clear($('#closures-list')).append(
    table('closures-table', t('admin.closures.caption'), [t('admin.closures.office'), t('admin.closures.days'), t('admin.closures.reason'), t('admin.actions')], rows),
  );
  clear($('#closure-form-box')).append(
    formBox('closure', t('admin.closures.add_title'), closureFields(), {}, {
      submit: t('admin.closures.add'),
      onSubmit: async () => {
        const v = readFields('closure', closureFields());
        const body = { office_id: v.office_id || null, first_day: v.first_day, last_day: v.last_day || v.first_day, reason: v.reason };
        if (!v.first_day) {
          markError('closure-first_day', t('errors.required'));
          return focus($('#closure-first_day'));
        }
        await change('POST', `${A}/closures`, body, {
          prefix: 'closure',
          onDone: async (r) => {
            await reload('closures');
            renderClosures();
            const n = r?.cancelled?.length || 0;
            message(t('admin.closures.added') + (n ? ` ${t('admin.stranded.result_cancelled', { n })}` : ''));
          },
        });
      },
    }),
  );
}

// ---------- operators ----------

const operatorFields = (editing) =>
  editing
    ? [
        { name: 'display_name', label: 'admin.operators.name', required: true },
        { name: 'role', label: 'admin.operators.role', type: 'select', options: [['operator', t('operator.role.operator')], ['administrator', t('operator.role.administrator')]] },
        { name: 'active', label: 'admin.operators.active', type: 'checkbox' },
      ]
    : [
        { name: 'email', label: 'admin.operators.email', type: 'email', required: true },
        { name: 'display_name', label: 'admin.operators.name', required: true },
        { name: 'role', label: 'admin.operators.role', type: 'select', options: [['operator', t('operator.role.operator')], ['administrator', t('operator.role.administrator')]] },
        { name: 'password', label: 'admin.operators.password', type: 'password', required: true, hint: 'admin.operators.password_hint', autocomplete: 'new-password' },
      ];

function officeChecks(prefix, chosen) {
  return h(
    'fieldset',
    { class: 'field', 'aria-describedby': `${prefix}-offices-error` },
    h('legend', { class: 'field-label', text: t('admin.operators.offices') }),
    h(
      'div',
      { class: 'admin-checks' },
      data.offices.map((o) =>
        h(
          'div',
          { class: 'form-check' },
          h('input', { class: 'form-check-input', type: 'checkbox', id: `${prefix}-offices-${o.id}`, value: o.id, checked: chosen.includes(o.id) }),
          h('label', { class: 'form-check-label', for: `${prefix}-offices-${o.id}`, text: o.name }),
        ),
      ),
    ),
    h('div', { class: 'invalid-feedback', id: `${prefix}-offices-error` }),
  );
}

const chosenOffices = (prefix) => data.offices.filter((o) => $(`#${prefix}-offices-${o.id}`)?.checked).map((o) => o.id);
const opMap = (prefix) => (f) => (f.startsWith('offices') ? `${prefix}-offices` : `${prefix}-${f}`);

function renderOperators() {
  const rows = data.operators.map((o) =>
    h(
      'tr',
      { id: `operator-row-${o.id}` },
      h('td', { text: o.display_name }),
      h('td', { text: o.email }),
      h('td', { text: t(`operator.role.${o.role}`) }),
      h('td', { text: o.role === 'administrator' ? t('admin.operators.every_office') : (o.offices || []).map(officeName).join(', ') || '—' }),
      h('td', { text: o.active ? t('admin.active') : t('admin.inactive') }),
      h(
        'td',
        {},
        h(
          'div',
          { class: 'op-actions' },
          h('button', {
            type: 'button',
            class: 'btn btn-outline-primary btn-sm',
            id: `operator-edit-${o.id}`,
            'aria-label': t('admin.edit_label', { name: o.display_name }),
            text: t('common.edit'),
            on: {
              click: () => {
                editingOperator = o.id;
                resetting = null;
                renderOperators();
                focus($('#operator-form-title'));
              },
            },
          }),
          h('button', {
            type: 'button',
            class: 'btn btn-outline-secondary btn-sm',
            id: `operator-reset-${o.id}`,
            'aria-label': t('admin.operators.reset_label', { name: o.display_name }),
            text: t('admin.operators.reset'),
            on: {
              click: () => {
                resetting = o.id;
                renderOperators();
                focus($('#reset-form-title'));
              },
            },
          }),
        ),
      ),
    ),
  );
  clear($('#operators-list')).append(
    table(
      'operators-table',
      t('admin.operators.caption'),
      [t('admin.operators.name'), t('admin.operators.email'), t('admin.operators.role'), t('admin.operators.offices'), t('admin.state'), t('admin.actions')],
      rows,
    ),
  );
  const o = editingOperator ? data.operators.find((x) => x.id === editingOperator) : null;
  const fields = operatorFields(!!o);
  clear($('#operator-form-box')).append(
    formBox('operator', o ? t('admin.operators.edit_title', { name: o.display_name }) : t('admin.operators.create_title'), fields, o || { role: 'operator' }, {
      submit: o ? t('admin.save') : t('admin.operators.create'),
      extra: officeChecks('operator', o?.offices || []),
      onCancel: o
        ? () => {
            editingOperator = null;
            renderOperators();
            focus($('#operator-form-title'));
          }
        : null,
      onSubmit: async () => {
        const body = { ...readFields('operator', fields), offices: chosenOffices('operator') };
        if (!localCheck('operator', fields, body)) return;
        try {
          if (o) await call('PATCH', `${A}/operators/${encodeURIComponent(o.id)}`, body);
          else await call('POST', `${A}/operators`, body);
          await reload('operators');
          editingOperator = null;
          renderOperators();
          message(t(o ? 'admin.operators.saved' : 'admin.operators.created', { name: body.display_name }));
        } catch (err) {
          if (err instanceof ApiError && err.status === 409 && !o) markError('operator-email', t('admin.operators.email_taken'));
          if (err instanceof ApiError && err.status === 422) {
            const box = $('#operator-error');
            box.textContent = t('admin.operators.self');
            show(box, true);
            return focus(box);
          }
          fieldErrors('operator', err, opMap('operator'));
        }
      },
    }),
  );
  const r = resetting ? data.operators.find((x) => x.id === resetting) : null;
  const rb = clear($('#reset-box'));
  if (r) {
    const rf = [{ name: 'password', label: 'admin.operators.new_password', type: 'password', required: true, hint: 'admin.operators.password_hint', autocomplete: 'new-password' }];
    rb.append(
      formBox('reset', t('admin.operators.reset_title', { name: r.display_name }), rf, {}, {
        submit: t('admin.operators.reset_submit'),
        onCancel: () => {
          resetting = null;
          renderOperators();
          focus($(`#operator-reset-${r.id}`));
        },
        onSubmit: async () => {
          const body = readFields('reset', rf);
          if (!localCheck('reset', rf, body)) return;
          try {
            await call('POST', `${A}/operators/${encodeURIComponent(r.id)}/password`, body);
            resetting = null;
            renderOperators();
            message(t('admin.operators.reset_done', { name: r.display_name }));
          } catch (err) {
            fieldErrors('reset', err);
          }
        },
      }),
    );
  }
}

// ---------- audit ----------

function renderAuditKinds() {
  const sel = $('#audit-kind');
  const cur = sel.value;
  clear(sel).append(
    h('option', { value: '', text: t('admin.audit.any') }),
    ...['booking', 'office', 'service', 'closure', 'desk', 'operator', 'session'].map((k) => h('option', { value: k, text: t(`admin.audit.kinds.${k}`), selected: k === cur })),
  );
}

async function loadAudit(more) {
  const q = new URLSearchParams({ limit: '50' });
  if ($('#audit-kind').value) q.set('target_kind', $('#audit-kind').value);
  if ($('#audit-target').value.trim()) q.set('target_id', $('#audit-target').value.trim());
  if (more && data.audit.length) q.set('before', String(data.audit[data.audit.length - 1].id));
  $('#audit-status').textContent = t('common.loading');
  try {
    const r = await get(`${A}/audit?${q}`, { operator: true });
    const entries = r.entries || [];
    data.audit = more ? [...data.audit, ...entries] : entries;
    data.auditMore = entries.length === 50;
    renderAudit();
    $('#audit-status').textContent = t('admin.audit.count', { n: data.audit.length });
  } catch (err) {
    $('#audit-status').textContent = errorText(err);
  }
}

function renderAudit() {
  renderAuditKinds();
  const tbody = clear($('#audit-rows'));
  for (const e of data.audit) {
    const who = e.actor?.kind === 'operator' ? data.operators.find((o) => o.id === e.actor.id)?.display_name || e.actor.id : t(`operator.actor.${e.actor?.kind || 'system'}`);
    const detail = e.detail && JSON.stringify(e.detail) !== '{}' ? JSON.stringify(e.detail) : '';
    tbody.append(
      h(
        'tr',
        { id: `audit-${e.id}` },
        h('td', {}, h('time', { datetime: e.at, text: formatDateTime(e.at) })),
        h('td', { text: who }),
        h('td', { text: e.action }),
        h('td', { text: `${t(`admin.audit.kinds.${e.target_kind}`)} ${e.target_id}` }),
        h('td', {}, detail ? h('code', { class: 'admin-detail', text: detail }) : '—'),
      ),
    );
  }
  show($('#audit-more'), data.auditMore);
}

$('#audit-filter').addEventListener('submit', (ev) => {
  ev.preventDefault();
  loadAudit(false);
});
$('#audit-more').addEventListener('click', () => loadAudit(true));

// ---------- start ----------

function signedOut() {
  show($('#admin-app'), false);
  show($('#admin-status'), false);
  $('#admin-denied-text').textContent = t('admin.signed_out');
  $('#admin-denied-link').textContent = t('admin.sign_in');
  show($('#admin-denied'), true);
  focus($('#admin-denied-text'));
  return false;
}

onLangChange(() => {
  if (!data.me) return;
  render();
});

try {
  const me = await get('/api/operator/me', { operator: true });
  setCsrfToken(me.csrf_token);
  data.me = me.operator;
  if (me.operator.role !== 'administrator') {
    show($('#admin-status'), false);
    $('#admin-denied-text').textContent = t('admin.forbidden', { name: me.operator.display_name });
    show($('#admin-denied'), true);
    focus($('#admin-denied-text'));
  } else {
    await reload('offices', 'services', 'closures', 'operators');
    show($('#admin-status'), false);
    $('#admin-user').textContent = me.operator.display_name || me.operator.email;
    show($('#admin-app'), true);
    const want = location.hash.slice(1);
    showSection(['offices', 'services', 'closures', 'operators', 'audit'].includes(want) ? want : 'offices', false);
  }
} catch (err) {
  if (err instanceof ApiError && err.status === 401) signedOut();
  else if (err instanceof ApiError && err.status === 403) {
    show($('#admin-status'), false);
    $('#admin-denied-text').textContent = t('admin.forbidden', { name: '' });
    show($('#admin-denied'), true);
  } else $('#admin-status').textContent = errorText(err);
}
