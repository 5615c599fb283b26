// The booking flow at /prenota/, after Designers Italia's "Prenotazione
// appuntamento" model: Ufficio → Servizio → Data e orario → Dettagli →
// Richiedente → Riepilogo → confirmation.
//
// ?ufficio=<office id>&servizio=<service id> preselect (and skip ahead).
// Choosing a time holds it (POST /api/holds); a new choice takes a new hold
// (the old one lapses by itself: the API has no release). The hold's
// countdown is shown until the booking is confirmed; when it runs out, or
// the API answers 404/410 for it, the citizen is sent back to the time
// choice with the slots reloaded; a 409 (taken meanwhile) does the same.
// Problems the API names by field are shown next to that field.
//
// A crowded service lets citizens choose a time in turn (the waiting room,
// lib/queue.js): before its time choice the page asks POST /api/queue.
// Admitted (the usual case; the server sets the admission cookie reserve
// checks): the times, as ever. Waiting: the queue view (#step-queue, still
// step 3 in the stepper) instead, refreshed by GET /api/queue/{token}; its
// token is kept in localStorage, so a reload resumes the same place. Once
// admitted, back to the times. A hold refused with 403 not_admitted (the
// admission lapsed, or the room opened meanwhile) asks again.
import { del, get, post } from '../lib/api.js';
import { $, $$, clear, focus, h, show } from '../lib/dom.js';
import { formatCountdown, formatDate, formatDuration, formatTime, formatTimeRange, localDeadline, TIME_ZONE } from '../lib/format.js';
import { checkFields, clearErrors, controlFor, fieldError, showAlert, showProblem } from '../lib/form.js';
import { getLang, onLangChange, t } from '../lib/i18n.js';
import { announce, icon, initPage } from '../lib/layout.js';
import { problemText } from '../lib/problems.js';
import { estimateText, forgetTicket, keepAdmission, keepToken, pollDelay, savedTicket, waitSeconds, worthSaying } from '../lib/queue.js';
import { mountSlotPicker } from '../lib/slots.js';
import { localDateTime, vtimezone } from '../lib/timezone.js';
import { startJourney } from '../lib/trace.js';

initPage();
// One trace for this visit's booking: calendar, hold, confirmation.
startJourney();

const STEPS = ['office', 'service', 'slot', 'details', 'citizen', 'summary'];
const state = {
  offices: [],
  officeId: '',
  serviceId: '',
  hold: null, // the API's hold: hold_id, hold_secret, expires_at, start, end, service_id
  expiresAt: 0, // the hold's end on this browser's clock (ms)
  details: { reason: '', details: '' },
  citizen: { given_name: '', family_name: '', address: '', email: '', privacy_consent: false },
  booking: null,
  step: 'office',
};
let picker = null;
let pickerService = '';
let timer = null;
let warned = false;
let turnPending = false; // on the time choice, asking for the service's turn

const office = () => state.offices.find((o) => o.id === state.officeId) || null;
const service = () => (office()?.services || []).find((s) => s.id === state.serviceId) || null;

// ---- steps -----------------------------------------------------------------

function reachable(step) {
  switch (step) {
    case 'office':
      return true;
    case 'service':
      return !!office();
    case 'slot':
    case 'queue':
      return !!service();
    case 'details':
    case 'citizen':
      return !!service() && !!state.hold;
    case 'summary':
      return !!service() && !!state.hold && citizenComplete();
    case 'done':
      return !!state.booking;
    default:
      return false;
  }
}

// The queue view is the time choice's, for the stepper.
const stepperStep = (step) => (step === 'queue' ? 'slot' : step);

function citizenComplete() {
  const c = state.citizen;
  return !!(c.given_name && c.family_name && c.address && c.email && c.privacy_consent);
}

function go(step, { push = true, announceIt = true, focusIt = true } = {}) {
  if (state.booking) step = 'done';
  while (!reachable(step)) step = STEPS[STEPS.indexOf(step) - 1] || 'office';
  state.step = step;
  if (step === 'queue') dropPicker(); // its times would be stale by the turn
  else stopQueue();
  turnPending = step === 'slot' && needsTurn();
  for (const s of $$('.booking-step')) show(s, s.id === `step-${step}`);
  renderStep(step);
  if (turnPending) askQueue();
  renderSteppers();
  renderHoldBanner();
  if (push && history.state?.step !== step) history.pushState({ step }, '', location.href);
  if (focusIt) focus($(`#step-${step}-title`));
  if (announceIt) {
    const n = STEPS.indexOf(stepperStep(step));
    announce(n >= 0 ? t('booking.step_of', { n: n + 1, total: STEPS.length, name: t(`booking.steps.${STEPS[n]}`) }) : t('booking.done.title'));
  }
}

function renderStep(step) {
  if (step === 'office') renderOffices();
  if (step === 'service') renderServices();
  if (step === 'slot') renderSlotStep();
  if (step === 'queue') renderQueue();
  if (step === 'summary') renderSummary();
  if (step === 'done') renderDone();
}

function renderSteppers() {
  const list = clear($('#steps-list'));
  const current = STEPS.indexOf(stepperStep(state.step));
  STEPS.forEach((s, i) => {
    const done = state.step === 'done' || i < current;
    const li = h('li', { class: [done && 'confirmed', i === current && 'active'], id: `steps-${s}`, 'aria-current': i === current ? 'step' : null }, t(`booking.steps.${s}`));
    if (done) {
      li.append(icon('it-check', 'icon steppers-success'));
      li.append(h('span', { class: 'visually-hidden', text: ` (${t('booking.step_done')})` }));
    } else if (i === current) {
      li.append(h('span', { class: 'visually-hidden', text: ` (${t('booking.step_current')})` }));
    }
    list.append(li);
  });
  $('#steps-index').textContent = state.step === 'done' ? '' : `${current + 1}/${STEPS.length}`;
  show($('#steps-nav'), state.step !== 'done');
}

// ---- messages and field problems -------------------------------------------

// message: the flow's alert (#flow-message, role=alert), above the steps.
const message = (text, { focusIt = false } = {}) => showAlert($('#flow-message'), text, { focus: focusIt });

// showInvalid: the API refused some of what was typed. Back to the step of
// the first field it names (each input carries its API field in
// data-field), every problem next to its field; a problem of the time
// itself (start, the hold) goes to #flow-message on the time step.
function showInvalid(err) {
  const first = err.fields.map((f) => controlFor(document, f.field || '')).find(Boolean);
  go(first ? first.closest('.booking-step').id.replace(/^step-/, '') : 'slot', { announceIt: false, focusIt: false });
  showProblem(err, { alert: $('#flow-message') });
}

// ---- office and service ----------------------------------------------------

function renderOffices() {
  const select = $('#office');
  const keep = state.officeId;
  for (const o of $$('option', select)) if (o.value) o.remove();
  for (const o of state.offices) select.append(h('option', { value: o.id, text: o.name }));
  select.value = keep;
  $('#office-description').textContent = office()?.description || '';
}

function renderServices() {
  const o = office();
  $('#service-legend').textContent = t('booking.service.legend', { office: o?.name || '' });
  const box = clear($('#service-options'));
  const services = o?.services || [];
  if (!services.length) box.append(h('p', { text: t('booking.service.none') }));
  for (const s of services) {
    const id = `service-${s.id}`;
    box.append(
      h(
        'div',
        { class: 'form-check service-option' },
        h('input', { class: 'form-check-input', type: 'radio', name: 'service', id, value: s.id, checked: s.id === state.serviceId, 'aria-describedby': 'service-error' }),
        h(
          'label',
          { class: 'form-check-label', for: id },
          h('span', { class: 'service-name', text: s.name }),
          h('span', { class: 'service-duration', text: t('booking.service.duration', { duration: formatDuration(s.duration_minutes) }) }),
          s.description ? h('span', { class: 'service-description', text: s.description }) : null,
        ),
      ),
    );
  }
}

$('#office').addEventListener('change', () => {
  $('#office-description').textContent = state.offices.find((o) => o.id === $('#office').value)?.description || '';
});

$('#form-office').addEventListener('submit', (ev) => {
  ev.preventDefault();
  if (!checkFields($('#form-office'))) return;
  const id = $('#office').value;
  if (id !== state.officeId) {
    state.officeId = id;
    state.serviceId = '';
    releaseHold();
  }
  message('');
  go('service');
});

$('#service-back').addEventListener('click', () => go('office'));
$('#form-service').addEventListener('submit', (ev) => {
  ev.preventDefault();
  clearErrors($('#form-service'));
  const chosen = $('input[name="service"]:checked')?.value;
  if (!chosen) {
    fieldError($('#service'), t('errors.reason.required'));
    focus($('input[name="service"]'));
    return;
  }
  if (chosen !== state.serviceId) {
    state.serviceId = chosen;
    releaseHold();
  }
  message('');
  go('slot');
});

// ---- date and time, and the hold -------------------------------------------

const serviceLine = (s = service()) => (s ? `${s.name} – ${t('booking.service.duration', { duration: formatDuration(s.duration_minutes) })}` : '');

function renderSlotStep() {
  $('#slot-service').textContent = serviceLine();
  if (turnPending) {
    // The times once the service's turn comes (askQueue).
    dropPicker();
    return;
  }
  if (!picker || pickerService !== state.serviceId) {
    picker?.destroy();
    pickerService = state.serviceId;
    picker = mountSlotPicker($('#slot-picker'), { serviceId: state.serviceId, onSelect: chooseSlot, id: 'slots' });
  }
  renderHeld();
}

function dropPicker() {
  picker?.destroy();
  picker = null;
  pickerService = '';
  clear($('#slot-picker'));
}

function renderHeld() {
  const status = $('#slot-status');
  status.textContent = state.hold ? t('booking.slot.held', { date: formatDate(state.hold.start), range: formatTimeRange(state.hold.start, state.hold.end) }) : '';
}

let holding = null;
async function chooseSlot(slot, { retried = false } = {}) {
  message('');
  if (state.hold && state.hold.start === slot.start && state.hold.service_id === state.serviceId) return;
  const mine = {};
  holding = mine;
  picker.setDisabled(true);
  $('#slot-status').textContent = t('booking.slot.holding');
  try {
    const hold = await post('/api/holds', { service_id: state.serviceId, start: slot.start, locale: getLang() });
    if (holding !== mine) return;
    // The previous hold, if any, was given back by the server in the same
    // step (one hold a browser).
    setHold(hold);
    announce(t('booking.slot.held', { date: formatDate(hold.start), range: formatTimeRange(hold.start, hold.end) }));
  } catch (err) {
    if (holding !== mine) return;
    if (err.code === 'not_admitted' && !retried) {
      // Without a turn the choice starts again: a previous hold is given back.
      releaseHold();
      turnLapsed(slot);
      return;
    }
    dropHold();
    picker.clearSelection();
    if (err.code === 'conflict' || err.code === 'gone') {
      message(t('booking.slot.taken'));
      announce(t('booking.slot.taken'));
      // The button that had the focus goes with the reload: give it to the
      // step's heading, so a keyboard user starts again from the top.
      picker.refresh({ taken: err.status === 409 ? slot.start : undefined }).finally(() => focus($('#step-slot-title')));
    } else if (err.code === 'invalid') {
      message(t('booking.slot.invalid', { detail: problemText(err) }));
      picker.refresh();
    } else {
      message(problemText(err));
    }
  } finally {
    if (holding === mine) {
      holding = null;
      picker?.setDisabled(false);
      renderHeld();
    }
  }
}

function setHold(hold) {
  state.hold = hold;
  // A browser clock far off the server's: trust the usual ten minutes.
  state.expiresAt = localDeadline(hold.expires_at, 10 * 60 * 1000);
  warned = false;
  clearInterval(timer);
  timer = setInterval(tick, 1000);
  renderHoldBanner();
}

// releaseHold gives the hold back (the citizen went back to another office
// or service, or left the page): its time is free for the next citizen at
// once instead of at its expiry. Leaving, only a beacon gets out.
function releaseHold({ leaving = false } = {}) {
  const hold = state.hold;
  if (hold && !state.booking) {
    const path = `/api/holds/${encodeURIComponent(hold.hold_id)}`;
    if (leaving && navigator.sendBeacon) {
      navigator.sendBeacon(`${path}/release`, new Blob([JSON.stringify({ hold_secret: hold.hold_secret })], { type: 'application/json' }));
    } else {
      del(path, { bearer: hold.hold_secret }).catch(() => {}); // it lapses by itself anyway
    }
  }
  dropHold();
}

function dropHold() {
  state.hold = null;
  state.expiresAt = 0;
  clearInterval(timer);
  timer = null;
  renderHoldBanner();
}

function tick() {
  const left = state.expiresAt - Date.now();
  if (left <= 0) {
    expired(t('booking.slot.expired'));
    return;
  }
  if (left <= 60 * 1000 && !warned) {
    warned = true;
    announce(t('booking.hold.last_minute'));
  }
  renderHoldBanner();
}

function renderHoldBanner() {
  const banner = $('#hold-banner');
  const visible = !!state.hold && !state.booking;
  show(banner, visible);
  if (!visible) return;
  const left = state.expiresAt - Date.now();
  $('#hold-countdown').textContent = formatCountdown(left);
  $('#hold-countdown').setAttribute('aria-label', t('booking.hold.minutes_left', { time: formatCountdown(left) }));
  $('#hold-until').textContent = t('booking.hold.expires_at', { time: formatTime(new Date(Date.parse(state.hold.expires_at) || state.expiresAt)) });
  banner.classList.toggle('alert-warning', left <= 60 * 1000);
  banner.classList.toggle('alert-info', left > 60 * 1000);
  banner.classList.toggle('hold-warning', left <= 60 * 1000);
}

// expired: the hold is gone (its time ran out, or the API says so): back to
// the time choice with the slots reloaded, the focus on its heading (as on
// every step change) and the reason in #flow-message (role=alert).
function expired(text) {
  releaseHold(); // on the server's clock it may not have lapsed yet
  go('slot', { announceIt: false });
  picker?.clearSelection();
  picker?.refresh();
  renderHeld();
  message(text);
  announce(text);
}

// Leaving the page (closing it, going elsewhere, reloading) gives the hold
// back; a page the browser kept and shows again learns its hold is gone.
let leftWithHold = false;
window.addEventListener('pagehide', () => {
  if (state.hold && !state.booking) {
    leftWithHold = true;
    releaseHold({ leaving: true });
  }
});
window.addEventListener('pageshow', (ev) => {
  if (ev.persisted && leftWithHold) {
    leftWithHold = false;
    expired(t('booking.slot.released'));
  }
});

$('#slot-back').addEventListener('click', () => go('service'));
$('#slot-next').addEventListener('click', () => {
  if (!state.hold) {
    message(t('booking.slot.choose_first'), { focusIt: true });
    return;
  }
  message('');
  go('details');
});

// ---- the waiting room ------------------------------------------------------

// How long an admission whose end the browser cannot place (a clock far off
// the server's) counts here; reserve has the last word anyway.
const ADMISSION_FALLBACK = 5 * 60 * 1000;
const admissions = new Map(); // service id → admitted until (ms, this browser's clock)
// run: bumped to forget the answers and timers of an earlier round.
const queue = { run: 0, answer: null, said: null, updated: null, timer: null, failing: false };

function isAdmitted(serviceId) {
  if (!admissions.has(serviceId)) admissions.set(serviceId, savedTicket(serviceId)?.admitted_until || 0);
  return admissions.get(serviceId) > Date.now();
}

// needsTurn: the time choice waits for the service's turn. A hold already
// taken needs none: it is the citizen's until it lapses.
const needsTurn = () => !!service() && !state.hold && !isAdmitted(state.serviceId);

function stopQueue() {
  queue.run++;
  clearTimeout(queue.timer);
  Object.assign(queue, { answer: null, said: null, updated: null, timer: null, failing: false });
}

// askQueue asks for the service's turn: with the token this browser kept
// (a reload resumes its place), else by joining. It resolves to "admitted"
// (the times are shown), "waiting" (the queue view, asked again after
// poll_after_seconds), "open" (joining failed: the times are shown and
// reserve decides) or "stale" (the citizen went elsewhere meanwhile).
async function askQueue() {
  const serviceId = state.serviceId;
  const run = queue.run;
  clearTimeout(queue.timer);
  const token = savedTicket(serviceId)?.queue_token;
  let answer;
  try {
    answer = token ? await get(`/api/queue/${encodeURIComponent(token)}`) : await post('/api/queue', { service_id: serviceId });
  } catch (err) {
    if (run !== queue.run || serviceId !== state.serviceId) return 'stale';
    const passing = err.status === 0 || err.status === 429 || err.status >= 500;
    if (token && !passing) {
      // Expired or unknown (404): join again.
      forgetTicket(serviceId);
      return askQueue();
    }
    if (token) {
      // Still in the queue as far as we know: try again shortly.
      queue.failing = true;
      if (state.step === 'queue') renderQueue();
      else go('queue', { push: false, announceIt: false });
      queue.timer = setTimeout(askQueue, Math.max(pollDelay(queue.answer || {}), (err.retryAfter || 0) * 1000));
      return 'waiting';
    }
    return letThrough(serviceId);
  }
  if (run !== queue.run || serviceId !== state.serviceId) return 'stale';
  if (answer?.admitted) {
    const until = localDeadline(answer.admitted_until, ADMISSION_FALLBACK);
    admissions.set(serviceId, until);
    keepAdmission(serviceId, until);
    showTimes({ say: true });
    return 'admitted';
  }
  if (!answer?.queue_token) return letThrough(serviceId);
  keepToken(serviceId, answer.queue_token);
  Object.assign(queue, { answer, updated: new Date(), failing: false });
  if (state.step === 'queue') renderQueue();
  else go('queue', { push: false, announceIt: false });
  queue.timer = setTimeout(askQueue, pollDelay(answer));
  return 'waiting';
}

// letThrough: no word from the waiting room (joining failed): the times,
// for a minute, and reserve decides (403 not_admitted brings the citizen
// back here).
function letThrough(serviceId) {
  admissions.set(serviceId, Date.now() + 60 * 1000); // not kept: a reload asks again
  showTimes();
  return 'open';
}

// showTimes: the times, in place of the queue view if it was shown (say:
// announce that the turn came).
function showTimes({ say = false } = {}) {
  turnPending = false;
  if (state.step === 'queue') {
    message('');
    go('slot', { push: false, announceIt: false });
    if (say) announce(t('booking.queue.admitted'));
  } else if (state.step === 'slot') {
    renderSlotStep();
  }
}

// turnLapsed: reserve refused the time for want of a turn. Ask again: let
// in at once, the time is asked for again; else the queue view says why.
async function turnLapsed(slot) {
  admissions.set(state.serviceId, 0);
  forgetTicket(state.serviceId);
  const outcome = await askQueue();
  if (outcome === 'admitted') chooseSlot(slot, { retried: true });
  else if (outcome === 'waiting') message(t('booking.queue.again'));
  else if (outcome === 'open') {
    picker?.clearSelection();
    message(t('errors.code.not_admitted'));
  }
}

function renderQueue() {
  $('#queue-service').textContent = serviceLine();
  const a = queue.answer;
  const position = Number(a?.position) || 0;
  const estimate = waitSeconds(a || {});
  const ahead = Number.isFinite(a?.ahead) ? a.ahead : Math.max(0, position - 1);
  $('#queue-position').textContent = position ? t('booking.queue.position', { position }) : '';
  $('#queue-ahead').textContent = !a ? '–' : ahead ? String(ahead) : t('booking.queue.ahead_none');
  $('#queue-estimate').textContent = estimate === null ? '–' : estimateText(estimate);
  $('#queue-updated').textContent = queue.updated ? t('booking.queue.updated', { time: formatTime(queue.updated) }) : '';
  show($('#queue-retrying'), queue.failing);
  // The live region speaks when the news is worth it, not at every poll.
  const now = { position, estimate };
  if (position && worthSaying(queue.said, now)) {
    queue.said = now;
    announce(t('booking.queue.live', { position, estimate: $('#queue-estimate').textContent }), $('#queue-live'));
  }
}

$('#queue-back').addEventListener('click', () => go('service'));

// ---- details and applicant -------------------------------------------------

$('#details-back').addEventListener('click', () => go('slot'));
$('#form-details').addEventListener('submit', (ev) => {
  ev.preventDefault();
  if (!checkFields($('#form-details'))) return;
  state.details = { reason: $('#reason').value.trim(), details: $('#details').value.trim() };
  go('citizen');
});

$('#citizen-back').addEventListener('click', () => go('details'));
$('#form-citizen').addEventListener('submit', (ev) => {
  ev.preventDefault();
  if (!checkFields($('#form-citizen'))) return;
  state.citizen = {
    given_name: $('#given-name').value.trim(),
    family_name: $('#family-name').value.trim(),
    address: $('#address').value.trim(),
    email: $('#email').value.trim(),
    privacy_consent: $('#privacy-consent').checked,
  };
  go('summary');
});

// ---- summary and confirmation ----------------------------------------------

function renderSummary() {
  const o = office();
  const s = service();
  const c = state.citizen;
  const none = t('booking.summary.none');
  const section = (step, rows) =>
    h(
      'section',
      { class: 'summary-section', id: `summary-${step}`, 'aria-labelledby': `summary-${step}-title` },
      h(
        'div',
        { class: 'summary-section-head' },
        h('h3', { class: 'h5', id: `summary-${step}-title`, text: t(`booking.steps.${step}`) }),
        h(
          'button',
          { type: 'button', class: 'btn btn-link edit-step', id: `edit-${step}`, 'data-step': step, on: { click: () => go(step) } },
          h('span', { 'aria-hidden': 'true', text: t('common.edit') }),
          h('span', { class: 'visually-hidden', text: t(`booking.summary.edit_${step}`) }),
        ),
      ),
      h('dl', {}, rows.map(([label, value]) => [h('dt', { text: t(`booking.summary.${label}`) }), h('dd', { text: value || none })])),
    );
  clear($('#summary')).append(
    section('office', [['office', o?.name]]),
    section('service', [
      ['service', s?.name],
      ['duration', s ? formatDuration(s.duration_minutes) : ''],
    ]),
    section('slot', [
      ['date', state.hold ? formatDate(state.hold.start) : ''],
      ['time', state.hold ? formatTimeRange(state.hold.start, state.hold.end) : ''],
    ]),
    section('details', [
      ['reason', state.details.reason],
      ['details', state.details.details],
    ]),
    section('citizen', [
      ['name', `${c.given_name} ${c.family_name}`.trim()],
      ['address', c.address],
      ['email', c.email],
    ]),
  );
  show($('#summary-error'), false);
}

$('#summary-back').addEventListener('click', () => go('citizen'));
let confirming = false;
$('#confirm-booking').addEventListener('click', async () => {
  if (confirming) return;
  if (!state.hold) {
    expired(t('booking.slot.expired'));
    return;
  }
  confirming = true;
  const button = $('#confirm-booking');
  button.disabled = true;
  button.textContent = t('booking.summary.confirming');
  show($('#summary-error'), false);
  try {
    const booking = await post('/api/bookings', {
      hold_id: state.hold.hold_id,
      hold_secret: state.hold.hold_secret,
      citizen: { ...state.citizen, reason: state.details.reason, details: state.details.details, locale: getLang() },
    });
    state.booking = booking;
    dropHold();
    // Nothing of the flow is kept in this tab beyond this page.
    history.replaceState({ step: 'done' }, '', location.pathname);
    go('done', { push: false });
  } catch (err) {
    if (err.code === 'gone' || err.code === 'not_found') expired(t('booking.slot.expired'));
    else if (err.code === 'conflict') expired(t('booking.slot.taken'));
    else if (err.code === 'invalid') showInvalid(err);
    else showAlert($('#summary-error'), problemText(err), { focus: true });
  } finally {
    confirming = false;
    button.disabled = false;
    button.textContent = t('booking.summary.confirm');
  }
});

function renderDone() {
  const b = state.booking;
  if (!b) return;
  $('#done-when').textContent = t('booking.done.when', { date: formatDate(b.start), start: formatTime(b.start), end: formatTime(b.end) });
  $('#done-service').textContent = t('booking.done.office_service', { service: b.service_name, office: b.office_name });
  $('#done-reference').textContent = b.booking_id;
  $('#done-what-to-bring').textContent = b.what_to_bring || service()?.what_to_bring || t('booking.done.nothing_to_bring');
  $('#done-mail-note').textContent = t('booking.done.mail_note', { email: b.citizen?.email || state.citizen.email });
  // The manage token travels in the fragment: never sent to a server.
  $('#done-manage').setAttribute('href', b.manage_token ? `/prenotazione/gestisci/#${b.manage_token}` : '/prenotazione/gestisci/');
}

// ---- calendar file ----------------------------------------------------------

// icsText escapes a TEXT value (RFC 5545 3.3.11).
const icsText = (s) => String(s).replace(/\\/g, '\\\\').replace(/;/g, '\\;').replace(/,/g, '\\,').replace(/\r?\n/g, '\\n');
const icsTime = (d) => new Date(d).toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');

// fold splits a content line into lines of at most 75 octets.
function fold(line) {
  const bytes = new TextEncoder();
  const out = [];
  let cur = '';
  for (const ch of line) {
    if (bytes.encode(cur + ch).length > (out.length ? 74 : 75)) {
      out.push(cur);
      cur = '';
    }
    cur += ch;
  }
  out.push(cur);
  return out.join('\r\n ');
}

function bookingICS(b, now = new Date()) {
  const lines = [
    'BEGIN:VCALENDAR',
    'VERSION:2.0',
    'PRODID:-//Sportello//Sportello virtuale//IT',
    'CALSCALE:GREGORIAN',
    'METHOD:PUBLISH',
    ...vtimezone(TIME_ZONE, b.start, b.end),
    'BEGIN:VEVENT',
    `UID:${b.booking_id}@sportello`,
    `SEQUENCE:${b.sequence || 0}`,
    `DTSTAMP:${icsTime(now)}`,
    `DTSTART;TZID=${TIME_ZONE}:${localDateTime(b.start)}`,
    `DTEND;TZID=${TIME_ZONE}:${localDateTime(b.end)}`,
    `SUMMARY:${icsText(t('booking.done.calendar_summary', { service: b.service_name }))}`,
    `DESCRIPTION:${icsText([t('booking.done.calendar_description', { office: b.office_name }), b.what_to_bring ? `${t('booking.done.what_to_bring')}: ${b.what_to_bring}` : ''].filter(Boolean).join('\n'))}`,
    `LOCATION:${icsText(t('booking.done.calendar_location'))}`,
    'STATUS:CONFIRMED',
    'END:VEVENT',
    'END:VCALENDAR',
  ];
  return lines.map(fold).join('\r\n') + '\r\n';
}

$('#add-to-calendar').addEventListener('click', () => {
  if (!state.booking) return;
  const blob = new Blob([bookingICS(state.booking)], { type: 'text/calendar;charset=utf-8' });
  const url = URL.createObjectURL(blob);
  const a = h('a', { href: url, download: t('booking.done.calendar_file'), class: 'd-none' });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
});

// ---- history, language, start ----------------------------------------------

window.addEventListener('popstate', (ev) => {
  const step = ev.state?.step;
  if (step && step !== state.step) go(step, { push: false });
});

onLangChange(() => {
  queue.said = null; // the queue's news, said again in the new language
  renderStep(state.step);
  renderSteppers();
  renderHoldBanner();
  renderHeld();
});

async function start() {
  show($('#step-office'), true);
  try {
    const resp = await get('/api/offices');
    state.offices = Array.isArray(resp) ? resp : resp?.offices || [];
  } catch (err) {
    message(problemText(err));
    renderSteppers();
    return;
  }
  const q = new URLSearchParams(location.search);
  const wantOffice = q.get('ufficio') || '';
  const wantService = q.get('servizio') || '';
  let step = 'office';
  let problem = '';
  if (wantService) {
    const o = state.offices.find((x) => (x.services || []).some((s) => s.id === wantService) && (!wantOffice || x.id === wantOffice));
    if (o) {
      state.officeId = o.id;
      state.serviceId = wantService;
      step = 'slot';
    } else {
      problem = t('booking.service.unknown');
    }
  }
  if (!state.officeId && wantOffice) {
    if (state.offices.some((o) => o.id === wantOffice)) {
      state.officeId = wantOffice;
      step = 'service';
    } else {
      problem = t('booking.office.unknown');
    }
  }
  history.replaceState({ step }, '', location.href);
  go(step, { push: false, focusIt: false, announceIt: step !== 'office' });
  if (problem) message(problem);
}

start();
