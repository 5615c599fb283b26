// The administration (/operatore/amministrazione/), for administrators
// only, through /api/operator/admin (functions/admin): one module per
// section under admin/ — offices, services (with their hours and desks),
// closures, operators, the audit log — and the stranded-bookings rule
// (admin/stranded.js). An operator who is not an administrator gets a clear
// "not allowed"; without a session, a link to sign in on the console.
//
// Forms (lib/fields.js): every control has the id <form prefix>-<API
// field> (e.g. #office-name, #service-duration_minutes, #closure-first_day,
// #operator-email) and its error #<id>-error; a problem naming a field
// marks it there, others go to #<form prefix>-error.
import { get, setCsrfToken } from '../lib/api.js';
import { $, $$, focus, show } from '../lib/dom.js';
import { onLangChange, t } from '../lib/i18n.js';
import { initPage } from '../lib/layout.js';
import { problemText } from '../lib/problems.js';
import * as audit from './admin/audit.js';
import * as closures from './admin/closures.js';
import { data, reload, signedOut } from './admin/common.js';
import * as offices from './admin/offices.js';
import * as operators from './admin/operators.js';
import * as services from './admin/services.js';
import { closeStranded } from './admin/stranded.js';

initPage();

const SECTIONS = { offices, services, closures, operators, audit };
let section = 'offices';

function showSection(name, moveFocus) {
  section = name;
  closeStranded();
  for (const b of $$('#admin-tabs button')) b.setAttribute('aria-pressed', String(b.dataset.section === name));
  for (const s of Object.keys(SECTIONS)) show($(`#section-${s}`), s === name);
  history.replaceState(null, '', `#${name}`);
  SECTIONS[name].render();
  if (moveFocus) focus($(`#${name}-title`));
}

for (const b of $$('#admin-tabs button')) b.addEventListener('click', () => showSection(b.dataset.section, true));

onLangChange(() => data.me && SECTIONS[section].render());

function denied(text) {
  show($('#admin-status'), false);
  $('#admin-denied-text').textContent = text;
  show($('#admin-denied'), true);
  focus($('#admin-denied-text'));
}

try {
  const me = await get('/api/operator/me', { operator: true });
  setCsrfToken(me.csrf_token);
  data.me = me.operator;
  if (me.operator.role !== 'administrator') denied(t('admin.forbidden', { name: me.operator.display_name }));
  else {
    await reload('offices', 'services', 'closures', 'operators');
    show($('#admin-status'), false);
    $('#admin-user').textContent = me.operator.display_name || me.operator.email;
    show($('#admin-app'), true);
    const want = location.hash.slice(1);
    showSection(want in SECTIONS ? want : 'offices', false);
  }
} catch (err) {
  if (err.code === 'unauthorized') signedOut();
  else if (err.code === 'forbidden') denied(t('admin.forbidden', { name: '' }));
  else $('#admin-status').textContent = problemText(err);
}
