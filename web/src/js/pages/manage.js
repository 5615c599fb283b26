// The manage page at /prenotazione/gestisci/#TOKEN, opened from the mail's
// link: the booking (office, service, date and time, desk, status, what to
// bring, the citizen's data), reschedule with the slot picker, cancel with a
// confirmation step, the documents (upload with progress, list, download)
// and the link to the video room.
//
// The manage token comes in the fragment: it is moved at once out of the
// address bar (history.replaceState) into sessionStorage
// ("sportello.manage"), so a reload keeps working and the address shown,
// bookmarked or shared no longer carries it. An unknown or tampered token
// (404) says the link is not valid.
//
// Calls: GET /api/manage, POST /api/manage/reschedule {"start"}, POST
// /api/manage/cancel (409 no longer changeable or slot taken, 422 past the
// service's cutoff), the documents API (lib/documents.js).
import { takeToken } from '../lib/token.js';
import { ApiError, get, post } from '../lib/api.js';
import { documentsApi, mountDocuments } from '../lib/documents.js';
import { $, clear, focus, h, show } from '../lib/dom.js';
import { formatDate, formatDateTime, formatTime, formatTimeRange } from '../lib/format.js';
import { showAlert } from '../lib/form.js';
import { onLangChange, t } from '../lib/i18n.js';
import { announce, initPage } from '../lib/layout.js';
import { problemText } from '../lib/problems.js';
import { mountSlotPicker } from '../lib/slots.js';

initPage();

const STORAGE_KEY = 'sportello.manage';
// The room opens JOIN_OPENS_BEFORE (10 minutes) before the start.
const ROOM_OPENS_BEFORE_MS = 10 * 60 * 1000;

let token = '';
let booking = null;
let picker = null;
let chosen = null;
let docs = null;
let busy = false;

// ---- messages ----------------------------------------------------------------

let fatalText = null; // () → the message shown instead of the page

function fatal(text) {
  fatalText = text;
  show($('#manage-loading'), false);
  show($('#manage-content'), false);
  showAlert($('#manage-message'), text(), { focus: true });
}

const notice = (text) => showAlert($('#manage-notice'), text, { focus: true });
const panelError = (id, text) => showAlert($(id), text, { focus: true });

function describe(err, action) {
  return problemText(err, {
    not_found: 'manage.link_invalid',
    unauthorized: 'manage.link_invalid',
    unprocessable: () => t(`manage.${action}.too_late`, { until: booking ? formatDateTime(booking.changeable_until) : '' }),
    conflict: `manage.${action}.conflict`,
    invalid: () => t('manage.reschedule.invalid', { detail: problemText(err) }),
  });
}

// ---- the booking -----------------------------------------------------------------

const changeable = () => booking && booking.status === 'confirmed' && Date.now() < Date.parse(booking.changeable_until);

function row(dl, key, value, id) {
  if (!value) return;
  dl.append(h('dt', { text: t(key) }), h('dd', { id, text: value }));
}

function render() {
  if (!booking) return;
  const b = booking;
  $('#manage-status').textContent = t(`manage.status.${b.status}`);
  $('#manage-status').dataset.status = b.status;

  const dl = clear($('#manage-details'));
  row(dl, 'manage.office', b.office_name, 'manage-office');
  row(dl, 'manage.service', b.service_name, 'manage-service');
  row(dl, 'manage.date', formatDate(b.start), 'manage-date');
  row(dl, 'manage.time', t('manage.time_range', { range: formatTimeRange(b.start, b.end) }), 'manage-time');
  row(dl, 'manage.desk', b.desk, 'manage-desk');
  row(dl, 'manage.reference', b.booking_id, 'manage-reference');

  $('#manage-what-to-bring').textContent = b.what_to_bring || '';
  show($('#manage-what-to-bring-box'), !!b.what_to_bring);

  const c = b.citizen || {};
  const cd = clear($('#manage-citizen-data'));
  row(cd, 'manage.given_name', c.given_name, 'manage-given-name');
  row(cd, 'manage.family_name', c.family_name, 'manage-family-name');
  row(cd, 'manage.address', c.address, 'manage-address');
  row(cd, 'manage.email', c.email, 'manage-email');
  row(cd, 'manage.reason', c.reason, 'manage-reason');
  row(cd, 'manage.details', c.details, 'manage-details-text');
  show($('#manage-citizen'), cd.childElementCount > 0);

  const open = changeable();
  const ch = $('#manage-changeable');
  if (b.status === 'confirmed') ch.textContent = open ? t('manage.changeable_until', { until: formatDateTime(b.changeable_until) }) : t('manage.not_changeable', { until: formatDateTime(b.changeable_until) });
  else if (b.status === 'cancelled') ch.textContent = t('manage.cancelled_note');
  else ch.textContent = '';
  show($('#manage-actions'), open);
  if (!open) {
    show($('#manage-reschedule'), false);
    show($('#manage-cancel'), false);
  }

  const room = $('#manage-room');
  const roomOpen = b.status === 'confirmed';
  show(room, roomOpen);
  if (roomOpen) {
    const opens = new Date(Date.parse(b.start) - ROOM_OPENS_BEFORE_MS);
    $('#manage-room-opens').textContent = t('manage.room.opens', { when: formatDateTime(opens), time: formatTime(opens) });
    $('#manage-room-link').setAttribute('href', `/sala/#${encodeURIComponent(token)}`);
  }
  $('#manage-cancel-text').textContent = t('manage.cancel.text', { when: `${formatDate(b.start)}, ${formatTimeRange(b.start, b.end)}`, service: b.service_name });
  renderChoice();
  docs?.setCanUpload(b.status === 'confirmed' || b.status === 'completed');
}

function renderChoice() {
  const box = $('#reschedule-confirm');
  show(box, !!chosen);
  if (chosen) $('#reschedule-choice').textContent = t('manage.reschedule.choice', { date: formatDate(chosen.start), range: formatTimeRange(chosen.start, chosen.end) });
}

async function load() {
  try {
    booking = await get('/api/manage', { bearer: token });
  } catch (err) {
    fatal(() => describe(err, 'reschedule'));
    return false;
  }
  show($('#manage-loading'), false);
  show($('#manage-content'), true);
  render();
  return true;
}

// ---- reschedule -----------------------------------------------------------------

function openReschedule() {
  show($('#manage-cancel'), false);
  notice('');
  panelError('#reschedule-error', '');
  chosen = null;
  renderChoice();
  show($('#manage-reschedule'), true);
  if (!picker) {
    picker = mountSlotPicker($('#reschedule-picker'), {
      serviceId: booking.service_id,
      id: 'reschedule',
      onSelect(slot) {
        chosen = slot;
        panelError('#reschedule-error', '');
        renderChoice();
        focus($('#reschedule-confirm-title'));
        announce($('#reschedule-choice').textContent);
      },
    });
  } else {
    picker.clearSelection();
    picker.refresh();
  }
  focus($('#manage-reschedule-title'));
  announce(t('manage.reschedule.title'));
}

function closeReschedule() {
  show($('#manage-reschedule'), false);
  chosen = null;
  picker?.clearSelection();
  focus($('#manage-reschedule-open'));
}

async function submitReschedule() {
  if (!chosen || busy) return;
  busy = true;
  const btn = $('#reschedule-submit');
  btn.disabled = true;
  panelError('#reschedule-error', '');
  try {
    booking = await post('/api/manage/reschedule', { start: chosen.start }, { bearer: token });
    chosen = null;
    show($('#manage-reschedule'), false);
    render();
    notice(t('manage.reschedule.done', { date: formatDate(booking.start), range: formatTimeRange(booking.start, booking.end) }));
  } catch (err) {
    panelError('#reschedule-error', describe(err, 'reschedule'));
    if (err instanceof ApiError && err.code === 'conflict') {
      const taken = chosen?.start;
      chosen = null;
      renderChoice();
      picker?.clearSelection();
      picker?.refresh({ taken });
    }
  } finally {
    busy = false;
    btn.disabled = false;
  }
}

// ---- cancel -----------------------------------------------------------------

function openCancel() {
  show($('#manage-reschedule'), false);
  notice('');
  panelError('#cancel-error', '');
  show($('#manage-cancel'), true);
  focus($('#manage-cancel-title'));
  announce(t('manage.cancel.title'));
}

function closeCancel() {
  show($('#manage-cancel'), false);
  focus($('#manage-cancel-open'));
}

async function submitCancel() {
  if (busy) return;
  busy = true;
  const btn = $('#cancel-confirm');
  btn.disabled = true;
  panelError('#cancel-error', '');
  try {
    booking = await post('/api/manage/cancel', undefined, { bearer: token });
    show($('#manage-cancel'), false);
    render();
    notice(t('manage.cancel.done'));
  } catch (err) {
    panelError('#cancel-error', describe(err, 'cancel'));
  } finally {
    busy = false;
    btn.disabled = false;
  }
}

// ---- start -----------------------------------------------------------------

async function start() {
  token = takeToken(STORAGE_KEY);
  if (!token) {
    fatal(() => t('manage.no_token'));
    return;
  }
  if (!(await load())) return;
  docs = mountDocuments($('#manage-documents-panel'), {
    id: 'documents',
    api: documentsApi('/api/documents', { bearer: token }),
    canUpload: booking.status === 'confirmed' || booking.status === 'completed',
  });
}

$('#manage-reschedule-open').addEventListener('click', openReschedule);
$('#reschedule-abort').addEventListener('click', closeReschedule);
$('#reschedule-submit').addEventListener('click', submitReschedule);
$('#manage-cancel-open').addEventListener('click', openCancel);
$('#cancel-back').addEventListener('click', closeCancel);
$('#cancel-confirm').addEventListener('click', submitCancel);
// Escape closes the open panel and gives the focus back to its button.
document.addEventListener('keydown', (e) => {
  if (e.key !== 'Escape') return;
  if (!$('#manage-cancel').hidden) closeCancel();
  else if (!$('#manage-reschedule').hidden) closeReschedule();
});
// Another link opened in the same tab.
window.addEventListener('hashchange', () => {
  if (location.hash.length > 1) location.reload();
});
onLangChange(() => {
  render();
  if (fatalText) $('#manage-message').textContent = fatalText();
});

start();
