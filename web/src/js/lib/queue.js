// queue: the arithmetic and the memory of the virtual waiting room (POST
// /api/queue, GET /api/queue/{queue_token}) the booking page shows before
// the time choice of a crowded service. No DOM here: node's unit tests
// import it; pages/booking.js draws the view.
//
//   estimateMinutes(seconds)  the wait as the page says it, in minutes: 0
//                             under a minute, whole minutes up to 10, then
//                             5 by 5 up to an hour, then 15 by 15
//   estimateText(seconds)     "meno di un minuto" / "circa 6 minuti" /
//                             "circa 1 ora e 15 minuti" (the page's language)
//   waitSeconds(answer)       the answer's estimate_seconds, else
//                             ahead / rate_per_minute, else null
//   pollDelay(answer)         ms until the next GET: poll_after_seconds, never
//                             under 2 s nor over 60 s (5 s when missing)
//   worthSaying(said, now)    whether a new answer {position, estimate} is
//                             worth announcing after the last one said:
//                             the first, a position moved by 10% or more
//                             (any move for the last ten), or another
//                             estimate as the page words it
//   savedTicket(serviceId, storage)        what this browser kept for the
//                             service: {queue_token} (waiting: resume with
//                             it, never join again), {admitted_until} (ms on
//                             this browser's clock: straight to the times),
//                             or null
//   keepToken(serviceId, token, storage)   keeps the queue token
//   keepAdmission(serviceId, until, storage)  keeps the admission's end
//                             (the token is dropped: it has served)
//   forgetTicket(serviceId, storage)       drops both
// storage is localStorage unless given (the tests give a stand-in); a
// browser without storage keeps nothing and simply joins again. Entries
// live under "sportello.queue.<service id>" and carry their service; one
// older than a day is ignored.
import { formatDuration } from './format.js';
import { t } from './i18n.js';

const PREFIX = 'sportello.queue.';
const MAX_AGE = 24 * 3600 * 1000;

export function estimateMinutes(seconds) {
  const m = Math.max(0, Number(seconds) || 0) / 60;
  if (m < 1) return 0;
  if (m < 10) return Math.round(m);
  if (m < 60) return Math.round(m / 5) * 5;
  return Math.round(m / 15) * 15;
}

export function estimateText(seconds) {
  const m = estimateMinutes(seconds);
  return m ? t('booking.queue.estimate_about', { duration: formatDuration(m) }) : t('booking.queue.estimate_soon');
}

export function waitSeconds({ estimate_seconds: est, ahead, rate_per_minute: rate } = {}) {
  if (Number.isFinite(est) && est >= 0) return est;
  if (Number.isFinite(ahead) && rate > 0) return Math.ceil((ahead / rate) * 60);
  return null;
}

export function pollDelay({ poll_after_seconds: s } = {}) {
  const n = Number.isFinite(s) && s > 0 ? s : 5;
  return Math.min(60, Math.max(2, n)) * 1000;
}

export function worthSaying(said, now) {
  if (!said) return true;
  if (estimateMinutes(said.estimate) !== estimateMinutes(now.estimate)) return true;
  const moved = Math.abs(said.position - now.position);
  return moved > 0 && moved >= said.position / 10;
}

const store = (storage) => {
  try {
    return storage ?? globalThis.localStorage ?? null;
  } catch {
    return null; // storage disabled
  }
};

export function savedTicket(serviceId, storage) {
  let entry;
  try {
    entry = JSON.parse(store(storage)?.getItem(PREFIX + serviceId) || 'null');
  } catch {
    return null;
  }
  if (!entry || entry.service_id !== serviceId || !(Date.now() - entry.saved_at < MAX_AGE)) return null;
  if (typeof entry.queue_token === 'string' && entry.queue_token) return { queue_token: entry.queue_token };
  if (entry.admitted_until > Date.now()) return { admitted_until: entry.admitted_until };
  return null;
}

function keep(serviceId, fields, storage) {
  try {
    store(storage)?.setItem(PREFIX + serviceId, JSON.stringify({ service_id: serviceId, ...fields, saved_at: Date.now() }));
  } catch {
    // not kept: a reload joins again
  }
}

export const keepToken = (serviceId, token, storage) => keep(serviceId, { queue_token: token }, storage);
export const keepAdmission = (serviceId, until, storage) => keep(serviceId, { admitted_until: until }, storage);

export function forgetTicket(serviceId, storage) {
  try {
    store(storage)?.removeItem(PREFIX + serviceId);
  } catch {
    // nothing kept
  }
}
