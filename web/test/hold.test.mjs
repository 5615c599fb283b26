// The hold of the booking flow (/prenota/) when things go wrong, in the
// browser:
//
//  - the hold expires: a time is chosen (the banner and its m:ss countdown
//    appear), the citizen moves on to the details, then the page's clock
//    (Playwright's fake clock, installed before the page loads) jumps to the
//    hold's last minute (the banner turns to a warning) and past its end.
//    The server's HOLD_TTL is left alone (the stack is shared by every
//    browser test): the page judges the expiry on its own clock. The page
//    must go back to the time choice (its heading focused), say why in
//    #flow-message (role=alert), reload the free slots, and a new choice
//    must take a new hold.
//  - the time is taken meanwhile: on a service of its own with one desk
//    (made by the demo administrator over the admin API, deactivated at the
//    end), the page shows a day's times, then the API holds one of them
//    before the page clicks it: the page's hold gets 409, and the page must
//    say the time was just taken, stay on the time choice, and reload the
//    times (the taken one no longer offered); another time can be held.
//  - the hold is given back: going back to another office, the page
//    deletes its hold; leaving the page, its beacon releases it — either
//    way the time is free for another client at once, not at the expiry.
// axe runs on each of those states and each leaves a screenshot.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { calendarDays, DEMO_ADMIN, api, assertClean, checkPage, demoOffices, firstFreeDay, focused, inPage, launch, oneDeskService, onStep, operatorSession, personal, romeDay, romeTime, shot } from './lib.mjs';

let browser;
let offices;
let admin; // the demo administrator's API session
let own; // the one-desk service: {id, officeId}

before(async () => {
  browser = await launch();
  offices = await demoOffices();

  // A service with a single desk, open round the clock, hourly: every slot
  // has exactly one free desk.
  admin = await operatorSession(DEMO_ADMIN);
  own = await oneDeskService(admin, 'hold');
});

after(async () => {
  await own?.close();
  await browser?.close();
});

const isHoldPost = (res) => res.request().method() === 'POST' && new URL(res.url()).pathname === '/api/holds';
const isSlotsGet = (res) => res.request().method() === 'GET' && new URL(res.url()).pathname === '/api/slots';

/**
 * clickTime clicks a time button and returns the answer to the page's
 * POST /api/holds: {status, json}; a hold's secret is registered as
 * personal data.
 */
async function clickTime(page, button) {
  const [res] = await Promise.all([page.waitForResponse(isHoldPost), button.click()]);
  const json = await res.json().catch(() => undefined);
  personal(json?.hold_secret);
  return { status: res.status(), json };
}

/** holdShown checks the banner and its m:ss countdown, and #slot-status naming the held time. */
async function holdShown(page, start) {
  await page.locator('#hold-banner').waitFor({ state: 'visible' });
  assert.match((await page.textContent('#hold-countdown')).trim(), /^\d{1,2}:\d{2}$/, 'the hold countdown is not m:ss');
  await page
    .waitForFunction((hhmm) => document.querySelector('#slot-status')?.textContent.includes(hhmm), romeTime(start), { timeout: 5_000 })
    .catch(async () => assert.fail(`#slot-status ${JSON.stringify(await page.textContent('#slot-status'))} does not name the held time ${romeTime(start)}`));
}

/**
 * holdFirstFree holds the first free time of the first free day, as a
 * citizen would, and checks the 201 (what names the hold in the message)
 * and the banner: {start, held}, held being clickTime's answer.
 */
async function holdFirstFree(page, what = "the page's hold") {
  await firstFreeDay(page);
  const time = page.locator('#slots-times .slot-time:enabled').first();
  const start = await time.getAttribute('data-start');
  const held = await clickTime(page, time);
  assert.equal(held.status, 201, `${what}: HTTP ${held.status} ${JSON.stringify(held.json)}`);
  await holdShown(page, start);
  return { start, held };
}

test('an expired hold sends the citizen back to the times, with a message', async () => {
  const office = offices.find((o) => o.id === 'urbanistica' && o.services?.length) ?? offices.find((o) => o.services?.length);
  const service = office.services.find((s) => s.id === 'sue') ?? office.services[0];
  // The page's clock, from now on, in Playwright's hands (it runs at the
  // real pace until told to jump).
  const clock = { setup: (context) => context.clock.install() };
  await inPage(browser, 'hold-expired', async (page) => {
    await page.goto(`/prenota/?ufficio=${office.id}&servizio=${service.id}`);
    await onStep(page, 'slot', { moved: false });
    const { start, held: first } = await holdFirstFree(page);
    assert.equal(await page.locator('#flow-message').isVisible(), false, '#flow-message shown with a fresh hold');

    // On to the details: the expiry must bring the citizen back.
    await page.locator('#slot-next').click();
    await onStep(page, 'details');
    assert.equal(await page.locator('#hold-banner').isVisible(), true, 'the hold banner is not shown on the details step');

    // The page reckons the expiry as expires_at on its own clock (with a
    // fallback of ten minutes for a clock far off the server's).
    const pageNow = await page.evaluate(() => Date.now());
    let left = Date.parse(first.json.expires_at) - pageNow;
    if (!(left > 0 && left < 6 * 3600 * 1000)) left = 10 * 60 * 1000;
    assert.ok(left > 60_000, `the hold is too short to test its last minute: ${left} ms left`);

    // Its last minute: the countdown warns.
    await page.clock.fastForward(left - 30_000);
    await page
      .waitForFunction(() => /^0:[0-3]\d$/.test(document.querySelector('#hold-countdown')?.textContent.trim() ?? ''), undefined, { timeout: 5_000 })
      .catch(async () => assert.fail(`the countdown says ${JSON.stringify(await page.textContent('#hold-countdown'))} 30 s before the end`));
    assert.match(await page.getAttribute('#hold-banner', 'class'), /\balert-warning\b/, 'the banner does not turn to a warning in the last minute');
    await shot(page, 'hold-01-last-minute');

    // Past its end: back to the times, with the slots reloaded.
    const reloaded = page.waitForResponse(isSlotsGet, { timeout: 10_000 });
    await page.clock.fastForward(35_000);
    await onStep(page, 'slot');
    assert.equal((await reloaded).status(), 200, 'the free slots were not reloaded');
    const msg = page.locator('#flow-message');
    await msg.waitFor({ state: 'visible' });
    assert.equal(await msg.getAttribute('role'), 'alert');
    assert.match(await msg.textContent(), /scadut/i, `#flow-message does not say the time ran out: ${await msg.textContent()}`);
    await page.locator('#hold-banner').waitFor({ state: 'hidden' });
    assert.ok(!(await page.textContent('#slot-status')).includes(romeTime(start)), `#slot-status still names the lapsed hold: ${await page.textContent('#slot-status')}`);
    assert.equal(await page.locator('.slot-time[aria-pressed="true"]').count(), 0, 'a time is still marked chosen');
    await page.locator('#slots-calendar').waitFor();
    await checkPage(page, 'hold-02-expired', 'step slot after the hold expired');

    // Without a hold the flow does not go on.
    await page.locator('#slot-next').click();
    assert.equal(await page.locator('#step-slot').isVisible(), true, 'the flow went on without a hold');

    // A new choice takes a new hold.
    const { held: second } = await holdFirstFree(page, 'the new hold');
    assert.notEqual(second.json.hold_id, first.json.hold_id, 'the same hold again');
    await page.locator('#flow-message').waitFor({ state: 'hidden' });
    await page.locator('#slot-next').click();
    await onStep(page, 'details');
    await shot(page, 'hold-03-held-again');
    assertClean(page);
  }, clock);
});

test('a time taken meanwhile: the page says so and offers the times left', async () => {
  // The slots of a day with several, from the API: each has one free desk.
  const from = romeDay(Date.now());
  const to = romeDay(Date.now() + 6 * 86_400_000);
  const r = await api('GET', `/api/slots?service_id=${own.id}&from=${from}&to=${to}`);
  assert.equal(r.status, 200, `GET /api/slots: ${r.text}`);
  const days = calendarDays(r.json);
  const day = days.find((d) => d.slots.length >= 4 && Date.parse(d.slots[0].start) > Date.now() + 10 * 60_000);
  assert.ok(day, `no day with four slots: ${JSON.stringify(days.map((d) => [d.date, d.slots.length]))}`);
  const target = day.slots[2];
  assert.equal(target.free, 1, `the slot has ${target.free} free desks, want 1`);

  await inPage(browser, 'hold-taken', async (page) => {
    await page.goto(`/prenota/?servizio=${own.id}`);
    await onStep(page, 'slot', { moved: false });
    await page.locator('#slots-calendar').waitFor();
    const dayButton = page.locator(`#slots-day-${day.date}`);
    for (let i = 0; i < 2 && (await dayButton.count()) === 0; i++) await page.locator('#slots-next').click();
    await dayButton.click();
    const button = page.locator(`.slot-time[data-start="${target.start}"]`);
    await button.waitFor();
    assert.equal(await button.isEnabled(), true, 'the time is not offered');
    const offered = await page.locator('#slots-times .slot-time').count();

    // Someone else holds it first.
    const other = await api('POST', '/api/holds', { service_id: own.id, start: target.start });
    assert.equal(other.status, 201, `the other hold: ${other.text}`);
    personal(other.json.hold_secret);

    const reloaded = page.waitForResponse(isSlotsGet, { timeout: 10_000 });
    const mine = await clickTime(page, button);
    assert.equal(mine.status, 409, `the page's hold of a taken time: HTTP ${mine.status} ${JSON.stringify(mine.json)}`);
    const msg = page.locator('#flow-message');
    await msg.waitFor({ state: 'visible' });
    assert.equal(await msg.getAttribute('role'), 'alert');
    assert.match(await msg.textContent(), /appena prenotato/i, `#flow-message does not say the time was just taken: ${await msg.textContent()}`);
    await onStep(page, 'slot', { moved: false });
    assert.equal(await page.locator('#hold-banner').isVisible(), false, 'a hold banner without a hold');
    assert.ok(!(await page.textContent('#slot-status')).includes(romeTime(target.start)), `#slot-status names the taken time: ${await page.textContent('#slot-status')}`);
    assert.equal((await reloaded).status(), 200, 'the free slots were not reloaded');
    // The chosen day stays, without the taken time.
    await page.locator('#slots-times .slot-time').first().waitFor();
    await button.waitFor({ state: 'detached', timeout: 5_000 }).catch(() => assert.fail(`the taken time ${romeTime(target.start)} is still offered`));
    assert.equal(await page.locator('#slots-times .slot-time').count(), offered - 1, 'the day lost more (or fewer) times than the taken one');
    assert.equal(await page.getAttribute(`#slots-day-${day.date}`, 'aria-pressed'), 'true', 'the chosen day was lost');
    // The clicked button is gone: the focus is on the step's heading, not lost to <body>.
    await page.waitForFunction(() => document.activeElement && document.activeElement.id === 'step-slot-title', null, { timeout: 5_000 })
      .catch(async () => assert.fail(`focus after the reload is on ${JSON.stringify(await focused(page))}, want #step-slot-title`));
    await checkPage(page, 'hold-04-taken', 'step slot after the time was taken');

    // Another time of the day can be held.
    const next = page.locator(`.slot-time[data-start="${day.slots[3].start}"]`);
    const held = await clickTime(page, next);
    assert.equal(held.status, 201, `the other time: HTTP ${held.status} ${JSON.stringify(held.json)}`);
    await holdShown(page, day.slots[3].start);
    await page.locator('#flow-message').waitFor({ state: 'hidden' });
    await shot(page, 'hold-05-other-time-held');
    assertClean(page);
  });
});

/** freedSoon holds start of the one-desk service from the API (another client) until it is free, or fails after a few seconds. */
async function freedSoon(start, why) {
  let r;
  for (let i = 0; i < 20; i++) {
    r = await api('POST', '/api/holds', { service_id: own.id, start });
    if (r.status === 201) {
      personal(r.json.hold_secret);
      const back = await api('DELETE', `/api/holds/${r.json.hold_id}`, undefined, { Authorization: `Bearer ${r.json.hold_secret}` });
      assert.equal(back.status, 204, `DELETE /api/holds: ${back.text}`);
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  assert.fail(`${why}: the time is still held (${r.status} ${r.text})`);
}

test('a hold is given back when the citizen goes to another office, or leaves the page', async () => {
  const other = offices.find((o) => o.id !== own.officeId && o.services?.length);
  await inPage(browser, 'hold-given-back', async (page) => {
    await page.goto(`/prenota/?servizio=${own.id}`);
    await onStep(page, 'slot', { moved: false });
    const { start, held } = await holdFirstFree(page);
    const taken = await api('POST', '/api/holds', { service_id: own.id, start });
    assert.equal(taken.status, 409, `the held time is not taken for others: ${taken.text}`);

    // Back to the offices, another one: the page gives its hold back.
    const released = page.waitForResponse((res) => res.request().method() === 'DELETE' && new URL(res.url()).pathname === `/api/holds/${held.json.hold_id}`);
    await page.locator('#slot-back').click();
    await onStep(page, 'service');
    await page.locator('#service-back').click();
    await onStep(page, 'office');
    await page.selectOption('#office', other.id);
    await page.locator('#form-office [type="submit"]').click();
    await onStep(page, 'service');
    assert.equal((await released).status(), 204, 'the hold was not given back');
    await freedSoon(start, 'after going to another office');
    assertClean(page);
  });

  await inPage(browser, 'hold-left', async (page) => {
    await page.goto(`/prenota/?servizio=${own.id}`);
    await onStep(page, 'slot', { moved: false });
    const { start } = await holdFirstFree(page);
    // Leaving: the page's beacon gives the hold back.
    await page.goto('about:blank');
    await freedSoon(start, 'after leaving the page');
  });
});
