// What the administration's sections share: the API under
// /api/operator/admin, the data they show (reloaded after each change),
// the page's status line (#admin-message), tables with their row buttons,
// the entity forms (lib/fields.js) and the way out when the session is gone.
import { api, get } from '../../lib/api.js';
import { $, focus, h, show } from '../../lib/dom.js';
import { formBox } from '../../lib/fields.js';
import { formatShortDate, dayNoon } from '../../lib/format.js';
import { fieldError, showProblem } from '../../lib/form.js';
import { t } from '../../lib/i18n.js';

export const A = '/api/operator/admin';
export const data = { me: null, offices: [], services: [], closures: [], operators: [] };

export const call = (method, path, body) => api(path, { method, body, operator: true });

/** reload fetches the lists named (offices, services, closures, operators) again. */
export async function reload(...what) {
  await Promise.all(what.map(async (w) => (data[w] = (await get(`${A}/${w}`, { operator: true }))[w] || [])));
}

/** message says text in #admin-message (role=status), announced even when it repeats. */
export function message(text) {
  $('#admin-message').textContent = '';
  setTimeout(() => {
    $('#admin-message').textContent = text;
  }, 30);
}

export const officeName = (id) => data.offices.find((o) => o.id === id)?.name || id;
export const serviceName = (id) => data.services.find((s) => s.id === id)?.name || id;
export const dayLabel = (day) => formatShortDate(dayNoon(day));
export const stateText = (active) => t(active ? 'admin.active' : 'admin.inactive');

/** signedOut replaces the page with the way to sign in; returns true. */
export function signedOut() {
  show($('#admin-app'), false);
  show($('#admin-status'), false);
  $('#admin-denied-text').textContent = t('admin.signed_out');
  $('#admin-denied-link').textContent = t('admin.sign_in');
  show($('#admin-denied'), true);
  focus($('#admin-denied-text'));
  return true;
}

/** failed shows err of an action outside a form in alert (a form's #<prefix>-error). */
export function failed(err, alert) {
  if (err?.code === 'unauthorized') signedOut();
  else showProblem(err, { alert });
}

/** taken says el's value is used already (a 409 on create); true: handled. */
export function taken(el, key) {
  fieldError(el, t(key));
  focus(el);
  return true;
}

/** entityForm is lib/fields.js's formBox, signing out when the session is gone. */
export function entityForm(opts) {
  return formBox({ ...opts, onError: (err) => opts.onError?.(err) || (err?.code === 'unauthorized' && signedOut()) });
}

/** table: the rows under a caption and column heads (i18n keys), or a "nothing" line. */
export function table(id, caption, heads, rows) {
  if (!rows.length) return h('p', { id: `${id}-empty`, text: t('admin.empty') });
  return h(
    'div',
    { class: 'table-responsive' },
    h(
      'table',
      { class: 'table admin-table', id },
      h('caption', { class: 'visually-hidden', text: t(caption) }),
      h('thead', {}, h('tr', {}, heads.map((x) => h('th', { scope: 'col', text: t(x) })))),
      h('tbody', {}, rows),
    ),
  );
}

/** row: a table row; text cells from strings, other cells as they are. */
export function row(id, ...cells) {
  return h('tr', { id }, cells.map((c) => (c instanceof Node ? c : h('td', { text: c || '—' }))));
}

/** actions: the cell of a row's buttons. */
export const actions = (...buttons) => h('td', {}, h('div', { class: 'op-actions' }, buttons));

/** button: a small row button with its own accessible name. */
export function button(id, text, label, onClick, kind = 'btn-outline-primary') {
  return h('button', { type: 'button', class: `btn btn-sm ${kind}`, id, 'aria-label': label, text, on: { click: onClick } });
}

/** toggle: the button that deactivates (or reactivates) what is named. */
export function toggle(id, name, active, onClick) {
  return button(
    id,
    t(active ? 'admin.deactivate' : 'admin.activate'),
    t(active ? 'admin.deactivate_label' : 'admin.activate_label', { name }),
    onClick,
    active ? 'btn-outline-danger' : 'btn-outline-success',
  );
}
