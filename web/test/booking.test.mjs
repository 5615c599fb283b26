// The citizen's booking journey in the browser (/prenota/), after Designers
// Italia's "Prenotazione appuntamento": Ufficio → Servizio → Data e orario →
// Dettagli → Richiedente → Riepilogo → confirmation; then the confirmation
// mail in Mailpit, whose manage link opens the booking. axe runs on every
// step, and every step leaves a screenshot.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { BASE_URL, PHONE, api, assertClean, checkPage, citizen, demoOffices, focused, inPage, launch, mail, onStep as onlyStep, personal, romeTime, setLanguage } from './lib.mjs';

const TOTAL_STEPS = 6;
const STEP_NUMBER = { office: 1, service: 2, slot: 3, details: 4, citizen: 5, summary: 6 };

let browser;
let offices;
// The Italian journey's booking, for the tests after it.
let booked;

before(async () => {
  browser = await launch();
  offices = await demoOffices();
});

after(async () => {
  await browser?.close();
});

/**
 * onStep waits for step to be the only one shown; after a step change
 * (moved: true) the focus must be on its heading and #announcer must say
 * which step of how many it is; the stepper marks it current.
 */
async function onStep(page, step, { moved = true } = {}) {
  await onlyStep(page, step, { moved });
  if (!moved) return;
  const n = STEP_NUMBER[step];
  if (n) {
    await page
      .waitForFunction(
        ({ n, total }) => new RegExp(`\\b${n}\\b.*\\b${total}\\b`).test(document.querySelector('#announcer')?.textContent ?? ''),
        { n, total: TOTAL_STEPS },
        { timeout: 5_000 },
      )
      .catch(async () => assert.fail(`step ${step}: #announcer says ${JSON.stringify(await page.textContent('#announcer'))}, want step ${n} of ${TOTAL_STEPS}`));
    assert.equal(await page.getAttribute(`#steps-${step}`, 'aria-current'), 'step', `#steps-${step} is not the current step`);
  }
}

/** check: a screenshot, no untranslated string, axe (lib's checkPage). */
const check = checkPage;

/**
 * pickFirstSlot chooses the first day with free times (moving to the next
 * month when this one has none), then its first time; it waits until the
 * time is held and returns its start (RFC 3339). keyboard: operate the
 * calendar with the keyboard only.
 */
async function pickFirstSlot(page, { keyboard = false } = {}) {
  await page.locator('#slots-calendar').waitFor();
  const day = page.locator('button.slot-day:enabled');
  for (let i = 0; i < 3 && (await day.count()) === 0; i++) {
    await page.locator('#slots-next').click();
    await page.waitForTimeout(300);
  }
  assert.ok((await day.count()) > 0, 'no day with free times in three months');
  if (keyboard) {
    await day.first().focus();
    await page.keyboard.press('Enter');
  } else {
    await day.first().click();
  }
  assert.equal(await day.first().getAttribute('aria-pressed'), 'true', 'the chosen day is not marked pressed');
  assert.ok(await day.first().getAttribute('aria-label'), 'a day button has no aria-label');
  const time = page.locator('#slots-times .slot-time:enabled').first();
  await time.waitFor();
  const start = await time.getAttribute('data-start');
  assert.ok(start && !Number.isNaN(Date.parse(start)), `the time button has no data-start: ${start}`);
  if (keyboard) {
    await time.focus();
    await page.keyboard.press('Space');
  } else {
    await time.click();
  }
  await page.locator('#hold-banner').waitFor({ state: 'visible' });
  assert.match((await page.textContent('#hold-countdown')).trim(), /^\d{1,2}:\d{2}$/, 'the hold countdown is not m:ss');
  assert.ok((await page.textContent('#slot-status')).includes(romeTime(start)), 'the held time is not in #slot-status');
  return start;
}

test('the whole booking journey, in Italian on a PC', async () => {
  const office = offices.find((o) => o.id === 'urbanistica') ?? offices[0];
  const service = office.services.find((s) => s.id === 'sue') ?? office.services[0];
  const who = citizen('it');
  await inPage(browser, 'booking-it', async (page) => {
    // The trace of each hold and confirmation the page sends (traceparent's
    // trace id), to find this visit's trace in Jaeger at the end.
    const traceOf = {};
    page.on('request', (req) => {
      const path = new URL(req.url()).pathname;
      if (req.method() === 'POST' && (path === '/api/holds' || path === '/api/bookings')) {
        (traceOf[path] ??= []).push(req.headers().traceparent?.split('-')[1] ?? '');
      }
    });
    // From the home page.
    await page.goto('/');
    await page.locator('#start-booking').click();

    // 1. Ufficio.
    await page.waitForURL(/\/prenota\/$/);
    await onStep(page, 'office', { moved: false });
    // Nothing chosen: an error next to the field.
    await page.locator('#office-next').click();
    await page.locator('#office-error').waitFor({ state: 'visible' });
    await check(page, 'booking-01-office-error', 'step office, with its error');
    await page.selectOption('#office', office.id);
    await check(page, 'booking-01-office', 'step office');
    await page.locator('#office-next').click();

    // 2. Servizio, with its duration.
    await onStep(page, 'service');
    const label = page.locator(`label[for="service-${service.id}"]`);
    const text = await label.textContent();
    assert.ok(text.includes(service.name), `the service's label does not name it: ${text}`);
    assert.match(text, new RegExp(`${service.duration_minutes}\\s*min`), `the service's label does not show its duration: ${text}`);
    await label.click(); // Bootstrap Italia draws the radio with its label
    assert.equal(await page.isChecked(`#service-${service.id}`), true, 'the service is not chosen');
    await check(page, 'booking-02-service', 'step service');
    await page.locator('#service-next').click();

    // 3. Data e orario: the month, then the times; choosing one holds it.
    await onStep(page, 'slot');
    await page.locator('#slots-calendar').waitFor();
    await check(page, 'booking-03-slot-month', 'step slot (month)');
    const start = await pickFirstSlot(page);
    const end = new Date(Date.parse(start) + service.duration_minutes * 60_000).toISOString();
    await check(page, 'booking-04-slot-held', 'step slot (time held)');
    await page.locator('#slot-next').click();

    // 4. Dettagli.
    await onStep(page, 'details');
    await page.fill('#reason', who.reason);
    await page.fill('#details', who.details);
    await check(page, 'booking-05-details', 'step details');
    await page.locator('#details-next').click();

    // 5. Richiedente: empty, then a wrong email, then right.
    await onStep(page, 'citizen');
    await page.locator('#citizen-next').click();
    for (const id of ['given-name', 'family-name', 'address', 'email', 'privacy-consent']) {
      await page.locator(`#${id}-error`).waitFor({ state: 'visible' });
      assert.equal(await page.getAttribute(`#${id}`, 'aria-invalid'), 'true', `#${id} is not aria-invalid`);
    }
    await check(page, 'booking-06-citizen-errors', 'step citizen, every field missing');
    await page.fill('#given-name', who.givenName);
    await page.fill('#family-name', who.familyName);
    await page.fill('#address', who.address);
    await page.fill('#email', 'non-una-email');
    await page.locator('label[for="privacy-consent"]').click(); // Bootstrap Italia draws the box with its label
    assert.equal(await page.isChecked('#privacy-consent'), true, 'the consent is not ticked');
    await page.locator('#citizen-next').click();
    await page.locator('#email-error').waitFor({ state: 'visible' });
    assert.equal(await page.locator('#step-citizen').isVisible(), true, 'a wrong email passed the step');
    await page.fill('#email', who.email);
    await check(page, 'booking-07-citizen', 'step citizen');
    await page.locator('#citizen-next').click();

    // 6. Riepilogo, with a "Modifica" per step.
    await onStep(page, 'summary');
    const summary = await page.textContent('#summary');
    for (const v of [office.name, service.name, romeTime(start), who.reason, who.details, who.givenName, who.familyName, who.address, who.email]) {
      assert.ok(summary.includes(v), `the summary lacks ${JSON.stringify(v)}: ${summary}`);
    }
    for (const step of ['office', 'service', 'slot', 'details', 'citizen']) {
      assert.match(await page.textContent(`#edit-${step}`), /Modifica/, `#edit-${step}`);
    }
    await check(page, 'booking-08-summary', 'step summary');
    // Modifica on the details: changed, and back through the steps.
    const details = `${who.details} (rivisti)`;
    await page.locator('#edit-details').click();
    await onStep(page, 'details');
    assert.equal(await page.inputValue('#details'), who.details, 'the details were lost on the way back');
    await page.fill('#details', details);
    personal(details);
    await page.locator('#details-next').click();
    await onStep(page, 'citizen');
    assert.equal(await page.inputValue('#email'), who.email, 'the email was lost on the way back');
    await page.locator('#citizen-next').click();
    await onStep(page, 'summary');
    assert.ok((await page.textContent('#summary')).includes(details), 'the summary does not show the changed details');

    // Conferma → the confirmation page.
    await page.locator('#confirm-booking').click();
    await onStep(page, 'done');
    assert.equal(await page.locator('#hold-banner').isVisible(), false, 'the hold banner stays after the booking');
    const when = await page.textContent('#done-when');
    assert.ok(when.includes(romeTime(start)) && when.includes(romeTime(end)), `#done-when ${JSON.stringify(when)} lacks ${romeTime(start)}–${romeTime(end)}`);
    assert.ok((await page.textContent('#done-service')).includes(service.name), '#done-service');
    const bookingId = (await page.textContent('#done-reference')).trim();
    assert.match(bookingId, /^[0-9a-f-]{8,}$/i, '#done-reference');
    assert.ok((await page.textContent('#done-what-to-bring')).trim(), '#done-what-to-bring is empty');
    assert.ok((await page.textContent('#done-mail-note')).includes(who.email), '#done-mail-note does not name the email');
    const manageHref = await page.getAttribute('#done-manage', 'href');
    const pageToken = manageHref.match(/^\/prenotazione\/gestisci\/#([A-Za-z0-9_-]+)$/)?.[1];
    assert.ok(pageToken, `#done-manage href ${manageHref}`);
    personal(pageToken);
    // No personal datum in the address.
    for (const v of [who.email, who.familyName]) assert.ok(!page.url().includes(v), `the address holds personal data: ${page.url()}`);
    await check(page, 'booking-09-done', 'the confirmation page');

    // Aggiungi al calendario: an iCalendar file at the booked time.
    const [download] = await Promise.all([page.waitForEvent('download'), page.locator('#add-to-calendar').click()]);
    assert.match(download.suggestedFilename(), /\.ics$/, 'the calendar file is not .ics');
    const ics = await readFile(await download.path(), 'utf8');
    assert.match(ics, /BEGIN:VCALENDAR/);
    assert.match(ics, /BEGIN:VEVENT/);
    // Rome's wall-clock time with its TZID, and Rome's VTIMEZONE beside it.
    assert.match(ics, /BEGIN:VTIMEZONE\r\nTZID:Europe\/Rome\r\n/);
    const dtstart = ics.match(/DTSTART;TZID=Europe\/Rome:(\d{8}T\d{6})\r\n/)?.[1];
    assert.ok(dtstart, `no DTSTART in Rome's time in the calendar file:\n${ics}`);
    assert.equal(dtstart, start.slice(0, 19).replace(/[-:]/g, ''), 'DTSTART of the calendar file');
    assertClean(page);

    // The confirmation mail: its manage link opens this booking.
    const m = await mail(who.email, 'Conferma prenotazione');
    assert.ok(m.manage, `the mail has no manage link:\n${m.text}`);
    assert.ok(m.manage.startsWith(BASE_URL), `the manage link ${m.manage.replace(/#.*/, '#…')} is not on the site ${BASE_URL}`);
    assert.ok(m.room, 'the mail has no room link');
    const r = await api('GET', '/api/manage', undefined, { Authorization: `Bearer ${m.manageToken}` });
    assert.equal(r.status, 200, `GET /api/manage with the mail's token: ${r.text}`);
    assert.equal(r.json.booking_id, bookingId, 'the mail is for another booking');
    assert.equal(Date.parse(r.json.start), Date.parse(start), 'the booked start');
    assert.equal(r.json.status, 'confirmed');
    assert.equal(r.json.citizen?.details, details, 'the details sent');

    // The visit is one trace (lib/trace.js): its hold, its confirmation and
    // the mail the confirmation caused, as the stack's Jaeger keeps them.
    const jaeger = (await (await fetch(`${BASE_URL}/_local/services`)).json()).JAEGER_URL;
    assert.ok(jaeger, '/_local/services names no JAEGER_URL');
    // Every hold and the confirmation carried one trace id: the visit's.
    const ids = new Set([...(traceOf['/api/holds'] ?? []), ...(traceOf['/api/bookings'] ?? [])]);
    assert.ok(traceOf['/api/holds']?.length && traceOf['/api/bookings']?.length, `no hold or no confirmation seen: ${JSON.stringify(traceOf)}`);
    assert.equal(ids.size, 1, `the visit's requests carry ${ids.size} trace ids: ${JSON.stringify(traceOf)}`);
    const [traceId] = ids;
    assert.match(traceId, /^[0-9a-f]{32}$/, 'the trace id the page sent');
    const wanted = [['reserve', 'POST /api/holds'], ['confirm', 'POST /api/bookings'], ['send-email', 'smtp send']];
    let missing = wanted;
    for (let tries = 0; tries < 60 && missing.length; tries++) {
      const res = await fetch(`${jaeger}/api/traces/${traceId}`);
      const tr = res.ok ? ((await res.json()).data ?? [])[0] : undefined;
      missing = wanted.filter(([svc, op]) => !tr?.spans.some((sp) => tr.processes[sp.processID]?.serviceName === svc && sp.operationName === op));
      if (missing.length) await new Promise((ok) => setTimeout(ok, 500));
    }
    assert.deepEqual(missing, [], `the visit's trace ${traceId} in Jaeger lacks ${missing.map((w) => w.join(': ')).join(', ')}`);
    booked = { bookingId, start, end, who, mail: m, service, office };
  });
});

test('the manage link of the mail opens the booking', async () => {
  assert.ok(booked, 'the booking journey did not finish: no mail to follow');
  const res = await fetch(`${BASE_URL}/prenotazione/gestisci/`);
  assert.equal(res.status, 200, 'the manage page (/prenotazione/gestisci/) is not served');
  await inPage(browser, 'manage', async (page) => {
    // The mail's link has no trailing slash: the gateway's redirect keeps
    // the fragment.
    await page.goto(booked.mail.manage);
    await page.locator('h1').first().waitFor();
    await page.waitForFunction(() => location.hash === '', undefined, { timeout: 10_000 }).catch(() => assert.fail(`the token stays in the address: ${page.url()}`));
    const kept = await page.evaluate((tok) => Object.keys(sessionStorage).some((k) => sessionStorage.getItem(k)?.includes(tok)), booked.mail.manageToken);
    assert.ok(kept, 'the manage token is not kept in sessionStorage');
    await page.waitForFunction((hhmm) => document.querySelector('main')?.textContent.includes(hhmm), romeTime(booked.start), { timeout: 10_000 })
      .catch(() => assert.fail(`the manage page does not show the booked time ${romeTime(booked.start)}`));
    await check(page, 'manage-01-it', 'the manage page');
    // A reload keeps the booking (token from sessionStorage).
    await page.reload();
    await page.waitForFunction((hhmm) => document.querySelector('main')?.textContent.includes(hhmm), romeTime(booked.start), { timeout: 10_000 });
    assertClean(page);
  });
});

test('a booking from a service link, in English, on a phone, keyboard only', async () => {
  // Another office than the Italian journey's, through the home page's
  // per-service link (office and service preselected: it opens at the time).
  const office = offices.find((o) => o.id !== (booked?.office.id ?? 'urbanistica') && o.services?.length > 0) ?? offices[0];
  const service = office.services[0];
  const who = citizen('en');
  await inPage(browser, 'booking-en-phone', async (page) => {
    await page.goto('/');
    await setLanguage(page, 'en');
    await page.locator(`#book-${service.id}`).click();
    await page.waitForURL(/\/prenota\/\?/);
    const u = new URL(page.url());
    assert.equal(u.searchParams.get('servizio'), service.id);
    await onStep(page, 'slot', { moved: false });
    assert.equal(await page.getAttribute('html', 'lang'), 'en');
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    assert.ok(overflow <= 1, `the booking page is ${overflow}px wider than the phone's screen`);
    await check(page, 'booking-en-phone-01-slot', 'step slot, English, phone');

    const start = await pickFirstSlot(page, { keyboard: true });
    await check(page, 'booking-en-phone-02-slot-held', 'step slot held, English, phone');
    await page.locator('#slot-next').focus();
    await page.keyboard.press('Enter');

    await onStep(page, 'details');
    // Keyboard only: the focus is on the heading; Tab walks to the fields.
    await page.keyboard.press('Tab');
    assert.equal((await focused(page))?.id, 'reason', 'Tab from the step heading does not reach the first field');
    await page.keyboard.type(who.reason);
    await page.keyboard.press('Tab');
    assert.equal((await focused(page))?.id, 'details');
    await page.keyboard.type(who.details);
    await check(page, 'booking-en-phone-03-details', 'step details, English, phone');
    await page.keyboard.press('Enter'); // a newline in the textarea, not a submit
    await page.locator('#details-next').focus();
    await page.keyboard.press('Enter');

    await onStep(page, 'citizen');
    await page.keyboard.press('Tab');
    assert.equal((await focused(page))?.id, 'given-name');
    await page.keyboard.type(who.givenName);
    for (const [id, v] of [['family-name', who.familyName], ['address', who.address], ['email', who.email]]) {
      await page.locator(`#${id}`).focus();
      await page.keyboard.type(v);
    }
    await page.locator('#privacy-consent').focus();
    await page.keyboard.press('Space');
    assert.equal(await page.isChecked('#privacy-consent'), true, 'Space does not tick the consent');
    await check(page, 'booking-en-phone-04-citizen', 'step citizen, English, phone');
    await page.keyboard.press('Enter'); // submits the form

    await onStep(page, 'summary');
    assert.match(await page.textContent('#edit-details'), /Edit/);
    await check(page, 'booking-en-phone-05-summary', 'step summary, English, phone');
    await page.locator('#confirm-booking').focus();
    await page.keyboard.press('Enter');

    await onStep(page, 'done');
    assert.ok((await page.textContent('#done-when')).includes(romeTime(start)), '#done-when');
    personal(((await page.getAttribute('#done-manage', 'href')) ?? '').split('#')[1]);
    await check(page, 'booking-en-phone-06-done', 'the confirmation page, English, phone');
    assertClean(page);

    // The mail is in English too.
    const m = await mail(who.email, 'Booking confirmed');
    assert.ok(m.manage, 'the English mail has no manage link');
  }, { context: { ...PHONE, locale: 'en-GB' } });
});
