// call: the video call of a booking, the same for both sides — the
// citizen's room page (pages/room.js) and the operators' console
// (pages/operator.js) — on livekit-client: a tile per participant (video,
// name and role, microphone and camera state, connection quality), mute,
// camera off, leave, the own connection quality, the audio the browser
// blocked, and the chat and "documents changed" messages (lib/chat.js).
//
//   const call = mountCall({tiles, remoteTiles, mic, camera, leave, quality,
//                           waiting, audioBlocked, startAudio, error,
//                           onChat, onDocuments, onJoined, onLeft, onEnd})
//     tiles         where the own tile goes, and the others' unless
//     remoteTiles   is given (figure#tile-local, figure#tile-<identity>
//                   with data-identity, data-mic, data-camera)
//     mic, camera   toggle buttons (aria-pressed="true": muted / camera off;
//                   their labels are the page's, data-i18n): they show what
//                   LiveKit did, read back after each change
//     leave         the leave button
//     quality       shows the own connection quality (data-quality)
//     waiting       shown while nobody else is in the call
//     audioBlocked  shown while the browser blocks the audio; startAudio
//                   is its button
//     error         where a device problem is said (role=alert)
//     onChat(text, participant), onDocuments()   the data messages
//     onJoined(participant), onLeft(participant)  someone else came or went
//     onEnd(why)    the call is over: "left" (leave()), "duplicate" (the same
//                   link joined elsewhere), "closed" (the room was deleted),
//                   "lost"
//   await call.connect(url, token, {devices})  joins (throws when the
//                   connection fails); devices: {camera, microphone,
//                   speaker} ids to use
//   await call.publish({microphone, camera})  turns them on (unless false);
//                   one that fails is said in error
//   call.room       the livekit Room while connected, else null
//   call.leave()    leaves (onEnd("left"))
//   call.render()   says everything again (after a language switch)
import { ConnectionQuality, DisconnectReason, Room, RoomEvent, Track } from 'livekit-client';
import { listen } from './chat.js';
import { $$, h, show } from './dom.js';
import { t } from './i18n.js';
import { announce } from './layout.js';

const tileId = (identity) => `tile-${identity.replace(/[^A-Za-z0-9_-]/g, '_')}`;

/** nameOf is how a participant is called: the name it joined with, else its identity. */
export function nameOf(p) {
  return p ? p.name || p.identity : t('chat.someone');
}

function roleOf(identity) {
  if (identity.startsWith('operator-')) return t('call.role.operator');
  if (identity.startsWith('citizen-')) return t('call.role.citizen');
  return '';
}

export function mountCall(ui) {
  const { tiles, remoteTiles = tiles } = ui;
  let room = null;
  let connecting = false; // the call shows, the connection is not made yet
  let leaving = false;
  let busy = false;
  let quality = ConnectionQuality.Unknown;
  let errorKey = null;

  function tile(p, local = false) {
    const id = local ? 'tile-local' : tileId(p.identity);
    let el = document.getElementById(id);
    if (el) return el;
    const video = h('video', { class: 'call-video', autoplay: true, playsinline: true, muted: local, 'aria-hidden': 'true' });
    if (local) video.muted = true;
    el = h(
      'figure',
      { class: ['call-tile', local && 'call-tile-local'], id, dataset: { identity: p.identity } },
      h('div', { class: 'call-video-box' }, video, h('p', { class: 'call-video-off', dataset: { role: 'off' } })),
      h('figcaption', { class: 'call-tile-caption' }, h('span', { class: 'call-tile-name', dataset: { role: 'name' } }), h('span', { class: 'call-tile-state', dataset: { role: 'state' } })),
    );
    (local ? tiles : remoteTiles).append(el);
    return el;
  }

  function renderTile(p, local = false) {
    const el = tile(p, local);
    const role = local ? '' : roleOf(p.identity);
    const name = local ? (p.name ? t('call.you', { name: p.name }) : t('chat.me')) : nameOf(p);
    el.querySelector('[data-role=name]').textContent = role ? `${name} (${role})` : name;
    const cam = p.isCameraEnabled;
    const mic = p.isMicrophoneEnabled;
    const q = p.connectionQuality;
    const parts = [t(mic ? 'call.mic_on' : 'call.mic_off')];
    if (!local && q && q !== ConnectionQuality.Unknown) parts.push(t(`call.quality.${q}`));
    el.querySelector('[data-role=state]').textContent = parts.join(' · ');
    el.querySelector('[data-role=off]').textContent = cam ? '' : t('call.camera_is_off');
    el.classList.toggle('call-tile-camera-off', !cam);
    el.dataset.mic = String(mic);
    el.dataset.camera = String(cam);
  }

  function showError(key) {
    errorKey = key;
    if (!ui.error) return;
    ui.error.textContent = key ? t(key) : '';
    show(ui.error, !!key);
  }

  function render() {
    showError(errorKey);
    if (!room) return;
    const lp = room.localParticipant;
    for (const [btn, off] of [
      [ui.mic, !lp.isMicrophoneEnabled],
      [ui.camera, !lp.isCameraEnabled],
    ]) {
      btn.setAttribute('aria-pressed', String(off));
      btn.classList.toggle('active', off);
    }
    if (ui.quality) {
      ui.quality.textContent = t(`call.quality.${quality || 'unknown'}`);
      ui.quality.dataset.quality = quality || 'unknown';
    }
    renderTile(lp, true);
    for (const p of room.remoteParticipants.values()) renderTile(p);
    if (ui.waiting) show(ui.waiting, room.remoteParticipants.size === 0);
    if (ui.audioBlocked) show(ui.audioBlocked, !room.canPlaybackAudio);
  }

  function wire(r) {
    r.on(RoomEvent.ParticipantConnected, (p) => {
      render();
      ui.onJoined?.(p);
    })
      .on(RoomEvent.ParticipantDisconnected, (p) => {
        document.getElementById(tileId(p.identity))?.remove();
        render();
        ui.onLeft?.(p);
      })
      .on(RoomEvent.TrackSubscribed, (track, _pub, p) => {
        const el = tile(p);
        if (track.kind === Track.Kind.Video) track.attach(el.querySelector('video'));
        else if (track.kind === Track.Kind.Audio) el.append(Object.assign(track.attach(), { className: 'visually-hidden' }));
        render();
      })
      .on(RoomEvent.TrackUnsubscribed, (track) => {
        for (const e of track.detach()) if (e.tagName === 'AUDIO') e.remove();
        render();
      })
      .on(RoomEvent.LocalTrackPublished, (pub) => {
        if (pub.track?.kind === Track.Kind.Video) pub.track.attach(tile(r.localParticipant, true).querySelector('video'));
        render();
      })
      .on(RoomEvent.LocalTrackUnpublished, (pub) => {
        pub.track?.detach();
        render();
      })
      .on(RoomEvent.TrackMuted, render)
      .on(RoomEvent.TrackUnmuted, render)
      .on(RoomEvent.ParticipantNameChanged, render)
      .on(RoomEvent.AudioPlaybackStatusChanged, render)
      .on(RoomEvent.ConnectionQualityChanged, (q, p) => {
        if (p.identity === r.localParticipant.identity) quality = q;
        render();
      })
      .on(RoomEvent.Reconnecting, () => {
        quality = ConnectionQuality.Lost;
        render();
        announce(t('call.reconnecting'));
      })
      .on(RoomEvent.Reconnected, () => {
        announce(t('call.reconnected'));
        render();
      })
      .on(RoomEvent.Disconnected, (reason) => {
        if (r !== room) return;
        room = null;
        for (const el of $$('.call-tile', tiles).concat($$('.call-tile', remoteTiles))) el.remove();
        if (ui.waiting) show(ui.waiting, true);
        let why = 'lost';
        if (leaving) why = 'left';
        else if (reason === DisconnectReason.DUPLICATE_IDENTITY) why = 'duplicate';
        else if (reason === DisconnectReason.ROOM_DELETED) why = 'closed';
        ui.onEnd?.(why);
      });
    listen(r, { onChat: ui.onChat, onDocuments: ui.onDocuments });
  }

  // toggle turns the microphone or the camera on or off, then shows what
  // LiveKit actually did: a device that failed stays as it was, and the
  // user is told.
  async function toggle(kind) {
    if (!room || busy || connecting) return;
    busy = true;
    const lp = room.localParticipant;
    const mic = kind === 'mic';
    const wasOn = mic ? lp.isMicrophoneEnabled : lp.isCameraEnabled;
    try {
      await (mic ? lp.setMicrophoneEnabled(!wasOn) : lp.setCameraEnabled(!wasOn));
    } catch {
      // told below: the state did not change
    } finally {
      busy = false;
    }
    const on = mic ? lp.isMicrophoneEnabled : lp.isCameraEnabled;
    showError(on === wasOn ? `call.${mic ? 'mic' : 'camera'}_failed` : null);
    render();
    if (on !== wasOn) announce(t(mic ? (on ? 'call.mic_on' : 'call.mic_off') : on ? 'call.camera_on_now' : 'call.camera_is_off'));
  }

  async function connect(url, token, { devices = {} } = {}) {
    const r = new Room({
      adaptiveStream: true,
      dynacast: true,
      videoCaptureDefaults: { deviceId: devices.camera },
      audioCaptureDefaults: { deviceId: devices.microphone },
      audioOutput: devices.speaker ? { deviceId: devices.speaker } : undefined,
    });
    room = r;
    leaving = false;
    quality = ConnectionQuality.Unknown;
    showError(null);
    wire(r);
    // Until the connection is made the controls do nothing: a leave or a
    // mute then would race the connection's own outcome.
    setConnecting(true);
    try {
      await r.connect(url, token);
    } catch (err) {
      room = null;
      throw err;
    } finally {
      setConnecting(false);
    }
    render();
  }

  function setConnecting(on) {
    connecting = on;
    for (const b of [ui.mic, ui.camera, ui.leave]) b.disabled = on;
  }

  async function publish({ microphone = true, camera = true } = {}) {
    const lp = room?.localParticipant;
    for (const [want, on, key] of [
      [microphone, () => lp.setMicrophoneEnabled(true), 'call.mic_failed'],
      [camera, () => lp.setCameraEnabled(true), 'call.camera_failed'],
    ]) {
      if (!want || !lp) continue;
      try {
        await on();
      } catch {
        showError(key);
      }
    }
    render();
  }

  async function leave() {
    if (!room || connecting) return;
    leaving = true;
    await room.disconnect();
  }

  ui.mic.addEventListener('click', () => toggle('mic'));
  ui.camera.addEventListener('click', () => toggle('camera'));
  ui.leave.addEventListener('click', leave);
  ui.startAudio?.addEventListener('click', async () => {
    await room?.startAudio();
    render();
  });
  window.addEventListener('pagehide', () => room?.disconnect());

  return {
    connect,
    publish,
    leave,
    render,
    get room() {
      return connecting ? null : room;
    },
  };
}
