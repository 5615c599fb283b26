// chat: what the two sides of a call (the citizen's room page, the
// operator's console) say to each other besides audio and video, over
// LiveKit data messages, and the chat panel both pages show.
//
//   topic "chat"       the payload is the message, UTF-8 text (a text stream
//                      on topic "chat" is read as a message too)
//   topic "documents"  "I uploaded a document: reload your list" (the
//                      payload, "uploaded", is not read)
//
//   sendChat(room, text)       → promise; a reliable data message on "chat"
//   notifyDocuments(room)      → promise; a reliable data message on "documents"
//   listen(room, {onChat(text, participant), onDocuments()})
//                              wires the room's data messages (and text streams
//                              on "chat") to the callbacks; text is trimmed and
//                              an empty message is dropped. participant may be
//                              {identity} alone (a text stream from someone
//                              the room does not know yet) or undefined.
//                              Returns a function that stops listening.
//   mountChat({log, form, input, room})  the panel: #chat-log (role=log),
//                              the form that sends input's text in room()
//                              (the Room, or null outside a call); returns
//                              {say(who, text), note(text), clear()}: a
//                              message from someone else, a line of the
//                              call's own (joined, left), and a fresh log
import { RoomEvent } from 'livekit-client';
import { clear, h } from './dom.js';
import { formatTime } from './format.js';
import { t } from './i18n.js';

const CHAT_TOPIC = 'chat';
const DOCUMENTS_TOPIC = 'documents';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function sendChat(room, text) {
  return room.localParticipant.publishData(encoder.encode(text), { reliable: true, topic: CHAT_TOPIC });
}

export function notifyDocuments(room) {
  return room.localParticipant.publishData(encoder.encode('uploaded'), { reliable: true, topic: DOCUMENTS_TOPIC });
}

export function listen(room, { onChat, onDocuments } = {}) {
  const chat = (text, participant) => {
    const msg = text.trim();
    if (msg) onChat?.(msg, participant);
  };
  const onData = (payload, participant, _kind, topic) => {
    if (topic === DOCUMENTS_TOPIC) onDocuments?.();
    else if (topic === CHAT_TOPIC) chat(decoder.decode(payload), participant);
  };
  room.on(RoomEvent.DataReceived, onData);
  room.registerTextStreamHandler?.(CHAT_TOPIC, async (reader, info) => {
    const text = await reader.readAll();
    chat(text, room.getParticipantByIdentity?.(info.identity) || { identity: info.identity });
  });
  return () => {
    room.off(RoomEvent.DataReceived, onData);
    room.unregisterTextStreamHandler?.(CHAT_TOPIC);
  };
}

export function mountChat({ log, form, input, room }) {
  function add(item) {
    log.append(item);
    log.scrollTop = log.scrollHeight;
  }
  function say(who, text, mine = false) {
    add(
      h(
        'p',
        { class: ['room-chat-item', mine && 'room-chat-mine'] },
        h('span', { class: 'room-chat-sender', text: who }),
        h('span', { class: 'visually-hidden', text: ': ' }),
        h('span', { class: 'room-chat-time', text: ` ${formatTime(new Date())}` }),
        h('span', { class: 'room-chat-text', text }),
      ),
    );
  }
  function note(text) {
    add(h('p', { class: 'room-chat-item room-chat-system' }, h('span', { class: 'room-chat-text', text })));
  }
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const text = input.value.trim();
    const r = room();
    if (!text || !r) return;
    try {
      await sendChat(r, text);
      say(t('chat.me'), text, true);
      input.value = '';
    } catch {
      note(t('chat.send_failed'));
    }
    input.focus();
  });
  return { say, note, clear: () => clear(log) };
}
