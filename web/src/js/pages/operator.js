// The operator console (/operatore/): sign-in (password, or the
// municipality's identity provider when /api/operator/oidc/config says it
// is on), the agenda of the operator's offices by day or by week, a
// booking's detail (citizen, request, documents: lib/documents.js,
// attendance, history), the video call (lib/call.js and lib/chat.js, as the
// citizen's room page), the outcome, and reschedule or cancel on the
// citizen's behalf.
//
// The session is an HttpOnly cookie scoped to /api/operator; its CSRF token
// (from sign-in and GET /me) is kept with setCsrfToken and sent by api.js.
// The view is in the address: ?data=YYYY-MM-DD&vista=giorno|settimana for
// the agenda, ?prenotazione=<id> for a booking (no personal data in it).
import { initPage, announce } from '../lib/layout.js';
import { ApiError, api, get, post, setCsrfToken } from '../lib/api.js';
import { mountCall, nameOf } from '../lib/call.js';
import { mountChat, notifyDocuments } from '../lib/chat.js';
import { documentsApi, mountDocuments } from '../lib/documents.js';
import { $, clear, focus, h, show } from '../lib/dom.js';
import { addDays, dayNoon, formatDate, formatDateTime, formatShortDate, formatTime, formatTimeRange, mondayOf, romeDate, todayRome } from '../lib/format.js';
import { checkFields, clearErrors, showAlert, showProblem } from '../lib/form.js';
import { onLangChange, t } from '../lib/i18n.js';
import { problemText } from '../lib/problems.js';
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
  docs: null, // the documents panel of the booking shown
};

// ---------- helpers ----------

function sessionLost(err) {
  if (err?.code === 'unauthorized') {
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

signinForm.addEventListener('submit', async (ev) => {
  ev.preventDefault();
  if (!checkFields(signinForm)) return;
  const email = $('#signin-email').value.trim();
  const password = $('#signin-password').value;
  const btn = $('#signin-submit');
  btn.disabled = true;
  try {
    const r = await post(`${OP}/session`, { email, password }, opts);
    setCsrfToken(r.csrf_token);
    $('#signin-password').value = '';
    await started(r.operator);
  } catch (err) {
    showAlert($('#signin-error'), problemText(err, { unauthorized: 'operator.signin.wrong' }));
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
    days === 1 ? formatDate(dayNoon(first)) : t('operator.agenda.week_of', { from: formatShortDate(dayNoon(first)), to: formatShortDate(dayNoon(addDays(first, 6))) });
  $('#agenda-status').textContent = t('common.loading');
  clear($('#agenda-list'));
  try {
    const r = await get(`${OP}/agenda?${new URLSearchParams({ date: first, days: String(days) })}`, opts);
    state.agenda = { first, days, bookings: r.bookings || [] };
    renderAgenda();
  } catch (err) {
    if (sessionLost(err)) return;
    $('#agenda-status').textContent = problemText(err);
  }
}

function renderAgenda() {
  const { first, days, bookings } = state.agenda;
  const list = clear($('#agenda-list'));
  const byDay = new Map();
  for (let i = 0; i < days; i++) byDay.set(addDays(first, i), []);
  for (const b of bookings) {
    const d = romeDate(b.start);
    if (!byDay.has(d)) byDay.set(d, []);
    byDay.get(d).push(b);
  }
  $('#agenda-status').textContent =
    bookings.length === 0 ? t(days === 1 ? 'operator.agenda.empty_day' : 'operator.agenda.empty_week') : t('operator.agenda.count', { n: bookings.length });
  for (const [day, items] of byDay) {
    const headId = `agenda-day-${day}-title`;
    const section = h('section', { class: 'op-day', id: `agenda-day-${day}`, 'aria-labelledby': headId });
    if (days > 1) section.append(h('h4', { class: 'h5 op-day-title', id: headId, text: formatDate(dayNoon(day)) }));
    else section.append(h('h4', { class: 'visually-hidden', id: headId, text: formatDate(dayNoon(day)) }));
    if (items.length === 0) {
      section.append(h('p', { class: 'op-day-empty', text: t('operator.agenda.none') }));
    } else {
      const table = h(
        'table',
        { class: 'table op-agenda-table' },
        h('caption', { class: 'visually-hidden', text: t('operator.agenda.caption', { date: formatDate(dayNoon(day)) }) }),
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
    clearErrors($('#outcome-form'));
    $('#call-status').textContent = '';
    $('#changes-result').textContent = '';
    state.docs?.destroy();
    state.docs = mountDocuments($('#doc-box'), {
      id: 'doc',
      side: 'office',
      level: 4,
      api: documentsApi(`${OP}/bookings/${encodeURIComponent(id)}/documents`, opts),
      onError: sessionLost,
      onUploaded: () => call.room && notifyDocuments(call.room).catch(() => {}),
    });
  } catch (err) {
    if (sessionLost(err)) return;
    $('#detail-status').textContent = problemText(err, { not_found: 'operator.detail.not_found' });
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
  if (!checkFields($('#outcome-form'))) return;
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
    showProblem(err, {
      root: $('#outcome-form'),
      alert: $('#outcome-error'),
      texts: { unprocessable: () => t('operator.outcome.too_early', { time: formatDateTime(state.booking.start) }), conflict: 'operator.outcome.already' },
    });
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
    showAlert(
      $('#reschedule-error'),
      problemText(err, {
        conflict: 'operator.changes.slot_taken',
        unprocessable: 'operator.changes.started',
        invalid: () => t('operator.changes.slot_invalid', { detail: problemText(err) }),
      }),
    );
    const taken = err.status === 409 ? state.chosen?.start : undefined;
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
    showAlert($('#cancel-error'), problemText(err, { unprocessable: 'operator.changes.started', conflict: 'operator.changes.not_changeable' }));
    focus($('#cancel-error'));
  } finally {
    $('#cancel-confirm').disabled = false;
  }
});

// ---------- the call ----------

function callStatus(text) {
  $('#call-status').textContent = text;
}

const call = mountCall({
  tiles: $('#call-local'),
  remoteTiles: $('#call-remote'),
  mic: $('#call-mute'),
  camera: $('#call-camera'),
  leave: $('#call-leave'),
  quality: $('#call-quality'),
  waiting: $('#call-remote-empty'),
  audioBlocked: $('#call-audio-blocked'),
  startAudio: $('#call-start-audio'),
  error: $('#call-error'),
  onChat: (text, p) => chat.say(nameOf(p), text),
  onDocuments: () => state.docs?.refresh(),
  onJoined: (p) => chat.note(t('chat.joined', { name: nameOf(p) })),
  onLeft: (p) => chat.note(t('chat.left', { name: nameOf(p) })),
  onEnd: (why) => {
    show($('#call-panel'), false);
    $('#join-call').disabled = false;
    callStatus(t(why === 'left' ? 'operator.call.left' : 'operator.call.disconnected'));
    if (why === 'left' && $('#op-detail').contains(document.activeElement)) focus($('#join-call'));
  },
});
const chat = mountChat({ log: $('#chat-log'), form: $('#chat-form'), input: $('#chat-input'), room: () => call.room });

function leaveCall() {
  return call.leave();
}

$('#join-call').addEventListener('click', async () => {
  if (call.room) return focus($('#call-panel-title'));
  const id = state.bookingId;
  $('#join-call').disabled = true;
  callStatus(t('operator.call.connecting'));
  try {
    const j = await post(`${OP}/bookings/${encodeURIComponent(id)}/join`, {}, opts);
    // The panel shows, at the top of the window, before the connection:
    // the citizen, usually in the room already, is then attached to a tile
    // that can be seen (LiveKit's adaptive stream pauses the data of a
    // video out of sight until it is seen, and the SFU must then resume it
    // with a new key frame).
    show($('#call-panel'), true);
    $('#call-panel').scrollIntoView({ block: 'start' });
    chat.clear();
    await call.connect(j.url, j.token);
  } catch (err) {
    show($('#call-panel'), false);
    $('#join-call').disabled = false;
    if (sessionLost(err)) return;
    focus($('#join-call')); // back where the panel was: the status beside it says why
    // Not an ApiError: LiveKit's own connection failed.
    callStatus(
      !(err instanceof ApiError)
        ? t('operator.call.failed')
        : problemText(err, {
            not_yet_open: () => (err.problem?.opens_at ? t('operator.call.not_yet_open', { time: formatDateTime(err.problem.opens_at) }) : t('operator.call.not_yet_open_unknown')),
            expired: 'operator.call.expired',
            gone: 'operator.call.expired',
            conflict: 'operator.call.not_confirmed',
            unavailable: 'operator.call.unavailable',
          }),
    );
    return;
  }
  callStatus('');
  focus($('#call-panel-title'));
  await call.publish();
});

// ---------- language ----------

onLangChange(() => {
  if (!state.me) return;
  $('#op-role').textContent = `(${t(`operator.role.${state.me.role}`)} · ${(state.me.offices || []).map((o) => o.name).join(', ')})`;
  if (state.booking && !$('#op-detail').hidden) renderBooking();
  else if (state.agenda) loadAgenda();
  call.render();
  updateNoteCount();
});

// ---------- start ----------

loadOidc();
try {
  const me = await get(`${OP}/me`, opts);
  setCsrfToken(me.csrf_token);
  await started(me.operator);
} catch (err) {
  showSignin(err.code === 'unauthorized' ? '' : problemText(err));
}
