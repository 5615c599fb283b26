// The operator console (/operatore/): sign-in (password, or the
// municipality's identity provider when /api/operator/oidc/config says it
// is on), the agenda of the operator's offices by day or by week, a
// booking's detail (citizen, request, documents with upload and download,
// attendance, history), the video call (livekit-client: local and remote
// video, mute, camera, leave, a chat over data messages on topic "chat"),
// the outcome, and reschedule or cancel on the citizen's behalf.
//
// The session is an HttpOnly cookie scoped to /api/operator; its CSRF token
// (from sign-in and GET /me) is kept with setCsrfToken and sent by api.js.
// The view is in the address: ?data=YYYY-MM-DD&vista=giorno|settimana for
// the agenda, ?prenotazione=<id> for a booking (no personal data in it).
import { initPage, announce } from '../lib/layout.js';
import { ApiError, api, get, post, setCsrfToken } from '../lib/api.js';
import { listen, notifyDocuments, sendChat } from '../lib/chat.js';
import { $, clear, focus, h, show } from '../lib/dom.js';
import { addDays, formatDate, formatDateTime, formatShortDate, formatTime, formatTimeRange, parseDay, todayRome } from '../lib/format.js';
import { onLangChange, t } from '../lib/i18n.js';
import { mountSlotPicker } from '../lib/slots.js';

initPage();

const OP = '/api/operator';
const opts = { operator: true };
const state = {
  me: null,
  view: 'day', // day | week
  date: todayRome(),
  bookingId: null,
  booking: null,
  agenda: null,
  picker: null,
  chosen: null,
  room: null,
  uploading: false,
};

// ---------- helpers ----------

function errorText(err) {
  if (!(err instanceof ApiError)) return t('common.error_generic', { detail: String(err?.message || err) });
  if (err.status === 0) return t('common.error_network');
  return t('common.error_generic', { detail: err.detail || err.code });
}

function showAlert(el, text) {
  el.textContent = text || '';
  show(el, !!text);
}

function sessionLost(err) {
  if (err instanceof ApiError && err.status === 401) {
    state.me = null;
    setCsrfToken('');
    leaveCall();
    showSignin(t('operator.signin.expired'));
    return true;
  }
  return false;
}

function fullName(c) {
  return [c?.given_name, c?.family_name].filter(Boolean).join(' ');
}

function mondayOf(day) {
  const { year, month, day: d } = parseDay(day);
  const wd = (new Date(Date.UTC(year, month - 1, d)).getUTCDay() + 6) % 7; // 0 = Monday
  return addDays(day, -wd);
}

function statusBadges(b) {
  const list = [];
  if (b.status === 'cancelled') list.push(['danger', t('operator.status.cancelled')]);
  else if (b.outcome === 'completed') list.push(['success', t('operator.status.completed')]);
  else if (b.outcome === 'no_show') list.push(['warning', t('operator.status.no_show')]);
  else if (b.status === 'confirmed') list.push(['primary', t('operator.status.confirmed')]);
  else list.push(['secondary', t(`operator.status.${b.status}`)]);
  return list.map(([kind, text]) => h('span', { class: `badge op-badge op-badge-${kind}`, text }));
}

function setURL(params, push = true) {
  const q = new URLSearchParams(params).toString();
  const url = `${location.pathname}${q ? `?${q}` : ''}`;
  if (url === location.pathname + location.search) return;
  if (push) history.pushState(null, '', url);
  else history.replaceState(null, '', url);
}

// ---------- sign-in ----------

const signinForm = $('#signin-form');

function showSignin(message) {
  show($('#op-status'), false);
  show($('#op-console'), false);
  show($('#op-signin'), true);
  showAlert($('#op-message'), message || '');
  focus($('#signin-title'));
}

async function loadOidc() {
  try {
    const cfg = await get(`${OP}/oidc/config`);
    show($('#oidc-box'), !!cfg?.enabled);
  } catch {
    show($('#oidc-box'), false);
  }
}

function fieldError(id, text) {
  const input = $(`#${id}`);
  $(`#${id}-error`).textContent = text || '';
  input.classList.toggle('is-invalid', !!text);
  if (text) input.setAttribute('aria-invalid', 'true');
  else input.removeAttribute('aria-invalid');
}

signinForm.addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const email = $('#signin-email').value.trim();
  const password = $('#signin-password').value;
  fieldError('signin-email', email ? '' : t('errors.required'));
  fieldError('signin-password', password ? '' : t('errors.required'));
  showAlert($('#signin-error'), '');
  if (!email) return focus($('#signin-email'));
  if (!password) return focus($('#signin-password'));
  const btn = $('#signin-submit');
  btn.disabled = true;
  try {
    const r = await post(`${OP}/session`, { email, password }, opts);
    setCsrfToken(r.csrf_token);
    $('#signin-password').value = '';
    await started(r.operator);
  } catch (err) {
    let msg;
    if (err instanceof ApiError && err.status === 401) msg = t('operator.signin.wrong');
    else if (err instanceof ApiError && err.status === 429) {
      const minutes = Math.max(1, Math.ceil((err.retryAfter || 60) / 60));
      msg = t('operator.signin.locked', { minutes });
    } else msg = errorText(err);
    showAlert($('#signin-error'), msg);
    $('#signin-password').value = '';
    focus($('#signin-password'));
  } finally {
    btn.disabled = false;
  }
});

$('#signout').addEventListener('click', async () => {
  await leaveCall();
  try {
    await api(`${OP}/session`, { method: 'DELETE', operator: true });
  } catch {
    // the session is gone either way
  }
  setCsrfToken('');
  state.me = null;
  setURL({}, false);
  showSignin(t('operator.signin.signed_out'));
  announce(t('operator.signin.signed_out'));
});

async function started(me) {
  state.me = me;
  show($('#op-status'), false);
  show($('#op-signin'), false);
  showAlert($('#op-message'), '');
  show($('#op-console'), true);
  $('#op-user').textContent = me.display_name || me.email;
  $('#op-role').textContent = `(${t(`operator.role.${me.role}`)} · ${(me.offices || []).map((o) => o.name).join(', ')})`;
  show($('#admin-link'), me.role === 'administrator');
  await route(false);
}

// ---------- routing ----------

async function route(moveFocus = true) {
  const q = new URLSearchParams(location.search);
  const id = q.get('prenotazione');
  if (q.get('vista') === 'settimana') state.view = 'week';
  else if (q.get('vista') === 'giorno') state.view = 'day';
  if (/^\d{4}-\d{2}-\d{2}$/.test(q.get('data') || '')) state.date = q.get('data');
  if (id) await openBooking(id, moveFocus);
  else await showAgenda(moveFocus);
}

window.addEventListener('popstate', () => {
  if (state.me) route(true);
});

// ---------- agenda ----------

function agendaParams() {
  return { data: state.date, vista: state.view === 'week' ? 'settimana' : 'giorno' };
}

async function showAgenda(moveFocus = true) {
  await leaveCall();
  state.bookingId = null;
  state.booking = null;
  destroyPicker();
  show($('#op-detail'), false);
  show($('#op-agenda'), true);
  await loadAgenda();
  if (moveFocus) focus($('#agenda-range'));
}

async function loadAgenda() {
  const first = state.view === 'week' ? mondayOf(state.date) : state.date;
  const days = state.view === 'week' ? 7 : 1;
  $('#view-day').setAttribute('aria-pressed', String(state.view === 'day'));
  $('#view-week').setAttribute('aria-pressed', String(state.view === 'week'));
  $('#agenda-date').value = state.date;
  $('#agenda-prev').textContent = t(state.view === 'week' ? 'operator.agenda.prev_week' : 'operator.agenda.prev_day');
  $('#agenda-next').textContent = t(state.view === 'week' ? 'operator.agenda.next_week' : 'operator.agenda.next_day');
  $('#agenda-range').textContent =
    days === 1 ? formatDate(`${first}T12:00:00Z`) : t('operator.agenda.week_of', { from: formatShortDate(`${first}T12:00:00Z`), to: formatShortDate(`${addDays(first, 6)}T12:00:00Z`) });
  $('#agenda-status').textContent = t('common.loading');
  clear($('#agenda-list'));
  try {
    const r = await get(`${OP}/agenda?${new URLSearchParams({ date: first, days: String(days) })}`, opts);
    state.agenda = { first, days, bookings: r.bookings || [] };
    renderAgenda();
  } catch (err) {
    if (sessionLost(err)) return;
    $('#agenda-status').textContent = errorText(err);
  }
}

function renderAgenda() {
  const { first, days, bookings } = state.agenda;
  const list = clear($('#agenda-list'));
  const byDay = new Map();
  for (let i = 0; i < days; i++) byDay.set(addDays(first, i), []);
  for (const b of bookings) {
    const d = romeDay(b.start);
    if (!byDay.has(d)) byDay.set(d, []);
    byDay.get(d).push(b);
  }
  $('#agenda-status').textContent =
    bookings.length === 0 ? t(days === 1 ? 'operator.agenda.empty_day' : 'operator.agenda.empty_week') : t('operator.agenda.count', { n: bookings.length });
  for (const [day, items] of byDay) {
    const headId = `agenda-day-${day}-title`;
    const section = h('section', { class: 'op-day', id: `agenda-day-${day}`, 'aria-labelledby': headId });
    if (days > 1) section.append(h('h4', { class: 'h5 op-day-title', id: headId, text: formatDate(`${day}T12:00:00Z`) }));
    else section.append(h('h4', { class: 'visually-hidden', id: headId, text: formatDate(`${day}T12:00:00Z`) }));
    if (items.length === 0) {
      section.append(h('p', { class: 'op-day-empty', text: t('operator.agenda.none') }));
    } else {
      const table = h(
        'table',
        { class: 'table op-agenda-table' },
        h('caption', { class: 'visually-hidden', text: t('operator.agenda.caption', { date: formatDate(`${day}T12:00:00Z`) }) }),
        h(
          'thead',
          {},
          h(
            'tr',
            {},
            ['time', 'citizen', 'service', 'desk', 'status', 'open'].map((k) =>
              h('th', { scope: 'col' }, k === 'open' ? h('span', { class: 'visually-hidden', text: t('operator.agenda.col_open') }) : t(`operator.agenda.col_${k}`)),
            ),
          ),
        ),
        h(
          'tbody',
          {},
          items.map((b) =>
            h(
              'tr',
              { id: `agenda-row-${b.id}`, dataset: { booking: b.id } },
              h('td', { class: 'op-time', text: formatTimeRange(b.start, b.end) }),
              h('td', { class: 'op-citizen', text: fullName(b.citizen) || t('operator.detail.purged') }),
              h('td', { text: b.service_name }),
              h('td', { text: b.desk }),
              h('td', {}, statusBadges(b)),
              h(
                'td',
                {},
                h('a', {
                  href: `?prenotazione=${encodeURIComponent(b.id)}`,
                  id: `open-${b.id}`,
                  class: 'btn btn-outline-primary btn-sm',
                  'aria-label': t('operator.agenda.open_label', { time: formatTimeRange(b.start, b.end), name: fullName(b.citizen) }),
                  text: t('operator.agenda.open'),
                  on: {
                    click: (ev) => {
                      ev.preventDefault();
                      setURL({ prenotazione: b.id });
                      openBooking(b.id, true);
                    },
                  },
                }),
              ),
            ),
          ),
        ),
      );
      section.append(h('div', { class: 'table-responsive' }, table));
    }
    list.append(section);
  }
}

function romeDay(instant) {
  return new Intl.DateTimeFormat('en-CA', { timeZone: 'Europe/Rome', year: 'numeric', month: '2-digit', day: '2-digit' }).format(new Date(instant));
}

function moveAgenda(n) {
  state.date = addDays(state.date, n * (state.view === 'week' ? 7 : 1));
  setURL(agendaParams());
  loadAgenda().then(() => announce($('#agenda-range').textContent));
}

$('#agenda-prev').addEventListener('click', () => moveAgenda(-1));
$('#agenda-next').addEventListener('click', () => moveAgenda(1));
$('#agenda-today').addEventListener('click', () => {
  state.date = todayRome();
  setURL(agendaParams());
  loadAgenda().then(() => announce($('#agenda-range').textContent));
});
$('#agenda-date').addEventListener('change', (ev) => {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(ev.target.value)) return;
  state.date = ev.target.value;
  setURL(agendaParams());
  loadAgenda();
});
for (const [id, view] of [['#view-day', 'day'], ['#view-week', 'week']]) {
  $(id).addEventListener('click', () => {
    if (state.view === view) return;
    state.view = view;
    setURL(agendaParams());
    loadAgenda().then(() => announce($('#agenda-range').textContent));
  });
}

// ---------- booking detail ----------

async function openBooking(id, moveFocus = true) {
  if (state.bookingId !== id) await leaveCall();
  state.bookingId = id;
  show($('#op-agenda'), false);
  show($('#op-detail'), true);
  show($('#detail-body'), false);
  $('#detail-status').textContent = t('common.loading');
  if (moveFocus) focus($('#detail-title'));
  try {
    const b = await get(`${OP}/bookings/${encodeURIComponent(id)}`, opts);
    state.booking = b;
    $('#detail-status').textContent = '';
    renderBooking();
    show($('#detail-body'), true);
    resetChangePanels();
    showAlert($('#outcome-error'), '');
    fieldError('doc-file', '');
    $('#doc-status').textContent = '';
    $('#call-status').textContent = '';
    $('#changes-result').textContent = '';
  } catch (err) {
    if (sessionLost(err)) return;
    $('#detail-status').textContent = err instanceof ApiError && err.status === 404 ? t('operator.detail.not_found') : errorText(err);
  }
}

function renderBooking() {
  const b = state.booking;
  $('#detail-title').textContent = t('operator.detail.title_with', { name: fullName(b.citizen) || t('operator.detail.purged') });
  $('#detail-when').textContent = `${formatDate(b.start)}, ${formatTimeRange(b.start, b.end)}`;
  $('#detail-service').textContent = t('operator.detail.service_line', { service: b.service_name, office: b.office_name, desk: b.desk });
  clear($('#detail-badges')).append(...statusBadges(b), ' ', h('span', { class: 'op-ref', text: t('operator.detail.reference', { id: b.id }) }));

  const c = b.citizen || {};
  const dl = clear($('#detail-citizen'));
  const row = (k, v, id) => [h('dt', { text: t(`operator.detail.${k}`) }), h('dd', { id, text: v || '—' })];
  if (b.purged) dl.append(h('dd', { text: t('operator.detail.purged') }));
  else
    dl.append(
      ...row('name', fullName(c), 'detail-citizen-name'),
      ...row('email', c.email, 'detail-citizen-email'),
      ...row('address', c.address, 'detail-citizen-address'),
      ...row('language', c.locale ? t(`operator.detail.locale_${c.locale}`) : '', 'detail-citizen-locale'),
    );
  $('#detail-reason').textContent = c.reason || '—';
  $('#detail-details').textContent = c.details || '—';

  renderDocuments(b.documents || []);

  const att = clear($('#detail-attendance'));
  if (!b.attendance?.length) att.append(h('li', { text: t('operator.detail.attendance_none') }));
  for (const s of b.attendance || []) {
    const who = s.role === 'operator' ? t('operator.detail.attendance_operator') : t('operator.detail.attendance_citizen');
    att.append(
      h('li', {
        text: s.left_at
          ? t('operator.detail.attendance_row', { who, from: formatDateTime(s.joined_at), to: formatTime(s.left_at) })
          : t('operator.detail.attendance_open', { who, from: formatDateTime(s.joined_at) }),
      }),
    );
  }
  const hist = clear($('#detail-history'));
  if (!b.history?.length) hist.append(h('li', { text: '—' }));
  for (const e of b.history || []) {
    const actor = t(`operator.actor.${e.actor?.kind || 'system'}`);
    const action = actionLabel(e.action);
    hist.append(h('li', {}, h('time', { datetime: e.at, text: formatDateTime(e.at) }), ` — ${action} (${actor})`));
  }

  // Outcome
  const recorded = !!b.outcome;
  const open = b.status === 'confirmed' && !recorded;
  $('#outcome-current').textContent = recorded
    ? t('operator.outcome.recorded', { outcome: t(`operator.status.${b.outcome}`), at: b.outcome_at ? formatDateTime(b.outcome_at) : '' }) + (b.outcome_note ? ` ${t('operator.outcome.note_was', { note: b.outcome_note })}` : '')
    : b.status === 'cancelled'
      ? t('operator.outcome.cancelled')
      : new Date(b.start) > new Date()
        ? t('operator.outcome.before_start', { time: formatDateTime(b.start) })
        : '';
  show($('#outcome-form'), open);
  updateNoteCount();

  // Reschedule and cancel: only a confirmed booking that has not started.
  const changeable = b.status === 'confirmed' && !recorded && new Date(b.start) > new Date();
  show($('#changes-section'), changeable);
  show($('#call-section'), b.status === 'confirmed');
}

function actionLabel(action) {
  const key = `operator.action.${String(action).replace(/\./g, '_')}`;
  const s = t(key);
  return s === key ? action : s;
}

$('#detail-back').addEventListener('click', () => {
  setURL(agendaParams());
  showAgenda(true);
});

// ---------- documents ----------

function renderDocuments(docs) {
  const ul = clear($('#doc-list'));
  if (!docs.length) {
    ul.append(h('li', { class: 'op-doc-empty', text: t('operator.docs.none') }));
    return;
  }
  for (const d of docs) {
    ul.append(
      h(
        'li',
        { id: `doc-${d.id}`, class: 'op-doc' },
        h(
          'span',
          { class: 'op-doc-name' },
          h('strong', { text: d.filename }),
          h('span', {
            class: 'op-doc-meta',
            text: ` ${t(d.uploaded_by === 'office' ? 'operator.docs.by_office' : 'operator.docs.by_citizen')} · ${formatDateTime(d.uploaded_at)} · ${formatSize(d.size)}`,
          }),
        ),
        h('button', {
          type: 'button',
          class: 'btn btn-outline-primary btn-sm',
          id: `doc-download-${d.id}`,
          'aria-label': t('operator.docs.download_label', { name: d.filename }),
          text: t('operator.docs.download'),
          on: { click: () => download(d) },
        }),
      ),
    );
  }
}

function formatSize(n) {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(0)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}

async function download(d) {
  try {
    const r = await get(`${OP}/bookings/${encodeURIComponent(state.bookingId)}/documents/${encodeURIComponent(d.id)}`, opts);
    const a = h('a', { href: r.url, target: '_blank', rel: 'noopener noreferrer', class: 'visually-hidden', text: d.filename });
    document.body.append(a);
    a.click();
    a.remove();
  } catch (err) {
    if (sessionLost(err)) return;
    $('#doc-status').textContent = errorText(err);
  }
}

function contentTypeOf(file) {
  if (file.type) return file.type;
  const n = file.name.toLowerCase();
  if (n.endsWith('.pdf')) return 'application/pdf';
  if (n.endsWith('.p7m')) return 'application/pkcs7-mime';
  if (n.endsWith('.png')) return 'image/png';
  if (/\.jpe?g$/.test(n)) return 'image/jpeg';
  return 'application/octet-stream';
}

function uploadTo(upload, file, onProgress) {
  return new Promise((resolve, reject) => {
    const form = new FormData();
    for (const [k, v] of Object.entries(upload.fields || {})) form.append(k, v);
    form.append('file', file);
    const xhr = new XMLHttpRequest();
    xhr.open('POST', upload.url);
    xhr.upload.addEventListener('progress', (e) => {
      if (e.lengthComputable) onProgress(Math.round((e.loaded / e.total) * 100));
    });
    xhr.addEventListener('load', () => (xhr.status >= 200 && xhr.status < 300 ? resolve() : reject(new Error(`HTTP ${xhr.status}`))));
    xhr.addEventListener('error', () => reject(new Error('network')));
    xhr.send(form);
  });
}

$('#doc-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  if (state.uploading) return;
  const file = $('#doc-file').files[0];
  fieldError('doc-file', file ? '' : t('operator.docs.choose'));
  if (!file) return focus($('#doc-file'));
  const id = state.bookingId;
  const progress = $('#doc-progress');
  state.uploading = true;
  $('#doc-upload').disabled = true;
  progress.value = 0;
  show(progress, true);
  $('#doc-status').textContent = t('operator.docs.uploading', { name: file.name });
  try {
    const r = await post(`${OP}/bookings/${encodeURIComponent(id)}/documents`, { filename: file.name, content_type: contentTypeOf(file), size: file.size }, opts);
    await uploadTo(r.upload, file, (p) => {
      progress.value = p;
    });
    progress.value = 100;
    await post(`${OP}/bookings/${encodeURIComponent(id)}/documents/${encodeURIComponent(r.document_id)}/complete`, {}, opts);
    await refreshDocuments();
    if (state.room) notifyDocuments(state.room).catch(() => {});
    $('#doc-file').value = '';
    $('#doc-status').textContent = t('operator.docs.uploaded', { name: file.name });
  } catch (err) {
    if (sessionLost(err)) return;
    if (err instanceof ApiError && err.status === 400) fieldError('doc-file', err.fields.map((f) => f.message).join(' ') || err.detail);
    else if (err instanceof ApiError && err.status === 413) fieldError('doc-file', t('operator.docs.too_large'));
    else if (err instanceof ApiError) fieldError('doc-file', errorText(err));
    else fieldError('doc-file', t('operator.docs.failed'));
    $('#doc-status').textContent = '';
    focus($('#doc-file'));
  } finally {
    state.uploading = false;
    $('#doc-upload').disabled = false;
    show(progress, false);
  }
});

// ---------- outcome ----------

function updateNoteCount() {
  const n = $('#outcome-note').value.length;
  $('#outcome-note-count').textContent = t('operator.outcome.count', { n, max: 500 });
}
$('#outcome-note').addEventListener('input', updateNoteCount);

$('#outcome-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const outcome = $('input[name=outcome]:checked')?.value || 'completed';
  const note = $('#outcome-note').value.trim();
  showAlert($('#outcome-error'), '');
  fieldError('outcome-note', note.length > 500 ? t('errors.too_long', { n: 500 }) : '');
  if (note.length > 500) return focus($('#outcome-note'));
  $('#outcome-submit').disabled = true;
  try {
    const b = await post(`${OP}/bookings/${encodeURIComponent(state.bookingId)}/outcome`, { outcome, note }, opts);
    state.booking = b;
    $('#outcome-note').value = '';
    renderBooking();
    announce($('#outcome-current').textContent);
    focus($('#outcome-current'));
  } catch (err) {
    if (sessionLost(err)) return;
    let msg;
    if (err instanceof ApiError && err.status === 422) msg = t('operator.outcome.too_early', { time: formatDateTime(state.booking.start) });
    else if (err instanceof ApiError && err.status === 409) msg = t('operator.outcome.already');
    else if (err instanceof ApiError && err.field === 'note') {
      fieldError('outcome-note', err.detail);
      return focus($('#outcome-note'));
    } else msg = errorText(err);
    showAlert($('#outcome-error'), msg);
    focus($('#outcome-error'));
  } finally {
    $('#outcome-submit').disabled = false;
  }
});

// ---------- reschedule and cancel ----------

function destroyPicker() {
  state.picker?.destroy();
  state.picker = null;
  state.chosen = null;
}

function resetChangePanels() {
  destroyPicker();
  show($('#reschedule-panel'), false);
  show($('#cancel-panel'), false);
  $('#reschedule-open').setAttribute('aria-expanded', 'false');
  $('#cancel-open').setAttribute('aria-expanded', 'false');
  showAlert($('#reschedule-error'), '');
  showAlert($('#cancel-error'), '');
  $('#reschedule-chosen').textContent = '';
  $('#reschedule-confirm').disabled = true;
}

$('#reschedule-open').addEventListener('click', () => {
  resetChangePanels();
  show($('#reschedule-panel'), true);
  $('#reschedule-open').setAttribute('aria-expanded', 'true');
  state.picker = mountSlotPicker($('#op-reschedule-box'), {
    serviceId: state.booking.service_id,
    id: 'op-reschedule',
    onSelect: (slot) => {
      state.chosen = slot;
      $('#reschedule-chosen').textContent = t('operator.changes.chosen', { when: `${formatDate(slot.start)}, ${formatTimeRange(slot.start, slot.end)}` });
      $('#reschedule-confirm').disabled = false;
    },
  });
  focus($('#reschedule-title'));
});

$('#reschedule-abort').addEventListener('click', () => {
  resetChangePanels();
  focus($('#reschedule-open'));
});

$('#reschedule-confirm').addEventListener('click', async () => {
  if (!state.chosen) return;
  $('#reschedule-confirm').disabled = true;
  showAlert($('#reschedule-error'), '');
  try {
    const b = await post(`${OP}/bookings/${encodeURIComponent(state.bookingId)}/reschedule`, { start: state.chosen.start }, opts);
    state.booking = b;
    resetChangePanels();
    renderBooking();
    const msg = t('operator.changes.rescheduled', { when: `${formatDate(b.start)}, ${formatTimeRange(b.start, b.end)}` });
    $('#changes-result').textContent = msg;
    focus($('#detail-when'));
  } catch (err) {
    if (sessionLost(err)) return;
    let msg;
    if (err instanceof ApiError && err.status === 409 && err.code === 'conflict') msg = t('operator.changes.slot_taken');
    else if (err instanceof ApiError && err.status === 422) msg = t('operator.changes.started');
    else if (err instanceof ApiError && err.status === 400) msg = t('operator.changes.slot_invalid', { detail: err.detail });
    else msg = errorText(err);
    showAlert($('#reschedule-error'), msg);
    const taken = err instanceof ApiError && err.status === 409 ? state.chosen?.start : undefined;
    state.chosen = null;
    $('#reschedule-chosen').textContent = '';
    state.picker?.clearSelection();
    state.picker?.refresh({ taken });
    focus($('#reschedule-error'));
  }
});

$('#cancel-open').addEventListener('click', () => {
  resetChangePanels();
  show($('#cancel-panel'), true);
  $('#cancel-open').setAttribute('aria-expanded', 'true');
  focus($('#cancel-question'));
});

$('#cancel-abort').addEventListener('click', () => {
  resetChangePanels();
  focus($('#cancel-open'));
});

$('#cancel-confirm').addEventListener('click', async () => {
  $('#cancel-confirm').disabled = true;
  showAlert($('#cancel-error'), '');
  try {
    const b = await post(`${OP}/bookings/${encodeURIComponent(state.bookingId)}/cancel`, {}, opts);
    state.booking = b;
    resetChangePanels();
    renderBooking();
    announce(t('operator.changes.cancelled'));
    $('#detail-status').textContent = t('operator.changes.cancelled');
    focus($('#detail-title'));
  } catch (err) {
    if (sessionLost(err)) return;
    let msg;
    if (err instanceof ApiError && err.status === 422) msg = t('operator.changes.started');
    else if (err instanceof ApiError && err.status === 409) msg = t('operator.changes.not_changeable');
    else msg = errorText(err);
    showAlert($('#cancel-error'), msg);
    focus($('#cancel-error'));
  } finally {
    $('#cancel-confirm').disabled = false;
  }
});

// ---------- the call ----------

let lk = null; // livekit-client, loaded on first use

async function livekit() {
  lk ??= await import('livekit-client');
  return lk;
}

function callStatus(text) {
  $('#call-status').textContent = text;
}

$('#join-call').addEventListener('click', async () => {
  if (state.room) return focus($('#call-panel-title'));
  const id = state.bookingId;
  $('#join-call').disabled = true;
  callStatus(t('operator.call.connecting'));
  try {
    const j = await post(`${OP}/bookings/${encodeURIComponent(id)}/join`, {}, opts);
    const { Room, RoomEvent, Track } = await livekit();
    const room = new Room({ adaptiveStream: true, dynacast: true });
    state.room = room;
    room
      .on(RoomEvent.TrackSubscribed, (track, pub, participant) => attachRemote(track, participant, Track))
      .on(RoomEvent.TrackUnsubscribed, (track) => {
        for (const el of track.detach()) el.remove();
        updateRemoteEmpty();
      })
      .on(RoomEvent.ParticipantConnected, (p) => callStatus(t('operator.call.joined_other', { name: p.name || p.identity })))
      .on(RoomEvent.ParticipantDisconnected, (p) => {
        callStatus(t('operator.call.left_other', { name: p.name || p.identity }));
        updateRemoteEmpty();
      })
      .on(RoomEvent.Disconnected, () => {
        if (state.room === room) cleanupCall(t('operator.call.disconnected'));
      });
    listen(room, { onChat: receiveChat, onDocuments: refreshDocuments });
    await room.connect(j.url, j.token);
    show($('#call-panel'), true);
    clear($('#chat-log'));
    for (const p of room.remoteParticipants.values()) {
      for (const pub of p.trackPublications.values()) if (pub.track) attachRemote(pub.track, p, Track);
    }
    updateRemoteEmpty();
    try {
      await room.localParticipant.enableCameraAndMicrophone();
    } catch {
      callStatus(t('operator.call.no_devices'));
    }
    const camPub = room.localParticipant.getTrackPublication(Track.Source.Camera);
    if (camPub?.track) {
      const v = camPub.track.attach();
      v.muted = true;
      v.setAttribute('aria-label', t('operator.call.local'));
      clear($('#call-local')).append(v);
    }
    $('#call-mute').setAttribute('aria-pressed', 'false');
    $('#call-camera').setAttribute('aria-pressed', 'false');
    updateCallButtons();
    if (!$('#call-status').textContent || $('#call-status').textContent === t('operator.call.connecting')) callStatus(t('operator.call.connected'));
    focus($('#call-panel-title'));
  } catch (err) {
    if (state.room) {
      const r = state.room;
      state.room = null;
      await r.disconnect().catch(() => {});
    }
    $('#join-call').disabled = false;
    if (sessionLost(err)) return;
    if (err instanceof ApiError && err.code === 'not_yet_open') {
      const opens = err.problem?.opens_at;
      callStatus(opens ? t('operator.call.not_yet_open', { time: formatDateTime(opens) }) : t('operator.call.not_yet_open_unknown'));
    } else if (err instanceof ApiError && (err.status === 410 || err.code === 'expired')) callStatus(t('operator.call.expired'));
    else if (err instanceof ApiError && err.status === 409) callStatus(t('operator.call.not_confirmed'));
    else if (err instanceof ApiError && err.status === 503) callStatus(t('operator.call.unavailable'));
    else if (err instanceof ApiError) callStatus(errorText(err));
    else callStatus(t('operator.call.failed', { detail: String(err?.message || err) }));
  }
});

function attachRemote(track, participant, Track) {
  if (track.kind === Track.Kind.Video) {
    const v = track.attach();
    v.id = `call-remote-video-${participant.identity}`;
    v.setAttribute('aria-label', t('operator.call.remote_video', { name: participant.name || participant.identity }));
    $('#call-remote').append(v);
  } else if (track.kind === Track.Kind.Audio) {
    const a = track.attach();
    a.classList.add('visually-hidden');
    $('#call-remote').append(a);
  }
  updateRemoteEmpty();
}

function updateRemoteEmpty() {
  show($('#call-remote-empty'), !$('#call-remote video'));
}

function updateCallButtons() {
  const muted = $('#call-mute').getAttribute('aria-pressed') === 'true';
  $('#call-mute').textContent = t(muted ? 'operator.call.unmute' : 'operator.call.mute');
  const camOff = $('#call-camera').getAttribute('aria-pressed') === 'true';
  $('#call-camera').textContent = t(camOff ? 'operator.call.camera_on' : 'operator.call.camera_off');
}

$('#call-mute').addEventListener('click', async () => {
  if (!state.room) return;
  const muted = $('#call-mute').getAttribute('aria-pressed') === 'true';
  await state.room.localParticipant.setMicrophoneEnabled(muted).catch(() => {});
  $('#call-mute').setAttribute('aria-pressed', String(!muted));
  updateCallButtons();
  announce(t(!muted ? 'operator.call.muted' : 'operator.call.unmuted'));
});

$('#call-camera').addEventListener('click', async () => {
  if (!state.room) return;
  const off = $('#call-camera').getAttribute('aria-pressed') === 'true';
  await state.room.localParticipant.setCameraEnabled(off).catch(() => {});
  $('#call-camera').setAttribute('aria-pressed', String(!off));
  updateCallButtons();
  if (off) {
    const { Track } = await livekit();
    const pub = state.room.localParticipant.getTrackPublication(Track.Source.Camera);
    if (pub?.track) {
      const v = pub.track.attach();
      v.muted = true;
      clear($('#call-local')).append(v);
    }
  } else clear($('#call-local')).append(h('p', { class: 'op-video-empty', text: t('operator.call.camera_is_off') }));
  announce(t(!off ? 'operator.call.camera_is_off' : 'operator.call.camera_is_on'));
});

$('#call-leave').addEventListener('click', async () => {
  await leaveCall();
  focus($('#join-call'));
});

async function leaveCall() {
  const room = state.room;
  if (!room) return;
  state.room = null;
  await room.disconnect().catch(() => {});
  cleanupCall(t('operator.call.left'));
}

function cleanupCall(message) {
  state.room = null;
  clear($('#call-local'));
  for (const el of Array.from($('#call-remote').querySelectorAll('video, audio'))) el.remove();
  updateRemoteEmpty();
  show($('#call-panel'), false);
  $('#join-call').disabled = false;
  callStatus(message);
}

// Chat and the "documents changed" notice: lib/chat.js, as the citizen's
// room page (room.js) sends and reads them.

function addChat(from, text, mine, at = new Date()) {
  const li = h('li', { class: mine ? 'op-chat-mine' : 'op-chat-theirs' }, h('span', { class: 'op-chat-from', text: `${from} (${formatTime(at)}): ` }), h('span', { text }));
  $('#chat-log').append(li);
  li.scrollIntoView({ block: 'nearest' });
}

function receiveChat(text, participant) {
  addChat(participant?.name || participant?.identity || t('operator.call.remote'), text, false);
}

async function refreshDocuments() {
  const id = state.bookingId;
  try {
    const list = await get(`${OP}/bookings/${encodeURIComponent(id)}/documents`, opts);
    if (state.booking && state.bookingId === id) {
      state.booking.documents = list.documents || [];
      renderDocuments(state.booking.documents);
    }
  } catch {
    // the list stays as it was
  }
}

$('#chat-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const text = $('#chat-input').value.trim();
  if (!text || !state.room) return;
  try {
    await sendChat(state.room, text);
    addChat(t('operator.chat.me'), text, true);
    $('#chat-input').value = '';
  } catch {
    callStatus(t('operator.chat.failed'));
  }
});

window.addEventListener('pagehide', () => {
  state.room?.disconnect();
});

// ---------- language ----------

onLangChange(() => {
  if (!state.me) return;
  $('#op-role').textContent = `(${t(`operator.role.${state.me.role}`)} · ${(state.me.offices || []).map((o) => o.name).join(', ')})`;
  if (state.booking && !$('#op-detail').hidden) renderBooking();
  else if (state.agenda) {
    loadAgenda();
  }
  if (state.room) updateCallButtons();
  updateNoteCount();
});

// ---------- start ----------

loadOidc();
try {
  const me = await get(`${OP}/me`, opts);
  setCsrfToken(me.csrf_token);
  await started(me.operator);
} catch (err) {
  if (err instanceof ApiError && err.status === 401) showSignin();
  else {
    show($('#op-status'), false);
    showSignin(errorText(err));
  }
}
