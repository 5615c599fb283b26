// The virtual waiting room of the booking flow (/prenota/) in the browser,
// on a service of its own (one desk, made by the demo administrator over
// the admin API, deactivated at the end) whose room admits 20 citizens a
// minute — one every 3 s:
//
//  - a crowd: five browsers (contexts: five clients) open the service's
//    times at once. The first goes straight to the times; the others get
//    the queue view instead of the slot picker: their positions 1 to 4,
//    the people ahead, the estimate in words, an aria-live region, the
//    heading focused, the stepper on "Data e orario" (axe, a screenshot,
//    in Italian and in English), the way back reachable by keyboard. A
//    reload resumes the same place (GET /api/queue/{the kept token}, no new
//    join). As time passes they get in in the order they came — nobody is
//    told to wait after someone behind them got in — each ending on the
//    slot picker with its heading focused and "È il tuo turno" announced,
//    and the admission lets a time be held.
//  - a lapsed admission: a browser that got in loses its admission (its
//    cookie is cleared) while someone else waits; its hold is refused (403
//    not_admitted) and the page takes it back to the queue with a message,
//    then to the times once its turn comes again, and the time is held.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  DEMO_ADMIN,
  api,
  assertClean,
  checkPage,
  failed,
  firstFreeDay,
  focused,
  launch,
  newContext,
  newPage,
  oneDeskService,
  onStep,
  operatorSession,
  personal,
  setLanguage,
  shot,
} from './lib.mjs';

const RATE = 20; // a minute: one every 3 s
const CROWD = 5;

let browser;
let admin;
let own;

before(async () => {
  browser = await launch();
  admin = await operatorSession(DEMO_ADMIN);
  own = await oneDeskService(admin, 'queue');
  await setRate(own.id, RATE);
});

after(async () => {
  await own?.close();
  await browser?.close();
});

/** setRate turns the service's waiting room on at perMinute, as the administration does. */
async function setRate(serviceId, perMinute) {
  const r = await admin('PATCH', `/admin/services/${serviceId}`, { admission_per_minute: perMinute });
  assert.equal(r.status, 200, `PATCH admission_per_minute: ${r.text}`);
  assert.equal(r.json?.service?.admission_per_minute, perMinute, `PATCH admission_per_minute answered ${r.text}`);
}

/**
 * citizenPage opens a watched page in a fresh context and records every
 * answer the waiting room gives it, read on the way in (a route) before the
 * page sees it: page.queue is a list of {at (ms), method, status, token (the
 * GET's), admitted, position, queueToken}. A poll answered as the page
 * reloads may never reach it, yet the page may have kept its token: the
 * route reads it all the same, where a response event could no longer read
 * the body. Its tokens are registered as secrets.
 */
async function citizenPage() {
  const context = await newContext(browser);
  const page = await newPage(context);
  page.queue = [];
  await page.route((url) => url.pathname.startsWith('/api/queue'), async (route) => {
    const method = route.request().method();
    const token = method === 'GET' ? decodeURIComponent(new URL(route.request().url()).pathname.split('/').pop()) : '';
    personal(token);
    try {
      const res = await route.fetch();
      const json = await res.json().catch(() => undefined);
      personal(json?.queue_token);
      page.queue.push({ at: Date.now(), method, token, status: res.status(), admitted: json?.admitted, position: json?.position, queueToken: json?.queue_token });
      await route.fulfill({ response: res });
    } catch {
      // the page went away (a reload, the end of the test) while it was
      // asked, or the answer never came: the page gets a failed request
      // (which watch reports), not one left hanging
      await route.abort().catch(() => {});
    }
  });
  return page;
}

/** waitAnswer waits for the page's first waiting-room answer. */
async function waitAnswer(page, timeout = 15_000) {
  const deadline = Date.now() + timeout;
  while (answers(page).length === 0) {
    assert.ok(Date.now() < deadline, 'no answer from the waiting room');
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** answers are a page's waiting-room answers, in the order they came. */
const answers = (page) => [...page.queue].sort((a, b) => a.at - b.at);

/** admittedAt is when a page was first told it is admitted (ms), or Infinity. */
const admittedAt = (page) => answers(page).find((a) => a.admitted)?.at ?? Infinity;

/** saved is what the page keeps for the service in localStorage. */
const saved = (page) => page.evaluate((id) => JSON.parse(localStorage.getItem(`sportello.queue.${id}`) || 'null'), own.id);

/** onTimes waits for the slot picker, after the queue view, with the turn announced. */
async function onTimes(page, { timeout = 25_000 } = {}) {
  await page.locator('#slots-calendar').waitFor({ timeout });
  await onStep(page, 'slot');
  await page
    .waitForFunction(() => /È il tuo turno/.test(document.querySelector('#announcer')?.textContent ?? ''), undefined, { timeout: 5_000 })
    .catch(async () => assert.fail(`#announcer says ${JSON.stringify(await page.textContent('#announcer'))}, not that the turn came`));
}

/** holdFirst holds the first free time; returns the status of the page's POST /api/holds. */
async function holdFirst(page) {
  await firstFreeDay(page);
  const [res] = await Promise.all([
    page.waitForResponse((r) => r.request().method() === 'POST' && new URL(r.url()).pathname === '/api/holds'),
    page.locator('#slots-times .slot-time:enabled').first().click(),
  ]);
  personal((await res.json().catch(() => ({}))).hold_secret);
  return res.status();
}

/** inQueue checks the queue view shows position (the number) and its live region says it. */
async function inQueue(page, { lang = 'it' } = {}) {
  const want = lang === 'it' ? /^Sei il numero (\d+) in coda$/ : /^You are number (\d+) in the queue$/;
  await page.locator('#step-queue').waitFor({ state: 'visible' });
  await page.waitForFunction(() => document.querySelector('#queue-position')?.textContent !== '');
  // Both figures in one read: a poll answered between two reads moves them
  // on together (CI once read number 4, then 2 ahead of number 3).
  const { text, ahead } = await page.evaluate(() => ({
    text: document.querySelector('#queue-position').textContent.trim(),
    ahead: document.querySelector('#queue-ahead').textContent.trim(),
  }));
  const m = text.match(want);
  assert.ok(m, `#queue-position says ${JSON.stringify(text)}`);
  const position = Number(m[1]);
  assert.ok(ahead === String(position - 1) || (position === 1 && /nessuna|nobody/.test(ahead)), `${ahead} people ahead of number ${position}`);
  assert.match(await page.textContent('#queue-estimate'), lang === 'it' ? /^(circa \d+ minut[oi]|meno di un minuto)$/ : /^(about \d+ minutes?|less than a minute)$/);
  const live = page.locator('#queue-live');
  assert.equal(await live.getAttribute('aria-live'), 'polite');
  await page
    .waitForFunction((re) => new RegExp(re).test(document.querySelector('#queue-live')?.textContent ?? ''), lang === 'it' ? 'Sei il numero \\d+ in coda' : 'You are number \\d+ in the queue', { timeout: 5_000 })
    .catch(async () => assert.fail(`the live region says ${JSON.stringify(await live.textContent())}`));
  assert.equal(await page.getAttribute('#steps-slot', 'aria-current'), 'step', 'the stepper is not on the time choice');
  assert.equal(await page.locator('#slot-picker .slot-picker').count(), 0, 'a slot picker while waiting');
  return position;
}

test('a crowd waits its turn, in order, and keeps its place on reloading', async () => {
  const pages = await Promise.all(Array.from({ length: CROWD }, citizenPage));
  const watched = pages.at(-1);
  try {
    await Promise.all(pages.map((p) => p.goto(`/prenota/?servizio=${own.id}`)));
    await Promise.all(pages.map((p) => waitAnswer(p)));

    // One went straight in; the others queue behind it, 1 to 4.
    const first = pages.map((p) => answers(p)[0]);
    for (const a of first) assert.equal(a.status, 200, `POST /api/queue: ${a.status}`);
    assert.equal(first.filter((a) => a.admitted).length, 1, `admitted at once: ${JSON.stringify(first)}`);
    const waiting = pages.filter((p) => !answers(p)[0].admitted).sort((a, b) => answers(a)[0].position - answers(b)[0].position);
    assert.deepEqual(waiting.map((p) => answers(p)[0].position), [1, 2, 3, 4], `positions: ${JSON.stringify(first)}`);
    const inFirst = pages.find((p) => answers(p)[0].admitted);
    await inFirst.locator('#slots-calendar').waitFor();
    assert.equal(await inFirst.locator('#step-queue').isVisible(), false, 'the queue view shown to a citizen let in');

    // The queue view, on the last of them: focused heading, figures, axe.
    const last = waiting.at(-1);
    await onStep(last, 'queue');
    const before = await inQueue(last);
    assert.ok(before >= 1 && before <= 4, `number ${before}`);
    await checkPage(last, 'queue-01-waiting', 'the queue view');
    await last.keyboard.press('Tab');
    assert.equal((await focused(last))?.id, 'queue-back', `Tab from the heading reaches ${JSON.stringify(await focused(last))}, not the way back`);

    // In English.
    await setLanguage(last, 'en');
    assert.equal((await last.textContent('#step-queue-title')).trim(), 'Virtual waiting room');
    await inQueue(last, { lang: 'en' });
    await shot(last, 'queue-02-waiting-en');
    await setLanguage(last, 'it');

    // A reload resumes the same place: a token it was given, no new join.
    // Every answer carries a new token (its expiry moves on), and a poll
    // answered as the page reloads may be kept by the page: the tokens
    // given are those of every answer before the reload's first.
    const given = (until) => new Set(answers(last).filter((a) => a.at < until).map((a) => a.queueToken));
    const kept = (await saved(last))?.queue_token;
    assert.ok(kept && given(Infinity).has(kept), `kept in localStorage: ${JSON.stringify(await saved(last))}, not a token it was given`);
    const since = Date.now();
    await last.reload();
    await onStep(last, 'queue');
    const after = await inQueue(last);
    const again = answers(last).filter((a) => a.at >= since);
    assert.equal(again.filter((a) => a.method === 'POST').length, 0, 'the reload joined the queue again');
    assert.ok(again[0].method === 'GET' && given(again[0].at).has(again[0].token), 'the reload did not resume with a token it was given');
    assert.ok(after <= before, `number ${before} before the reload, ${after} after`);
    await shot(last, 'queue-03-after-reload');

    // Everyone gets in, in the order they came.
    await Promise.all(waiting.map((p) => onTimes(p)));
    const order = waiting.map(admittedAt);
    assert.deepEqual([...order].sort((a, b) => a - b), order, `admitted out of order: ${JSON.stringify(order.map((t) => t - order[0]))}`);
    for (let i = 0; i < waiting.length; i++) {
      for (let j = i + 1; j < waiting.length; j++) {
        const late = answers(waiting[i]).find((a) => !a.admitted && a.at > admittedAt(waiting[j]));
        assert.ok(!late, `number ${i + 1} was told to wait after number ${j + 1} got in`);
      }
    }
    for (const p of waiting) {
      const told = answers(p).filter((a) => !a.admitted).map((a) => a.position);
      assert.ok(told.every((n) => n <= told[0]), `a position went back: ${JSON.stringify(told)}`);
      assert.ok(p.queue.every((a) => a.status === 200), `an answer not 200: ${JSON.stringify(p.queue.map((a) => a.status))}`);
      const entry = await saved(p);
      assert.ok(entry && !entry.queue_token && entry.admitted_until > Date.now(), `kept once admitted: ${JSON.stringify(entry)}`);
    }
    assert.equal(await last.locator('#step-queue').isVisible(), false, 'the queue view is still shown');
    await checkPage(last, 'queue-04-admitted', 'the times after the queue');

    // The admission lets a time be held.
    assert.equal(await holdFirst(last), 201, 'the hold after the turn came');
    for (const p of pages) assertClean(p);
  } catch (err) {
    await failed(watched, 'queue-crowd', err);
  } finally {
    await Promise.all(pages.map((p) => p.context().close()));
  }
});

test('a lapsed admission: the hold is refused and the citizen queues again', async () => {
  const lapsed = await citizenPage();
  const others = [await citizenPage(), await citizenPage()];
  const pages = [lapsed, ...others];
  try {
    // In (at once, or after the last of the crowd before).
    await lapsed.goto(`/prenota/?servizio=${own.id}`);
    await lapsed.locator('#slots-calendar').waitFor({ timeout: 25_000 });
    // Two come just after: a queue again, for 6 s.
    await Promise.all(others.map((p) => p.goto(`/prenota/?servizio=${own.id}`)));
    for (const p of others) await inQueue(p);

    // The admission is lost; the hold is refused, the page queues again.
    await lapsed.context().clearCookies({ name: 'sportello_admission' });
    assert.equal(await holdFirst(lapsed), 403, 'a hold without an admission');
    const refusedAt = Date.now();
    await onStep(lapsed, 'queue');
    await inQueue(lapsed);
    const msg = lapsed.locator('#flow-message');
    await msg.waitFor({ state: 'visible' });
    assert.match(await msg.textContent(), /di nuovo in sala d'attesa/);
    await checkPage(lapsed, 'queue-05-again', 'the queue view after a refused hold');

    // Its turn comes again: the times, and the hold.
    await onTimes(lapsed);
    assert.equal(await msg.isVisible(), false, 'the message stays after the turn came');
    assert.equal(await holdFirst(lapsed), 201, 'the hold after the turn came again');
    await Promise.all(others.map((p) => onTimes(p)));
    const again = answers(lapsed).find((a) => a.at > refusedAt && a.admitted).at;
    assert.ok(others.every((p) => admittedAt(p) < again), 'in again before those who came first');
    for (const p of pages) assertClean(p);
  } catch (err) {
    await failed(lapsed, 'queue-lapsed', err);
  } finally {
    await Promise.all(pages.map((p) => p.context().close()));
  }
});
