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
import { ConnectionQuality, DisconnectReason, Room, RoomEvent, Track } from 'livekit-client';
import { ApiError, post } from '../lib/api.js';
import { takeToken } from '../lib/token.js';
import { listen, notifyDocuments, sendChat } from '../lib/chat.js';
import { citizenApi, mountDocuments } from '../lib/documents.js';
import { $, clear, focus, h, show } from '../lib/dom.js';
import { formatDateTime, formatTime } from '../lib/format.js';
import { onLangChange, t } from '../lib/i18n.js';
import { announce, initPage } from '../lib/layout.js';

initPage();

const STORAGE_KEY = 'sportello.room';

let token = '';
let windowInfo = null; // {opens_at, closes_at}
let windowState = 'unknown'; // open | waiting
let probeTimer = null;
let tickTimer = null;
let fatalKey = null; // {key, params} of the message shown instead of the page

// Device check.
let preview = null; // MediaStream
let audioCtx = null;
let analyser = null;
let meterTimer = null;
let heard = false;
const have = { camera: true, microphone: true }; // what the last check found
let checkErrorKey = null;

// The call.
let room = null;
let leaving = false;
let docsPanel = null;
let localQuality = ConnectionQuality.Unknown;
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

function fatal(key, params = {}, { retry = false } = {}) {
  fatalKey = { key, params };
  view('message');
  show($('#room-loading'), false);
  show($('#room-prejoin'), false);
  show($('#room-call'), false);
  show($('#room-left'), false);
  const m = $('#room-message');
  m.textContent = t(key, params);
  show(m, true);
  show($('#room-message-actions'), retry);
  focus(m);
}

// ---- the window -------------------------------------------------------------------

function clearTimers() {
  clearTimeout(probeTimer);
  clearInterval(tickTimer);
  probeTimer = tickTimer = null;
}

function countdownText(ms) {
  const s = Math.max(0, Math.ceil(ms / 1000));
  const hh = Math.floor(s / 3600);
  const mm = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, '0');
  return hh ? `${hh}:${String(mm).padStart(2, '0')}:${ss}` : `${mm}:${ss}`;
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
    $('#room-countdown').textContent = countdownText(left);
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
  if (err.code === 'expired') fatal('room.expired', { when: err.problem?.closes_at ? formatDateTime(err.problem.closes_at) : '' });
  else if (err.code === 'conflict') fatal('room.cancelled');
  else if (err.status === 404 || err.status === 401) fatal('room.link_invalid');
  else if (err.code === 'unavailable' || err.status >= 500) fatal('room.unavailable', {}, { retry: true });
  else if (err.status === 0) fatal('common.error_network', {}, { retry: true });
  else fatal('common.error_generic', { detail: err.detail || err.code }, { retry: true });
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

const tileId = (identity) => `tile-${identity.replace(/[^A-Za-z0-9_-]/g, '_')}`;

function roleOf(identity) {
  if (identity.startsWith('operator-')) return t('room.role.operator');
  if (identity.startsWith('citizen-')) return t('room.role.citizen');
  return '';
}

function nameOf(p) {
  if (!p) return t('room.chat.someone');
  return p.name || p.identity;
}

function tile(participant, local = false) {
  const id = local ? 'tile-local' : tileId(participant.identity);
  let el = document.getElementById(id);
  if (el) return el;
  const video = h('video', { class: 'room-video', autoplay: true, playsinline: true, muted: local, 'aria-hidden': 'true', dataset: { kind: 'video' } });
  if (local) video.muted = true;
  el = h(
    'figure',
    { class: ['room-tile', local && 'room-tile-local'], id, dataset: { identity: participant.identity } },
    h('div', { class: 'room-video-box' }, video, h('p', { class: 'room-video-off', dataset: { role: 'off' } })),
    h('figcaption', { class: 'room-tile-caption' }, h('span', { class: 'room-tile-name', dataset: { role: 'name' } }), h('span', { class: 'room-tile-state', dataset: { role: 'state' } })),
  );
  $('#call-videos').append(el);
  renderTile(participant, local);
  return el;
}

function renderTile(participant, local = false) {
  const el = document.getElementById(local ? 'tile-local' : tileId(participant.identity));
  if (!el) return;
  const role = roleOf(participant.identity);
  const name = local ? (participant.name ? t('room.call.you', { name: participant.name }) : t('room.chat.me')) : nameOf(participant);
  el.querySelector('[data-role=name]').textContent = role && !local ? `${name} (${role})` : name;
  const cam = participant.isCameraEnabled;
  const mic = participant.isMicrophoneEnabled;
  const q = local ? localQuality : participant.connectionQuality;
  const parts = [mic ? t('room.call.mic_on') : t('room.call.mic_off')];
  if (!local && q && q !== ConnectionQuality.Unknown) parts.push(t(`room.quality.${q}`));
  el.querySelector('[data-role=state]').textContent = parts.join(' · ');
  el.querySelector('[data-role=off]').textContent = cam ? '' : t('room.call.camera_is_off');
  el.classList.toggle('room-tile-camera-off', !cam);
  el.dataset.mic = String(mic);
  el.dataset.camera = String(cam);
}

function renderCall() {
  if (!room) return;
  const lp = room.localParticipant;
  const mic = $('#call-mic');
  const cam = $('#call-camera');
  mic.textContent = t('room.call.mute');
  mic.setAttribute('aria-pressed', String(!lp.isMicrophoneEnabled));
  mic.classList.toggle('active', !lp.isMicrophoneEnabled);
  cam.textContent = t('room.call.camera_off');
  cam.setAttribute('aria-pressed', String(!lp.isCameraEnabled));
  cam.classList.toggle('active', !lp.isCameraEnabled);
  const q = $('#call-quality');
  q.textContent = t(`room.quality.${localQuality || 'unknown'}`);
  q.dataset.quality = localQuality || 'unknown';
  renderTile(lp, true);
  for (const p of room.remoteParticipants.values()) renderTile(p);
  show($('#call-waiting'), room.remoteParticipants.size === 0);
  show($('#call-audio-blocked'), !room.canPlaybackAudio);
}

function addChat({ who, text, mine = false, system = false }) {
  const log = $('#chat-log');
  const time = formatTime(new Date());
  const li = system
    ? h('p', { class: 'room-chat-item room-chat-system' }, h('span', { class: 'room-chat-text', text }))
    : h(
        'p',
        { class: ['room-chat-item', mine && 'room-chat-mine'] },
        h('span', { class: 'room-chat-sender', text: `${who}` }),
        h('span', { class: 'visually-hidden', text: ': ' }),
        h('span', { class: 'room-chat-time', text: ` ${time}` }),
        h('span', { class: 'room-chat-text', text }),
      );
  log.append(li);
  log.scrollTop = log.scrollHeight;
}

function receivedText(text, participant) {
  let msg = text;
  try {
    const v = JSON.parse(text);
    if (v && typeof v === 'object') msg = String(v.text ?? v.message ?? text);
  } catch {
    // plain text
  }
  msg = msg.trim();
  if (!msg) return;
  addChat({ who: nameOf(participant), text: msg });
}

function wire(r) {
  r.on(RoomEvent.ParticipantConnected, (p) => {
    tile(p);
    renderCall();
    addChat({ system: true, text: t('room.chat.joined', { name: nameOf(p) }) });
  })
    .on(RoomEvent.ParticipantDisconnected, (p) => {
      document.getElementById(tileId(p.identity))?.remove();
      renderCall();
      addChat({ system: true, text: t('room.chat.left', { name: nameOf(p) }) });
    })
    .on(RoomEvent.TrackSubscribed, (track, pub, p) => {
      const el = tile(p);
      if (track.kind === Track.Kind.Video) track.attach(el.querySelector('video'));
      else if (track.kind === Track.Kind.Audio) {
        const a = track.attach();
        a.classList.add('visually-hidden');
        a.dataset.kind = 'audio';
        el.append(a);
      }
      renderCall();
    })
    .on(RoomEvent.TrackUnsubscribed, (track) => {
      track.detach().forEach((e) => {
        if (e.tagName === 'AUDIO') e.remove();
      });
      renderCall();
    })
    .on(RoomEvent.LocalTrackPublished, (pub) => {
      if (pub.track?.kind === Track.Kind.Video) pub.track.attach(tile(r.localParticipant, true).querySelector('video'));
      renderCall();
    })
    .on(RoomEvent.LocalTrackUnpublished, (pub) => {
      pub.track?.detach();
      renderCall();
    })
    .on(RoomEvent.TrackMuted, renderCall)
    .on(RoomEvent.TrackUnmuted, renderCall)
    .on(RoomEvent.ParticipantNameChanged, renderCall)
    .on(RoomEvent.AudioPlaybackStatusChanged, renderCall)
    .on(RoomEvent.ConnectionQualityChanged, (quality, p) => {
      if (p === r.localParticipant || p.identity === r.localParticipant.identity) localQuality = quality;
      renderCall();
    })
    .on(RoomEvent.Reconnecting, () => {
      localQuality = ConnectionQuality.Lost;
      renderCall();
      announce(t('room.call.reconnecting'));
    })
    .on(RoomEvent.Reconnected, () => {
      announce(t('room.call.reconnected'));
      renderCall();
    })
    .on(RoomEvent.Disconnected, (reason) => {
      if (r !== room) return;
      room = null;
      clear($('#call-videos')).append(h('h3', { id: 'call-videos-title', class: 'visually-hidden', 'data-i18n': 'room.call.videos_title', text: t('room.call.videos_title') }));
      if (leaving) left('room.left.by_you');
      else if (reason === DisconnectReason.DUPLICATE_IDENTITY) left('room.left.duplicate');
      else if (reason === DisconnectReason.ROOM_DELETED) left('room.left.closed');
      else left('room.left.lost');
    });
  listen(r, { onChat: receivedText, onDocuments: () => docsPanel?.refresh() });
}

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
  const err = $('#join-error');
  const nameInput = $('#display-name');
  show(err, false);
  nameInput.classList.remove('is-invalid');
  nameInput.removeAttribute('aria-invalid');
  $('#display-name-error').textContent = '';
  const name = nameInput.value.trim();
  btn.disabled = true;
  btn.textContent = t('room.join.joining');
  let answer;
  try {
    answer = await post('/api/join', name ? { display_name: name } : {}, { bearer: token });
  } catch (ex) {
    btn.textContent = t('room.join.button');
    if (ex instanceof ApiError && ex.code === 'invalid') {
      btn.disabled = false;
      nameInput.classList.add('is-invalid');
      nameInput.setAttribute('aria-invalid', 'true');
      $('#display-name-error').textContent = t('room.join.name_invalid');
      focus(nameInput);
      return;
    }
    if (ex instanceof ApiError && ex.code === 'not_yet_open') {
      windowInfo = ex.problem;
      probe();
      return;
    }
    if (ex instanceof ApiError) handleJoinError(ex);
    else throw ex;
    return;
  }
  const cam = $('#device-camera').value || undefined;
  const mic = $('#device-microphone').value || undefined;
  const spk = $('#device-speaker').value || undefined;
  stopPreview();
  clearTimers();
  const r = new Room({
    adaptiveStream: true,
    dynacast: true,
    videoCaptureDefaults: { deviceId: cam },
    audioCaptureDefaults: { deviceId: mic },
    audioOutput: spk ? { deviceId: spk } : undefined,
  });
  room = r;
  leaving = false;
  localQuality = ConnectionQuality.Unknown;
  wire(r);
  try {
    await r.connect(answer.url, answer.token);
  } catch (ex) {
    room = null;
    btn.disabled = false;
    btn.textContent = t('room.join.button');
    err.textContent = t('room.join.connect_failed', { detail: String(ex?.message || ex) });
    show(err, true);
    focus(err);
    return;
  }
  btn.disabled = false;
  btn.textContent = t('room.join.button');
  view('call');
  clear($('#chat-log'));
  tile(r.localParticipant, true);
  for (const p of r.remoteParticipants.values()) tile(p);
  renderCall();
  focus($('#call-title'));
  announce(t('room.call.joined'));
  // The devices the check found (all of them when it was not run).
  try {
    if (have.microphone) await r.localParticipant.setMicrophoneEnabled(true);
  } catch {
    showCallError('room.call.mic_failed');
  }
  try {
    if (have.camera) await r.localParticipant.setCameraEnabled(true);
  } catch {
    showCallError('room.call.camera_failed');
  }
  renderCall();
  if (!docsPanel) {
    docsPanel = mountDocuments($('#room-documents-panel'), {
      id: 'room-docs',
      api: citizenApi(token),
      onUploaded: () => {
        if (room) notifyDocuments(room).catch(() => {});
      },
    });
  } else docsPanel.refresh();
}

let callErrorKey = null;
function showCallError(key) {
  callErrorKey = key;
  const el = $('#call-error');
  el.textContent = key ? t(key) : '';
  show(el, !!key);
}

async function toggleMic() {
  if (!room) return;
  const lp = room.localParticipant;
  try {
    await lp.setMicrophoneEnabled(!lp.isMicrophoneEnabled);
    showCallError(null);
  } catch {
    showCallError('room.call.mic_failed');
  }
  renderCall();
  announce(lp.isMicrophoneEnabled ? t('room.call.mic_on') : t('room.call.mic_off'));
}

async function toggleCamera() {
  if (!room) return;
  const lp = room.localParticipant;
  try {
    await lp.setCameraEnabled(!lp.isCameraEnabled);
    showCallError(null);
  } catch {
    showCallError('room.call.camera_failed');
  }
  renderCall();
  announce(lp.isCameraEnabled ? t('room.call.camera_on_now') : t('room.call.camera_is_off'));
}

async function leave() {
  if (!room) return;
  leaving = true;
  await room.disconnect();
}

async function submitChat(e) {
  e.preventDefault();
  const input = $('#chat-input');
  const text = input.value.trim();
  if (!text || !room) return;
  try {
    await sendChat(room, text);
    addChat({ who: t('room.chat.me'), text, mine: true });
    input.value = '';
  } catch {
    addChat({ system: true, text: t('room.chat.send_failed') });
  }
  input.focus();
}

// ---- start -------------------------------------------------------------------

async function start() {
  token = takeToken(STORAGE_KEY);
  if (!token) {
    fatal('room.no_token');
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
$('#call-mic').addEventListener('click', toggleMic);
$('#call-camera').addEventListener('click', toggleCamera);
$('#call-leave').addEventListener('click', leave);
$('#call-start-audio').addEventListener('click', async () => {
  await room?.startAudio();
  renderCall();
});
$('#chat-form').addEventListener('submit', submitChat);
$('#room-retry').addEventListener('click', () => {
  fatalKey = null;
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
window.addEventListener('pagehide', () => {
  room?.disconnect();
});
onLangChange(() => {
  if (fatalKey) $('#room-message').textContent = t(fatalKey.key, fatalKey.params);
  if (leftKey) {
    $('#room-left-title').textContent = t(`${leftKey}_title`);
    $('#room-left-text').textContent = t(leftKey);
  }
  if (!$('#join-button').disabled || windowState !== 'unknown') renderWindow();
  renderCheck();
  renderCall();
  if (callErrorKey) showCallError(callErrorKey);
  if (!$('#check-devices').hidden) $('#check-start').textContent = t('room.check.restart');
});

start();
