// The room page at /sala/#TOKEN: the video meeting of a booking.
//
// The token (a manage token: the mail's room link and the manage page's
// link both carry one) comes in the fragment and is moved at once out of the
// address bar into sessionStorage ("sportello.room").
//
// 1. POST /api/join tells where the appointment's window stands: before it
//    (409 not_yet_open, opens_at) a countdown, and the page asks again when
//    it opens; after it (410 expired) the room is closed; a cancelled
//    booking (409 conflict) and an unknown link (404) are said plainly.
// 2. Before joining: the device check — camera preview, microphone level
//    (WebAudio AnalyserNode), speaker test (a tone made with WebAudio), the
//    device chooser — with guidance when the permission is refused
//    (NotAllowedError) or a device is missing (NotFoundError); and the name
//    the office will see (optional: POST /api/join {"display_name"}).
// 3. The call with livekit-client: local and remote video tiles named after
//    their participants, mute, camera off, leave, the connection quality;
//    a text chat over LiveKit data messages (topic "chat", the UTF-8 text as
//    payload; text streams on topic "chat" are read too: lib/chat.js); the
//    documents panel (the documents API with the same token). After an
//    upload a data message on topic "documents" tells the other side to
//    reload its list.
import { ApiError, post } from '../lib/api.js';
import { mountCall, nameOf } from '../lib/call.js';
import { mountChat, notifyDocuments } from '../lib/chat.js';
import { documentsApi, mountDocuments } from '../lib/documents.js';
import { $, clear, focus, h, show } from '../lib/dom.js';
import { formatCountdown, formatDateTime, formatTime } from '../lib/format.js';
import { clearErrors, showAlert, showProblem } from '../lib/form.js';
import { onLangChange, t } from '../lib/i18n.js';
import { announce, initPage } from '../lib/layout.js';
import { problemText } from '../lib/problems.js';
import { takeToken } from '../lib/token.js';

initPage();

const STORAGE_KEY = 'sportello.room';

let token = '';
let windowInfo = null; // {opens_at, closes_at}
let windowState = 'unknown'; // open | waiting
let probeTimer = null;
let tickTimer = null;
let fatalText = null; // () → the message shown instead of the page

// Device check.
let preview = null; // MediaStream
let audioCtx = null;
let analyser = null;
let meterTimer = null;
let heard = false;
const have = { camera: true, microphone: true }; // what the last check found
let checkErrorKey = null;

// The call.
let docsPanel = null;
let leftKey = null;

// ---- views ----------------------------------------------------------------------

function view(name) {
  show($('#room-loading'), name === 'loading');
  show($('#room-prejoin'), name === 'prejoin');
  show($('#room-call'), name === 'call');
  show($('#room-left'), name === 'left');
  if (name !== 'message') {
    show($('#room-message'), false);
    show($('#room-message-actions'), false);
  }
}

function fatal(text, { retry = false } = {}) {
  fatalText = text;
  view('message');
  showAlert($('#room-message'), text(), { focus: true });
  show($('#room-message-actions'), retry);
}

// ---- the window -------------------------------------------------------------------

function clearTimers() {
  clearTimeout(probeTimer);
  clearInterval(tickTimer);
  probeTimer = tickTimer = null;
}

function renderWindow() {
  const text = $('#room-window-text');
  const box = $('#room-countdown-box');
  if (windowState === 'open') {
    text.textContent = windowInfo?.closes_at ? t('room.wait.open_until', { time: formatTime(windowInfo.closes_at) }) : t('room.wait.open');
    show(box, false);
  } else if (windowState === 'waiting' && windowInfo?.opens_at) {
    const left = Date.parse(windowInfo.opens_at) - Date.now();
    text.textContent = t('room.wait.not_yet', { when: formatDateTime(windowInfo.opens_at) });
    show(box, left < 24 * 3600 * 1000);
    $('#room-countdown').textContent = formatCountdown(left);
  }
  $('#room-window').classList.toggle('alert-success', windowState === 'open');
  $('#room-window').classList.toggle('alert-info', windowState !== 'open');
  $('#join-button').disabled = windowState !== 'open';
  $('#join-button').setAttribute('aria-describedby', 'room-window-text');
}

/** probe asks join where the window stands (a token it mints is not used). */
async function probe({ first = false } = {}) {
  clearTimers();
  try {
    const r = await post('/api/join', {}, { bearer: token });
    windowInfo = r;
    const was = windowState;
    windowState = 'open';
    if (first) view('prejoin');
    renderWindow();
    if (was === 'waiting') announce(t('room.wait.now_open'));
  } catch (err) {
    if (!(err instanceof ApiError)) throw err;
    if (err.code === 'not_yet_open') {
      windowInfo = err.problem;
      windowState = 'waiting';
      if (first) view('prejoin');
      renderWindow();
      const until = Date.parse(windowInfo.opens_at) - Date.now();
      // Ask again when it opens (the server's clock decides), at the
      // latest every hour; the countdown ticks every second.
      const wait = Math.min(Math.max(until + 500, (err.retryAfter || 1) * 1000, 1000), 3600 * 1000);
      probeTimer = setTimeout(() => probe(), wait);
      tickTimer = setInterval(renderWindow, 1000);
      return;
    }
    handleJoinError(err);
  }
}

function handleJoinError(err) {
  stopPreview();
  const final = ['expired', 'conflict', 'not_found', 'unauthorized'].includes(err.code);
  fatal(
    () =>
      problemText(err, {
        expired: () => t('room.expired', { when: err.problem?.closes_at ? formatDateTime(err.problem.closes_at) : '' }),
        conflict: 'room.cancelled',
        not_found: 'room.link_invalid',
        unauthorized: 'room.link_invalid',
        unavailable: 'room.unavailable',
        internal: 'room.unavailable',
        bad_gateway: 'room.unavailable',
      }),
    { retry: !final },
  );
}

// ---- device check -------------------------------------------------------------------

function checkError(key) {
  checkErrorKey = key;
  const box = $('#check-error');
  show(box, !!key);
  if (!key) return;
  $('#check-error-title').textContent = t(`room.check.errors.${key}.title`);
  $('#check-error-text').textContent = t(`room.check.errors.${key}.text`);
  focus(box);
}

async function getMedia(constraints) {
  return navigator.mediaDevices.getUserMedia(constraints);
}

function stopPreview() {
  clearInterval(meterTimer);
  meterTimer = null;
  if (preview) for (const tr of preview.getTracks()) tr.stop();
  preview = null;
  const v = $('#check-preview');
  if (v) v.srcObject = null;
  $('#mic-level').value = 0;
}

async function startCheck() {
  stopPreview();
  checkError('');
  if (!navigator.mediaDevices?.getUserMedia) {
    checkError('unsupported');
    return;
  }
  const cam = $('#device-camera').value;
  const mic = $('#device-microphone').value;
  const video = cam ? { deviceId: { exact: cam } } : true;
  const audio = mic ? { deviceId: { exact: mic } } : true;
  let stream = null;
  have.camera = have.microphone = true;
  try {
    stream = await getMedia({ video, audio });
  } catch (err) {
    const name = err?.name || '';
    if (name === 'NotAllowedError' || name === 'SecurityError') {
      have.camera = have.microphone = false;
      checkError('denied');
    } else if (name === 'NotFoundError' || name === 'OverconstrainedError' || name === 'NotReadableError') {
      // Find which one is missing (or busy).
      try {
        stream = await getMedia({ audio });
        have.camera = false;
      } catch {
        try {
          stream = await getMedia({ video });
          have.microphone = false;
        } catch {
          have.camera = have.microphone = false;
        }
      }
      const busy = name === 'NotReadableError';
      if (!have.camera && !have.microphone) checkError(busy ? 'busy' : 'none');
      else if (!have.camera) checkError(busy ? 'camera_busy' : 'no_camera');
      else checkError(busy ? 'microphone_busy' : 'no_microphone');
    } else {
      have.camera = have.microphone = false;
      checkError('other');
    }
  }
  preview = stream;
  show($('#check-devices'), true);
  $('#check-start').textContent = t('room.check.restart');
  await fillDevices();
  if (stream) {
    const v = $('#check-preview');
    v.srcObject = stream;
    v.play?.().catch(() => {});
    if (stream.getAudioTracks().length) startMeter(stream);
  }
  renderCheck();
  announce(t('room.check.done'));
}

async function fillDevices() {
  let devices = [];
  try {
    devices = await navigator.mediaDevices.enumerateDevices();
  } catch {
    devices = [];
  }
  const fill = (sel, kind, labelKey) => {
    const current = sel.value || (preview && currentDevice(kind)) || '';
    const list = devices.filter((d) => d.kind === kind && d.deviceId);
    clear(sel);
    if (!list.length) sel.append(h('option', { value: '', text: t('room.check.default_device') }));
    list.forEach((d, i) => sel.append(h('option', { value: d.deviceId, text: d.label || t(labelKey, { n: i + 1 }) })));
    if (list.some((d) => d.deviceId === current)) sel.value = current;
    sel.disabled = list.length === 0;
    return list.length;
  };
  fill($('#device-camera'), 'videoinput', 'room.check.camera_n');
  fill($('#device-microphone'), 'audioinput', 'room.check.microphone_n');
  const speakers = fill($('#device-speaker'), 'audiooutput', 'room.check.speaker_n');
  show($('#device-speaker-box'), speakers > 0);
}

function currentDevice(kind) {
  const track = kind === 'videoinput' ? preview.getVideoTracks()[0] : kind === 'audioinput' ? preview.getAudioTracks()[0] : null;
  return track?.getSettings?.().deviceId || '';
}

function ensureAudioContext() {
  if (!audioCtx) {
    const Ctx = window.AudioContext || window.webkitAudioContext;
    audioCtx = new Ctx();
  }
  if (audioCtx.state === 'suspended') audioCtx.resume().catch(() => {});
  return audioCtx;
}

function startMeter(stream) {
  const ctx = ensureAudioContext();
  const source = ctx.createMediaStreamSource(stream);
  analyser = ctx.createAnalyser();
  analyser.fftSize = 1024;
  source.connect(analyser);
  const data = new Float32Array(analyser.fftSize);
  heard = false;
  meterTimer = setInterval(() => {
    analyser.getFloatTimeDomainData(data);
    let sum = 0;
    for (const x of data) sum += x * x;
    const rms = Math.sqrt(sum / data.length);
    const level = Math.min(100, Math.round(rms * 400));
    $('#mic-level').value = level;
    $('#mic-level').setAttribute('aria-valuetext', `${level}%`);
    if (level >= 3 && !heard) {
      heard = true;
      renderCheck();
    }
  }, 100);
}

function renderCheck() {
  const camStatus = $('#check-camera-status');
  if (!$('#check-devices').hidden) {
    camStatus.textContent = have.camera ? t('room.check.camera_ok') : t('room.check.camera_missing');
    $('#mic-status').textContent = !have.microphone ? t('room.check.microphone_missing') : heard ? t('room.check.microphone_ok') : t('room.check.microphone_speak');
    $('#mic-status').dataset.heard = String(heard);
  }
  if (checkErrorKey) {
    $('#check-error-title').textContent = t(`room.check.errors.${checkErrorKey}.title`);
    $('#check-error-text').textContent = t(`room.check.errors.${checkErrorKey}.text`);
  }
}

async function speakerTest() {
  const status = $('#speaker-status');
  try {
    const ctx = ensureAudioContext();
    const sink = $('#device-speaker').value;
    if (sink && typeof ctx.setSinkId === 'function') await ctx.setSinkId(sink).catch(() => {});
    const osc = ctx.createOscillator();
    const gain = ctx.createGain();
    osc.type = 'sine';
    osc.frequency.value = 660;
    const now = ctx.currentTime;
    gain.gain.setValueAtTime(0.0001, now);
    gain.gain.exponentialRampToValueAtTime(0.3, now + 0.05);
    gain.gain.setValueAtTime(0.3, now + 0.9);
    gain.gain.exponentialRampToValueAtTime(0.0001, now + 1.2);
    osc.connect(gain).connect(ctx.destination);
    osc.start(now);
    osc.stop(now + 1.25);
    status.textContent = t('room.check.speaker_playing');
    status.dataset.played = 'true';
    osc.addEventListener('ended', () => {
      status.textContent = t('room.check.speaker_played');
    });
  } catch {
    status.textContent = t('room.check.speaker_failed');
  }
}

// ---- the call -------------------------------------------------------------------

const call = mountCall({
  tiles: $('#call-videos'),
  mic: $('#call-mic'),
  camera: $('#call-camera'),
  leave: $('#call-leave'),
  quality: $('#call-quality'),
  waiting: $('#call-waiting'),
  audioBlocked: $('#call-audio-blocked'),
  startAudio: $('#call-start-audio'),
  error: $('#call-error'),
  onChat: (text, p) => chat.say(nameOf(p), text),
  onDocuments: () => docsPanel?.refresh(),
  onJoined: (p) => chat.note(t('chat.joined', { name: nameOf(p) })),
  onLeft: (p) => chat.note(t('chat.left', { name: nameOf(p) })),
  onEnd: (why) => left(`room.left.${why === 'left' ? 'by_you' : why}`),
});
const chat = mountChat({ log: $('#chat-log'), form: $('#chat-form'), input: $('#chat-input'), room: () => call.room });

function left(key) {
  leftKey = key;
  view('left');
  $('#room-left-title').textContent = t(`${key}_title`);
  $('#room-left-text').textContent = t(key);
  focus($('#room-left-title'));
  announce(t(`${key}_title`));
}

async function join(e) {
  e?.preventDefault();
  const btn = $('#join-button');
  clearErrors($('#join-form'));
  const name = $('#display-name').value.trim();
  btn.disabled = true;
  btn.textContent = t('room.join.joining');
  let answer;
  try {
    answer = await post('/api/join', name ? { display_name: name } : {}, { bearer: token });
  } catch (err) {
    btn.textContent = t('room.join.button');
    if (err.code === 'invalid') {
      btn.disabled = false;
      showProblem(err, { root: $('#join-form'), alert: $('#join-error') });
    } else if (err.code === 'not_yet_open') {
      windowInfo = err.problem;
      probe();
    } else if (err instanceof ApiError) handleJoinError(err);
    else throw err;
    return;
  }
  const devices = { camera: $('#device-camera').value || undefined, microphone: $('#device-microphone').value || undefined, speaker: $('#device-speaker').value || undefined };
  stopPreview();
  clearTimers();
  // The call shows before the connection: the operator, when already in
  // the room, is then attached to a tile that can be seen (LiveKit's
  // adaptive stream pauses the data of a video attached out of sight until
  // it is seen, and the SFU must then resume it with a new key frame).
  view('call');
  focus($('#call-title'));
  announce(t('room.join.joining'));
  chat.clear();
  try {
    await call.connect(answer.url, answer.token, { devices });
  } catch {
    view('prejoin');
    btn.disabled = false;
    btn.textContent = t('room.join.button');
    showAlert($('#join-error'), t('room.join.connect_failed'), { focus: true });
    return;
  }
  btn.disabled = false;
  btn.textContent = t('room.join.button');
  announce(t('room.call.joined'));
  // The devices the check found (all of them when it was not run).
  await call.publish({ microphone: have.microphone, camera: have.camera });
  if (!docsPanel) {
    docsPanel = mountDocuments($('#room-documents-panel'), {
      id: 'room-docs',
      api: documentsApi('/api/documents', { bearer: token }),
      level: 4,
      onUploaded: () => {
        if (call.room) notifyDocuments(call.room).catch(() => {});
      },
    });
  } else docsPanel.refresh();
}

// ---- start -------------------------------------------------------------------

async function start() {
  token = takeToken(STORAGE_KEY);
  if (!token) {
    fatal(() => t('room.no_token'));
    return;
  }
  view('loading');
  await probe({ first: true });
}

$('#check-start').addEventListener('click', startCheck);
$('#check-retry').addEventListener('click', startCheck);
$('#device-camera').addEventListener('change', startCheck);
$('#device-microphone').addEventListener('change', startCheck);
$('#speaker-test').addEventListener('click', speakerTest);
$('#join-form').addEventListener('submit', join);
$('#room-retry').addEventListener('click', () => {
  fatalText = null;
  view('loading');
  probe({ first: true });
});
$('#room-rejoin').addEventListener('click', () => {
  leftKey = null;
  windowState = 'unknown';
  view('loading');
  probe({ first: true }).then(() => focus($('#room-join-title')));
});
window.addEventListener('hashchange', () => {
  if (location.hash.length > 1) location.reload();
});
onLangChange(() => {
  if (fatalText) $('#room-message').textContent = fatalText();
  if (leftKey) {
    $('#room-left-title').textContent = t(`${leftKey}_title`);
    $('#room-left-text').textContent = t(leftKey);
  }
  if (!$('#join-button').disabled || windowState !== 'unknown') renderWindow();
  renderCheck();
  call.render();
  if (!$('#check-devices').hidden) $('#check-start').textContent = t('room.check.restart');
});

start();
