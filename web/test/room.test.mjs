// The room page (/sala/#TOKEN), in the browser, with the real LiveKit:
//
//  - the demo administrator makes a service with no minimum notice whose
//    first slot starts within two minutes (over the admin API), and two
//    bookings of it are made over the API: one now (its window is open:
//    it opens 10 minutes before the start), one later (its window is not);
//  - before the window the page counts down to the opening, and the device
//    check works meanwhile (camera preview, microphone level, speaker
//    tone); a refused permission and a missing device are explained;
//  - after the window (410) and for an unknown link (404) the page says so;
//  - the real call: the citizen's page and the operator's console
//    (/operatore/, signed in as the demo administrator) join the same room;
//    each sees the other's video, the chat goes both ways, mute and camera
//    toggle and the other side sees the mute; a document uploaded in the
//    room reaches the operator's list; the citizen leaves.
// axe runs on every view and every view leaves a screenshot.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { DEMO_ADMIN as ADMIN, RUN, assertClean, book, citizen, failed, focused, inPage, launch, newContext, newPage, operatorSession, personal, romeTime, setLanguage, shot, slotsOf, snap as check } from './lib.mjs';

// The documents' bytes go to the object store (MinIO, the site's own store).
const STORE = [/\/sportello-documents(\/|\?|$)/];

let browser;
let service;
let now1; // the booking whose window is open
let later; // the booking whose window is not open yet

function rome(d) {
  const p = Object.fromEntries(
    new Intl.DateTimeFormat('en-GB', { timeZone: 'Europe/Rome', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', hourCycle: 'h23', weekday: 'short' })
      .formatToParts(d)
      .map((x) => [x.type, x.value]),
  );
  const wd = { Mon: 1, Tue: 2, Wed: 3, Thu: 4, Fri: 5, Sat: 6, Sun: 7 }[p.weekday];
  return { day: `${p.year}-${p.month}-${p.day}`, time: `${p.hour}:${p.minute}`, wd };
}

before(async () => {
  browser = await launch();
  // A service with no notice, open round the clock but today from the
  // next minute or two: its first slot starts within two minutes.
  const admin = await operatorSession(ADMIN);
  const officeId = `e2e-sala-${RUN}`;
  const serviceId = `e2e-video-${RUN}`;
  await admin('POST', '/admin/offices', { id: officeId, name: `Ufficio video ${RUN}`, address: 'Piazza del Ferrarese 1, Bari' }, 201);
  await admin(
    'POST',
    '/admin/services',
    {
      id: serviceId,
      office_id: officeId,
      name: `Colloquio in video ${RUN}`,
      duration_minutes: 5,
      min_notice_minutes: 0,
      horizon_days: 2,
      cancel_cutoff_minutes: 0,
      what_to_bring: "Documento d'identità",
      open_on_holidays: true,
    },
    201,
  );
  const now = new Date();
  const opens = new Date(Math.floor(now.getTime() / 60_000) * 60_000 + 2 * 60_000);
  const today = rome(now);
  const hours = [];
  for (let wd = 1; wd <= 7; wd++) {
    const h = { weekday: wd, opens: '00:00', closes: '24:00' };
    if (wd === today.wd && rome(opens).day === today.day) h.opens = rome(opens).time;
    hours.push(h);
  }
  await admin('PUT', `/admin/services/${serviceId}/hours`, { hours }, 200);
  await admin('POST', `/admin/services/${serviceId}/desks`, { label: 'Postazione video' }, 201);
  service = { id: serviceId, officeId };

  const slots = await slotsOf(serviceId, 2);
  const first = slots.find((s) => Date.parse(s.start) > Date.now() + 20_000);
  assert.ok(first && Date.parse(first.start) < Date.now() + 5 * 60_000, `no slot within 5 minutes: ${JSON.stringify(slots.slice(0, 3))}`);
  const second = slots.find((s) => Date.parse(s.start) > Date.now() + 30 * 60_000);
  assert.ok(second, 'no slot in half an hour');
  now1 = await book(serviceId, first.start, citizen('room'));
  later = await book(serviceId, second.start, citizen('roomlater'));
});

after(async () => {
  await browser?.close();
});

/** videoPlaying waits until the <video> matched by selector shows frames. */
async function videoPlaying(page, selector, what) {
  await page
    .waitForFunction(
      (sel) => [...document.querySelectorAll(sel)].some((v) => v.videoWidth > 0 && !v.paused && v.readyState >= 2),
      selector,
      { timeout: 30_000 },
    )
    .catch(() => assert.fail(`${what}: no playing video at ${selector}`));
}

test('before the window: a countdown, and the device check meanwhile', async () => {
  await inPage(browser, 'room-countdown', async (page) => {
    await page.goto(`/sala/#${later.manage_token}`);
    await page.locator('#room-prejoin').waitFor({ state: 'visible' });
    assert.equal(new URL(page.url()).hash, '', 'the token is still in the address bar');
    await page.locator('#room-countdown-box').waitFor({ state: 'visible' });
    const c1 = (await page.textContent('#room-countdown')).trim();
    assert.match(c1, /^\d+:\d{2}$/, `countdown ${c1}`);
    const opens = new Date(Date.parse(later.start) - 10 * 60_000);
    assert.ok((await page.textContent('#room-window-text')).includes(romeTime(opens)), 'the opening time is not said');
    assert.equal(await page.isDisabled('#join-button'), true, 'the join button is enabled before the window');
    await page.waitForTimeout(1_100);
    assert.notEqual((await page.textContent('#room-countdown')).trim(), c1, 'the countdown does not tick');
    await check(page, 'room-01-countdown', 'room before the window');

    // The device check: preview, microphone level, speaker tone.
    await page.locator('#check-start').click();
    await page.locator('#check-devices').waitFor({ state: 'visible' });
    await videoPlaying(page, '#check-preview', 'camera preview');
    await page.waitForFunction(() => document.querySelector('#mic-status')?.dataset.heard === 'true', null, { timeout: 15_000 });
    assert.ok((await page.locator('#device-camera option').count()) >= 1, 'no camera to choose');
    assert.ok((await page.locator('#device-microphone option').count()) >= 1, 'no microphone to choose');
    await page.locator('#speaker-test').click();
    await page.waitForFunction(() => document.querySelector('#speaker-status')?.dataset.played === 'true');
    await check(page, 'room-02-device-check', 'device check');

    await setLanguage(page, 'en');
    assert.match(await page.textContent('#room-window-text'), /The room opens/);
    await check(page, 'room-03-device-check-en', 'device check (English)');
    assertClean(page);
  });
});

test('a refused permission and a missing device are explained', async () => {
  for (const [name, expect] of [
    ['NotAllowedError', /negato/],
    ['NotFoundError', /Nessuna videocamera né microfono/],
  ]) {
    // The browser's own answer, as a user who refuses (or has no device) gets it.
    const refuse = (context) =>
      context.addInitScript((errName) => {
        navigator.mediaDevices.getUserMedia = () => Promise.reject(new DOMException('refused', errName));
      }, name);
    await inPage(browser, `room-device-${name}`, async (page) => {
      await page.goto(`/sala/#${later.manage_token}`);
      await page.locator('#check-start').click();
      await page.locator('#check-error').waitFor({ state: 'visible' });
      assert.match(await page.textContent('#check-error-title'), expect);
      assert.match(await page.textContent('#check-error-text'), /Riprova la verifica/);
      assert.equal((await focused(page))?.id, 'check-error', 'the guidance does not get the focus');
      await check(page, `room-04-device-${name}`, `device check, ${name}`);
      assertClean(page);
    }, { setup: refuse });
  }
});

test('after the window, and for an unknown link, the page says so', async () => {
  await inPage(browser, 'room-expired', async (page) => {
    // join's answer after the window (the stack cannot wait for one).
    await page.route('**/api/join', (route) =>
      route.fulfill({
        status: 410,
        contentType: 'application/problem+json',
        body: JSON.stringify({ status: 410, code: 'expired', detail: 'the appointment is over', opens_at: later.start, closes_at: later.end }),
      }),
    );
    await page.goto(`/sala/#${later.manage_token}`);
    await page.locator('#room-message').waitFor({ state: 'visible' });
    assert.match(await page.textContent('#room-message'), /terminato/);
    assert.equal(await page.locator('#room-prejoin').isVisible(), false);
    await check(page, 'room-05-expired', 'room after the window');
    await page.unroute('**/api/join');

    await page.evaluate(() => sessionStorage.clear());
    await page.goto('/sala/#non-un-codice-valido');
    await page.locator('#room-message').waitFor({ state: 'visible' });
    assert.match(await page.textContent('#room-message'), /non è valido/);
    await check(page, 'room-06-invalid-link', 'room, link not valid');
    assertClean(page);
  });
});

test('the call: the citizen and the operator see each other, chat, mute, documents', async () => {
  const cctx = await newContext(browser);
  const octx = await newContext(browser);
  const citizenPage = await newPage(cctx, { allow: STORE });
  const operatorPage = await newPage(octx, { allow: STORE });
  const displayName = `Annunziata ${RUN}`;
  personal(displayName);
  try {
    // The citizen: device check, name, join.
    await citizenPage.goto(`/sala/#${now1.manage_token}`);
    await citizenPage.locator('#room-prejoin').waitFor({ state: 'visible' });
    await citizenPage.waitForFunction(() => !document.querySelector('#join-button').disabled);
    assert.match(await citizenPage.textContent('#room-window-text'), /aperta/);
    await citizenPage.locator('#check-start').click();
    await videoPlaying(citizenPage, '#check-preview', 'camera preview');
    await citizenPage.fill('#display-name', displayName);
    await check(citizenPage, 'room-07-prejoin', 'room before joining');
    await citizenPage.locator('#join-button').click();
    await citizenPage.locator('#room-call').waitFor({ state: 'visible' });
    assert.equal((await focused(citizenPage))?.id, 'call-title', 'the focus is not on the call heading');
    await videoPlaying(citizenPage, '#tile-local video', 'own camera');
    await citizenPage.locator('#call-waiting').waitFor({ state: 'visible' });
    await check(citizenPage, 'room-08-call-alone', 'call, waiting for the operator');

    // The operator: the console, signed in, the booking, join.
    await operatorPage.goto(`/operatore/?prenotazione=${encodeURIComponent(now1.booking_id)}`);
    await operatorPage.locator('#signin-email').fill(ADMIN.email);
    await operatorPage.locator('#signin-password').fill(ADMIN.password);
    await operatorPage.locator('#signin-submit').click();
    await operatorPage.locator('#join-call').waitFor({ state: 'visible' });
    await operatorPage.locator('#join-call').click();
    await operatorPage.locator('#call-panel').waitFor({ state: 'visible' });

    // Each sees the other's video.
    await videoPlaying(citizenPage, '#call-videos figure[data-identity^="operator-"] video', "the citizen's view of the operator");
    await videoPlaying(operatorPage, '#call-remote video', "the operator's view of the citizen");
    const tileName = await citizenPage.textContent('#call-videos figure[data-identity^="operator-"] [data-role=name]');
    assert.match(tileName, /operatore/, `the operator's tile is not named as such: ${tileName}`);
    assert.equal(await citizenPage.locator('#call-waiting').isVisible(), false);
    // The operator's page names the citizen as chosen.
    await operatorPage.waitForFunction((n) => document.body.textContent.includes(n), displayName, { timeout: 10_000 }).catch(() => {});
    // The connection quality is reported.
    await citizenPage
      .waitForFunction(() => !['unknown', ''].includes(document.querySelector('#call-quality')?.dataset.quality), null, { timeout: 20_000 })
      .catch(() => assert.fail('no connection quality reported'));
    await check(citizenPage, 'room-09-call-citizen', 'call (citizen)');
    await shot(operatorPage, 'room-10-call-operator');

    // Chat both ways.
    const hello = `Buongiorno, sono pronta ${RUN}`;
    await citizenPage.fill('#chat-input', hello);
    await citizenPage.locator('#chat-send').click();
    await operatorPage.locator('#chat-log', { hasText: hello }).waitFor({ timeout: 10_000 });
    assert.equal(await citizenPage.inputValue('#chat-input'), '');
    assert.ok((await citizenPage.textContent('#chat-log')).includes(hello));
    const reply = `Buongiorno, la vedo bene ${RUN}`;
    await operatorPage.fill('#chat-input', reply);
    await operatorPage.locator('#chat-send').click();
    const got = citizenPage.locator('#chat-log .room-chat-item', { hasText: reply });
    await got.waitFor({ timeout: 10_000 });
    assert.equal(await citizenPage.getAttribute('#chat-log', 'aria-live'), 'polite');
    const sender = (await got.locator('.room-chat-sender').textContent()).trim();
    assert.ok(sender.length > 0 && sender !== 'Tu', `the message is not labelled with its sender: ${sender}`);

    // Mute and camera toggle; the operator's mute is seen by the citizen.
    await citizenPage.locator('#call-mic').click();
    await citizenPage.waitForFunction(() => document.querySelector('#call-mic').getAttribute('aria-pressed') === 'true');
    assert.equal(await citizenPage.getAttribute('#tile-local', 'data-mic'), 'false');
    await citizenPage.locator('#call-camera').click();
    await citizenPage.waitForFunction(() => document.querySelector('#tile-local').dataset.camera === 'false');
    await check(citizenPage, 'room-11-muted', 'call, muted and camera off');
    await citizenPage.locator('#call-mic').click();
    await citizenPage.locator('#call-camera').click();
    await citizenPage.waitForFunction(() => document.querySelector('#tile-local').dataset.camera === 'true' && document.querySelector('#call-mic').getAttribute('aria-pressed') === 'false');
    await operatorPage.locator('#call-mute').click();
    await citizenPage.waitForFunction(() => document.querySelector('#call-videos figure[data-identity^="operator-"]')?.dataset.mic === 'false', null, { timeout: 10_000 });
    await operatorPage.locator('#call-mute').click();
    await citizenPage.waitForFunction(() => document.querySelector('#call-videos figure[data-identity^="operator-"]')?.dataset.mic === 'true', null, { timeout: 10_000 });

    // A document from the room reaches the operator.
    const png = Buffer.from(
      'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==',
      'base64',
    );
    const name = `foto-${RUN}.png`;
    await citizenPage.setInputFiles('#room-docs-file', { name, mimeType: 'image/png', buffer: png });
    await citizenPage.locator('#room-docs-upload').click();
    await citizenPage.locator('#room-docs-list li', { hasText: name }).waitFor();
    await operatorPage.locator('#doc-list', { hasText: name }).waitFor({ timeout: 15_000 });
    await check(citizenPage, 'room-12-call-document', 'call with a document');

    // On a phone.
    await citizenPage.setViewportSize({ width: 390, height: 844 });
    await check(citizenPage, 'room-12b-call-phone', 'call on a phone');
    await citizenPage.setViewportSize({ width: 1280, height: 900 });

    // English in the call.
    await setLanguage(citizenPage, 'en');
    assert.equal((await citizenPage.textContent('#call-leave')).trim(), 'Leave the room');
    await check(citizenPage, 'room-13-call-en', 'call (English)');
    await setLanguage(citizenPage, 'it');

    // The citizen leaves.
    await citizenPage.locator('#call-leave').click();
    await citizenPage.locator('#room-left').waitFor({ state: 'visible' });
    assert.equal((await focused(citizenPage))?.id, 'room-left-title');
    await check(citizenPage, 'room-14-left', 'after leaving');
    assertClean(citizenPage);
    assertClean(operatorPage);
  } catch (err) {
    await shot(operatorPage, 'FAILED-room-call-operator').catch(() => {});
    await failed(citizenPage, 'room-call-citizen', err);
  } finally {
    await cctx.close();
    await octx.close();
  }
});

test('a microphone LiveKit cannot turn on: the button shows what LiveKit did, and says why', async () => {
  // The browser has no microphone to give (the camera works).
  const noMicrophone = (context) =>
    context.addInitScript(() => {
      const real = navigator.mediaDevices.getUserMedia.bind(navigator.mediaDevices);
      navigator.mediaDevices.getUserMedia = (c) => (c?.audio ? Promise.reject(new DOMException('no microphone here', 'NotFoundError')) : real(c));
    });
  const refused = [/no microphone here|NotFoundError|Requested device not found/i];
  await inPage(
    browser,
    'room-no-microphone',
    async (page) => {
      await page.goto(`/sala/#${now1.manage_token}`);
      await page.waitForFunction(() => !document.querySelector('#join-button').disabled);
      await page.locator('#join-button').click();
      await page.locator('#room-call').waitFor({ state: 'visible' });
      await videoPlaying(page, '#tile-local video', 'own camera');
      // Turning the microphone on failed: said, and the button is "muted".
      await page.locator('#call-error').waitFor({ state: 'visible' });
      assert.match(await page.textContent('#call-error'), /microfono/);
      assert.equal(await page.getAttribute('#call-mic', 'aria-pressed'), 'true');
      assert.equal(await page.getAttribute('#tile-local', 'data-mic'), 'false');
      // Trying again changes nothing LiveKit did not do.
      await page.evaluate(() => (document.querySelector('#call-error').hidden = true));
      await page.locator('#call-mic').click();
      await page.locator('#call-error').waitFor({ state: 'visible' });
      assert.equal(await page.getAttribute('#call-mic', 'aria-pressed'), 'true', 'the button says the microphone is on');
      assert.equal(await page.getAttribute('#tile-local', 'data-mic'), 'false');
      // The camera still goes off and on.
      await page.locator('#call-camera').click();
      await page.waitForFunction(() => document.querySelector('#call-camera').getAttribute('aria-pressed') === 'true' && document.querySelector('#tile-local').dataset.camera === 'false');
      await check(page, 'room-15-no-microphone', 'call without a microphone');
      await page.locator('#call-camera').click();
      await page.waitForFunction(() => document.querySelector('#tile-local').dataset.camera === 'true');
      await page.locator('#call-leave').click();
      await page.locator('#room-left').waitFor({ state: 'visible' });
      assertClean(page);
    },
    { setup: noMicrophone, page: { allow: [...STORE, ...refused] } },
  );
});
