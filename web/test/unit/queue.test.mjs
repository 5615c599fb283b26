// lib/queue.js: the waiting room's estimate as the page words it, when a
// poll's news is worth announcing, how often to poll, and the token a
// reload resumes with.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setLang } from '../../src/js/lib/i18n.js';
import { estimateMinutes, estimateText, forgetTicket, keepAdmission, keepToken, pollDelay, savedTicket, waitSeconds, worthSaying } from '../../src/js/lib/queue.js';

test('the estimate is rounded as a person would say it', () => {
  const cases = [
    [0, 0],
    [59, 0],
    [60, 1],
    [89, 1],
    [90, 2],
    [340, 6],
    [569, 9],
    [600, 10],
    [14 * 60, 15],
    [23 * 60, 25],
    [59 * 60, 60],
    [70 * 60, 75],
    [100 * 60, 105],
    [3 * 3600 + 200, 180],
  ];
  for (const [seconds, minutes] of cases) assert.equal(estimateMinutes(seconds), minutes, `${seconds} s`);
  assert.equal(estimateMinutes(-5), 0);
  assert.equal(estimateMinutes(undefined), 0);
});

test('the estimate in words, in both languages', () => {
  setLang('it');
  assert.equal(estimateText(20), 'meno di un minuto');
  assert.equal(estimateText(60), 'circa 1 minuto');
  assert.equal(estimateText(340), 'circa 6 minuti');
  assert.equal(estimateText(70 * 60), 'circa 1 ora e 15 minuti');
  setLang('en');
  assert.equal(estimateText(20), 'less than a minute');
  assert.equal(estimateText(340), 'about 6 minutes');
  assert.equal(estimateText(2 * 3600), 'about 2 hours');
  setLang('it');
});

test("the wait: the server's estimate, else the people ahead at the admission rate", () => {
  assert.equal(waitSeconds({ estimate_seconds: 340, ahead: 56, rate_per_minute: 10 }), 340);
  assert.equal(waitSeconds({ estimate_seconds: 0, ahead: 0 }), 0);
  assert.equal(waitSeconds({ ahead: 56, rate_per_minute: 10 }), 336);
  assert.equal(waitSeconds({ ahead: 56 }), null);
  assert.equal(waitSeconds({}), null);
});

test('polling follows poll_after_seconds, never faster than every 2 s', () => {
  assert.equal(pollDelay({ poll_after_seconds: 5 }), 5000);
  assert.equal(pollDelay({ poll_after_seconds: 1 }), 2000);
  assert.equal(pollDelay({ poll_after_seconds: 0.2 }), 2000);
  assert.equal(pollDelay({ poll_after_seconds: 0 }), 5000);
  assert.equal(pollDelay({ poll_after_seconds: 3600 }), 60_000);
  assert.equal(pollDelay({}), 5000);
  assert.equal(pollDelay(), 5000);
});

test('the live region speaks on news worth it, not at every poll', () => {
  const at = (position, estimate) => ({ position, estimate });
  assert.equal(worthSaying(null, at(57, 340)), true, 'the first news');
  assert.equal(worthSaying(at(57, 340), at(57, 340)), false, 'nothing new');
  assert.equal(worthSaying(at(57, 340), at(55, 330)), false, '2 of 57, still about 6 minutes');
  assert.equal(worthSaying(at(57, 340), at(52, 330)), false, '5 of 57 is under 10%');
  assert.equal(worthSaying(at(57, 340), at(51, 320)), true, '6 of 57 is over 10%');
  assert.equal(worthSaying(at(57, 340), at(56, 290)), true, 'about 5 minutes now');
  assert.equal(worthSaying(at(500, 3000), at(460, 2760)), true, '40 of 500');
  assert.equal(worthSaying(at(500, 3000), at(460, 2700)), true);
  assert.equal(worthSaying(at(500, 3000), at(480, 2880)), false, '20 of 500, still about 50 minutes');
  // Near the front every step counts.
  assert.equal(worthSaying(at(5, 30), at(4, 24)), true);
  assert.equal(worthSaying(at(1, 5), at(1, 2)), false);
});

/** A stand-in for localStorage. */
function storage() {
  const m = new Map();
  return {
    getItem: (k) => (m.has(k) ? m.get(k) : null),
    setItem: (k, v) => m.set(k, String(v)),
    removeItem: (k) => m.delete(k),
    map: m,
  };
}

test('the queue token is kept per service, and dropped once admitted', () => {
  const s = storage();
  assert.equal(savedTicket('sue', s), null);
  keepToken('sue', 'q1.abc', s);
  keepToken('paesaggio', 'q1.def', s);
  assert.deepEqual(savedTicket('sue', s), { queue_token: 'q1.abc' });
  assert.deepEqual(savedTicket('paesaggio', s), { queue_token: 'q1.def' });
  assert.deepEqual(JSON.parse(s.getItem('sportello.queue.sue')).service_id, 'sue');

  const until = Date.now() + 10 * 60_000;
  keepAdmission('sue', until, s);
  assert.deepEqual(savedTicket('sue', s), { admitted_until: until }, 'admitted: the token is gone, the admission kept');
  keepAdmission('sue', Date.now() - 1, s);
  assert.equal(savedTicket('sue', s), null, 'a lapsed admission is nothing');

  forgetTicket('paesaggio', s);
  assert.equal(savedTicket('paesaggio', s), null);
  assert.equal(s.map.has('sportello.queue.paesaggio'), false);
});

test('a kept entry of another service, a stale one or a broken one is ignored', () => {
  const s = storage();
  s.setItem('sportello.queue.sue', JSON.stringify({ service_id: 'paesaggio', queue_token: 'q1.x', saved_at: Date.now() }));
  assert.equal(savedTicket('sue', s), null);
  s.setItem('sportello.queue.sue', JSON.stringify({ service_id: 'sue', queue_token: 'q1.x', saved_at: Date.now() - 25 * 3600_000 }));
  assert.equal(savedTicket('sue', s), null);
  s.setItem('sportello.queue.sue', '{not json');
  assert.equal(savedTicket('sue', s), null);
  s.setItem('sportello.queue.sue', JSON.stringify({ service_id: 'sue', queue_token: '', saved_at: Date.now() }));
  assert.equal(savedTicket('sue', s), null);
});

test('storage that refuses keeps nothing, and nothing breaks', () => {
  const broken = {
    getItem() {
      throw new Error('SecurityError');
    },
    setItem() {
      throw new Error('QuotaExceededError');
    },
    removeItem() {
      throw new Error('SecurityError');
    },
  };
  keepToken('sue', 'q1.abc', broken);
  assert.equal(savedTicket('sue', broken), null);
  forgetTicket('sue', broken);
});
