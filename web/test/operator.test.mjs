// The operator console (/operatore/) in the browser: a citizen's booking
// for the demo service "sue" made through the public API, then the demo
// operator of that office signs in (a wrong password first), sees it in the
// agenda by day and by week, opens it (the citizen's data), is told the room
// is not open yet and the outcome cannot be recorded before the start,
// uploads a PDF for the citizen (read back through a presigned download),
// moves it and cancels it with a confirmation step; an operator of another
// office sees neither the row nor the booking. axe runs on every view, and
// every view leaves a screenshot.
//
// Ids of the console (web/src/operatore/index.html, js/pages/operator.js):
//   sign-in   #op-signin, #signin-form, #signin-email, #signin-password,
//             #signin-submit, #signin-error (role=alert), #oidc-box/#oidc-signin
//             (shown only when /api/operator/oidc/config says enabled)
//   console   #op-console, #op-user, #admin-link (administrators), #signout
//   agenda    #op-agenda, #agenda-prev, #agenda-today, #agenda-next,
//             #agenda-date (input type=date), #view-day, #view-week
//             (aria-pressed), #agenda-range (h3), #agenda-status,
//             #agenda-list with section#agenda-day-YYYY-MM-DD, rows
//             tr#agenda-row-<booking id>, links a#open-<booking id>
//   detail    #op-detail, #detail-back, #detail-title, #detail-status,
//             #detail-when, #detail-citizen-name, #detail-citizen-email,
//             #detail-citizen-address, #detail-reason, #detail-details,
//             #detail-attendance, #detail-history
//   call      #join-call, #call-status, #call-panel, #call-remote (remote
//             video container), #call-local, #call-mute, #call-camera,
//             #call-leave, #chat-log, #chat-form, #chat-input, #chat-send
//             (chat: UTF-8 text on data topic "chat", as room.js)
//   documents #doc-list (li#doc-<id>, button#doc-download-<id>), #doc-file,
//             #doc-upload, #doc-progress, #doc-status, #doc-file-error
//   outcome   #outcome-form, #outcome-completed, #outcome-no_show,
//             #outcome-note, #outcome-submit, #outcome-error, #outcome-current
//   changes   #reschedule-open, picker prefix "op-reschedule" in
//             #op-reschedule-box, #reschedule-confirm, #reschedule-abort,
//             #reschedule-error, #cancel-open, #cancel-confirm, #cancel-abort,
//             #cancel-error, #changes-result
// The address: /operatore/?data=YYYY-MM-DD&vista=giorno|settimana, or
// /operatore/?prenotazione=<booking id>.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { DEMO_PASSWORD as PASSWORD, api, assertClean, book, citizen, inPage, launch, romeDay, setLanguage, signIn, slotsOf, snap as check } from './lib.mjs';

const SUE_OPERATOR = 'operatore.urbanistica@comune.bari.it';
const OTHER_OPERATOR = 'operatore.urp@comune.bari.it';
// Presigned uploads and downloads go to MinIO's origin (the bucket).
const MINIO = /^http:\/\/127\.0\.0\.1:\d+\/sportello-documents([/?]|$)/;

let browser;
let booking; // {id, start, end, who}

/** bookSue makes a booking for the demo service "sue" through the public API (its skip-th free slot). */
async function bookSue(tag, skip = 0) {
  const slots = await slotsOf('sue');
  assert.ok(slots.length > skip, 'no free slot for sue');
  const slot = slots[skip];
  const who = citizen(tag);
  const b = await book('sue', slot.start, who);
  return { id: b.booking_id, start: slot.start, end: slot.end, who };
}

before(async () => {
  browser = await launch();
  booking = await bookSue('op');
});

after(async () => {
  await browser?.close();
});

test('the office operator signs in, works the agenda and the booking', async () => {
  await inPage(browser, 'operator-office', async (page) => {
    // Sign-in: a wrong password first.
    await page.goto('/operatore/');
    await page.locator('#op-signin').waitFor({ state: 'visible' });
    assert.equal(await page.locator('#op-console').isVisible(), false);
    await check(page, 'operator-01-signin');
    await signIn(page, SUE_OPERATOR, 'not-the-password');
    await page.locator('#signin-error').waitFor({ state: 'visible' });
    assert.match(await page.textContent('#signin-error'), /Email o password non corrette/);
    assert.equal(await page.inputValue('#signin-password'), '', 'the wrong password is left in the field');
    await check(page, 'operator-02-signin-wrong');

    // The right one: the agenda of today.
    await page.fill('#signin-email', SUE_OPERATOR);
    await page.fill('#signin-password', PASSWORD);
    await page.click('#signin-submit');
    await page.locator('#op-agenda').waitFor({ state: 'visible' });
    assert.match(await page.textContent('#op-user'), /\S/);
    assert.equal(await page.locator('#admin-link').isVisible(), false, 'an operator sees the administration link');

    // The booking's day.
    const day = romeDay(booking.start);
    await page.fill('#agenda-date', day);
    await page.locator('#agenda-date').dispatchEvent('change');
    const row = page.locator(`#agenda-row-${booking.id}`);
    await row.waitFor({ state: 'visible' });
    const text = await row.textContent();
    assert.ok(text.includes(booking.who.familyName), `the row does not name the citizen: ${text}`);
    assert.match(text, /Confermato/);
    assert.equal(await page.getAttribute('#view-day', 'aria-pressed'), 'true');
    assert.ok(page.url().includes(`data=${day}`), `the address does not keep the day: ${page.url()}`);
    await check(page, 'operator-03-agenda-day');

    // The week.
    await page.click('#view-week');
    await page.waitForFunction(() => document.querySelector('#view-week')?.getAttribute('aria-pressed') === 'true');
    await page.locator(`#agenda-day-${day}`).waitFor({ state: 'visible' });
    await row.waitFor({ state: 'visible' });
    assert.equal(await page.locator('#agenda-list section.op-day').count(), 7, 'the week has not 7 days');
    assert.match(await page.textContent('#agenda-range'), /Settimana/);
    await check(page, 'operator-04-agenda-week');
    // Next week and back.
    await page.click('#agenda-next');
    await row.waitFor({ state: 'detached' });
    await page.click('#agenda-prev');
    await row.waitFor({ state: 'visible' });

    // The detail.
    await page.click(`#open-${booking.id}`);
    await page.locator('#detail-body').waitFor({ state: 'visible' });
    assert.ok(page.url().includes(`prenotazione=${booking.id}`));
    assert.equal((await page.textContent('#detail-citizen-name')).trim(), `${booking.who.givenName} ${booking.who.familyName}`);
    assert.equal((await page.textContent('#detail-citizen-email')).trim(), booking.who.email);
    assert.equal((await page.textContent('#detail-citizen-address')).trim(), booking.who.address);
    assert.equal((await page.textContent('#detail-details')).trim(), booking.who.details);
    assert.match(await page.textContent('#detail-history'), /Prenotazione confermata/);
    await check(page, 'operator-05-detail');

    // The room is not open yet: the opening time is said.
    await page.click('#join-call');
    await page.waitForFunction(() => /apre/.test(document.querySelector('#call-status')?.textContent ?? ''));
    assert.equal(await page.locator('#call-panel').isVisible(), false);

    // The outcome cannot be recorded before the start.
    await page.fill('#outcome-note', 'Nota di prova');
    await page.click('#outcome-submit');
    await page.locator('#outcome-error').waitFor({ state: 'visible' });
    assert.match(await page.textContent('#outcome-error'), /non è ancora iniziato/);
    await check(page, 'operator-06-detail-errors');

    // A PDF for the citizen, with the progress bar, then in the list.
    const pdf = Buffer.from('%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n');
    await page.setInputFiles('#doc-file', { name: 'ricevuta-ufficio.pdf', mimeType: 'application/pdf', buffer: pdf });
    await page.click('#doc-upload');
    await page.waitForFunction(() => /caricato/.test(document.querySelector('#doc-status')?.textContent ?? ''), null, { timeout: 20_000 });
    const item = page.locator('#doc-list li', { hasText: 'ricevuta-ufficio.pdf' });
    await item.waitFor({ state: 'visible' });
    assert.match(await item.textContent(), /inviato dall'ufficio/);
    await check(page, 'operator-07-uploaded');
    // Its presigned download gives the same bytes.
    const docId = (await item.getAttribute('id')).replace(/^doc-/, '');
    const url = await page.evaluate(
      async ([b, d]) => (await (await fetch(`/api/operator/bookings/${b}/documents/${d}`, { credentials: 'same-origin' })).json()).url,
      [booking.id, docId],
    );
    const got = Buffer.from(await (await fetch(url)).arrayBuffer());
    assert.ok(got.equals(pdf), 'the downloaded document differs from the uploaded one');

    // English.
    await setLanguage(page, 'en');
    assert.equal(await page.textContent('#join-call'), 'Enter the room');
    assert.match(await page.textContent('#outcome-title'), /Outcome/);
    await check(page, 'operator-08-detail-en');
    await setLanguage(page, 'it');

    // Move it on the citizen's behalf.
    await page.click('#reschedule-open');
    await page.locator('#op-reschedule-calendar').waitFor({ state: 'visible' });
    await page.locator('#op-reschedule-calendar .slot-day').first().click();
    const times = page.locator('#op-reschedule-times .slot-time');
    await times.first().waitFor({ state: 'visible' });
    // Not the time it has now.
    let target = times.first();
    for (let i = 0; i < (await times.count()); i++) {
      const start = await times.nth(i).getAttribute('data-start');
      if (new Date(start).getTime() !== new Date(booking.start).getTime()) {
        target = times.nth(i);
        break;
      }
    }
    const newStart = await target.getAttribute('data-start');
    await target.click();
    assert.equal(await page.isEnabled('#reschedule-confirm'), true);
    await check(page, 'operator-09-reschedule');
    await page.click('#reschedule-confirm');
    await page.waitForFunction(() => /spostato/.test(document.querySelector('#changes-result')?.textContent ?? ''));
    const moved = await api('GET', `/api/slots?service_id=sue`);
    assert.equal(moved.status, 200);
    booking.start = newStart;

    // Cancel, with a confirmation step.
    await page.click('#cancel-open');
    await page.locator('#cancel-panel').waitFor({ state: 'visible' });
    await check(page, 'operator-10-cancel-confirm');
    await page.click('#cancel-abort');
    await page.locator('#cancel-panel').waitFor({ state: 'hidden' });
    await page.click('#cancel-open');
    await page.click('#cancel-confirm');
    await page.waitForFunction(() => /Annullato/.test(document.querySelector('#detail-badges')?.textContent ?? ''));
    assert.equal(await page.locator('#changes-section').isVisible(), false);
    await check(page, 'operator-11-cancelled');

    // Sign out.
    await page.click('#signout');
    await page.locator('#op-signin').waitFor({ state: 'visible' });
    await page.goto('/operatore/');
    await page.locator('#op-signin').waitFor({ state: 'visible' });
    assertClean(page);
  }, { page: { allow: [MINIO] } });
});

test("another office's operator sees neither the row nor the booking", async () => {
  const other = await bookSue('op2', 1);
  await inPage(browser, 'operator-other-office', async (page) => {
    await signIn(page, OTHER_OPERATOR);
    await page.locator('#op-agenda').waitFor({ state: 'visible' });
    const day = romeDay(other.start);
    await page.goto(`/operatore/?data=${day}&vista=settimana`);
    await page.waitForFunction(() => /Appuntamenti|Nessun appuntamento/.test(document.querySelector('#agenda-status')?.textContent ?? ''));
    assert.equal(await page.getAttribute('#view-week', 'aria-pressed'), 'true');
    assert.equal(await page.locator(`#agenda-row-${other.id}`).count(), 0, 'another office sees the booking in its agenda');
    assert.ok(!(await page.textContent('#agenda-list')).includes(other.who.familyName));
    await page.goto(`/operatore/?prenotazione=${other.id}`);
    await page.waitForFunction(() => /non trovato/.test(document.querySelector('#detail-status')?.textContent ?? ''));
    assert.equal(await page.locator('#detail-body').isVisible(), false);
    assert.ok(!(await page.textContent('main')).includes(other.who.familyName));
    await check(page, 'operator-12-other-office');
    assertClean(page);
  });
});
