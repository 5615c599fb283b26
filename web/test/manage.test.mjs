// The manage page (/prenotazione/gestisci/#TOKEN), in the browser: a booking
// made over the API is opened with its manage token; the token leaves the
// address bar; the booking is shown; it is moved to another time with the
// slot picker; a PDF is uploaded (progress bar), listed and downloaded
// byte for byte; the booking is cancelled through the confirmation step. An
// unknown token says the link is not valid. axe runs on every state and
// every state leaves a screenshot.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { api, assertClean, book, citizen, demoOffices, focused, inPage, launch, romeTime, setLanguage, slotsOf, snap as check } from './lib.mjs';

// The documents' bytes come from and go to the object store (MinIO, the
// site's own store, on another port): those requests are expected.
const STORE = [/\/sportello-documents(\/|\?|$)/];

let browser;
let service; // the demo service booked
let booking; // the API's confirmation: booking_id, start, end, manage_token, ...

before(async () => {
  browser = await launch();
  const offices = await demoOffices();
  // The information desk: short slots, a one-hour cutoff. Not its first
  // free slot (the other tests may take that one).
  const office = offices.find((o) => o.services.some((s) => s.id === 'urp-informazioni')) ?? offices[0];
  service = office.services.find((s) => s.id === 'urp-informazioni') ?? office.services[0];
  const slots = (await slotsOf(service.id)).filter((s) => Date.parse(s.start) > Date.now() + 26 * 3600_000);
  assert.ok(slots.length >= 4, `too few free slots of ${service.id}`);
  booking = await book(service.id, slots[3].start, citizen('manage'));
});

after(async () => {
  await browser?.close();
});

async function openManage(page, token = booking.manage_token) {
  await page.goto(`/prenotazione/gestisci/#${token}`);
  await page.locator('#manage-content').waitFor({ state: 'visible' });
}

test('the manage page shows the booking and moves the token out of the address bar', async () => {
  await inPage(browser, 'manage-view', async (page) => {
    await openManage(page);
    assert.equal(new URL(page.url()).hash, '', `the token is still in the address bar: ${page.url()}`);
    assert.equal(await page.evaluate(() => sessionStorage.getItem('sportello.manage')), booking.manage_token, 'the token is not in sessionStorage');
    assert.equal((await page.textContent('#manage-status')).trim(), 'Confermato');
    assert.equal((await page.textContent('#manage-service')).trim(), booking.service_name);
    assert.equal((await page.textContent('#manage-office')).trim(), booking.office_name);
    assert.ok((await page.textContent('#manage-time')).includes(romeTime(booking.start)), 'the time is not shown');
    assert.ok((await page.textContent('#manage-time')).includes(romeTime(booking.end)), 'the end time is not shown');
    assert.equal((await page.textContent('#manage-desk')).trim(), booking.desk);
    assert.equal((await page.textContent('#manage-family-name')).trim(), booking.citizen.family_name);
    assert.equal((await page.textContent('#manage-email')).trim(), booking.citizen.email);
    if (booking.what_to_bring) assert.ok((await page.textContent('#manage-what-to-bring')).includes(booking.what_to_bring.split('\n')[0]));
    // The room's link carries the token, and when it opens.
    assert.equal(await page.getAttribute('#manage-room-link', 'href'), `/sala/#${booking.manage_token}`);
    const opens = new Date(Date.parse(booking.start) - 10 * 60_000);
    assert.ok((await page.textContent('#manage-room-opens')).includes(romeTime(opens)), 'the room opening time is not shown');
    // The documents' limits are said before any upload.
    assert.match(await page.textContent('#documents-limits'), /PDF.*20 MB/);
    await page.locator('#documents-empty').waitFor({ state: 'visible' });
    await check(page, 'manage-01-view-it', 'manage page (Italian)');

    // A reload keeps working: the token is in sessionStorage.
    await page.reload();
    await page.locator('#manage-content').waitFor({ state: 'visible' });
    assert.equal((await page.textContent('#manage-service')).trim(), booking.service_name);

    // In English.
    await setLanguage(page, 'en');
    assert.equal((await page.textContent('#manage-title')).trim(), 'Your booking');
    assert.equal((await page.textContent('#manage-status')).trim(), 'Confirmed');
    await check(page, 'manage-02-view-en', 'manage page (English)');
    await setLanguage(page, 'it');

    // A phone.
    await page.setViewportSize({ width: 390, height: 844 });
    await check(page, 'manage-03-view-phone', 'manage page on a phone');
    assertClean(page);
  });
});

test('an unknown or tampered token says the link is not valid', async () => {
  await inPage(browser, 'manage-invalid', async (page) => {
    await page.goto(`/prenotazione/gestisci/#${booking.manage_token.slice(0, -4)}AAAA`);
    await page.locator('#manage-message').waitFor({ state: 'visible' });
    assert.match(await page.textContent('#manage-message'), /non è valido/);
    assert.equal(await page.locator('#manage-content').isVisible(), false);
    assert.equal(new URL(page.url()).hash, '');
    await check(page, 'manage-04-invalid-link', 'manage page, link not valid');
    // Without any token.
    await page.evaluate(() => sessionStorage.clear());
    await page.goto('/prenotazione/gestisci/');
    await page.locator('#manage-message').waitFor({ state: 'visible' });
    assert.match(await page.textContent('#manage-message'), /link che hai ricevuto/);
    assertClean(page);
  });
});

test('reschedule to another time through the slot picker', async () => {
  await inPage(browser, 'manage-reschedule', async (page) => {
    await openManage(page);
    await page.locator('#manage-reschedule-open').click();
    await page.locator('#manage-reschedule').waitFor({ state: 'visible' });
    assert.equal((await focused(page))?.id, 'manage-reschedule-title', 'the focus is not on the reschedule heading');
    await page.locator('#reschedule-calendar').waitFor();
    await check(page, 'manage-05-reschedule-month', 'reschedule: the month');
    // A later day than the booking's, its first time.
    const days = page.locator('#reschedule-calendar button.slot-day:enabled');
    for (let i = 0; i < 3 && (await days.count()) < 2; i++) {
      await page.locator('#reschedule-next').click();
      await page.waitForTimeout(300);
    }
    const count = await days.count();
    assert.ok(count >= 1, 'no day with free times');
    await days.nth(count - 1).click();
    const time = page.locator('#reschedule-times .slot-time:enabled').first();
    await time.waitFor();
    const start = await time.getAttribute('data-start');
    assert.notEqual(Date.parse(start), Date.parse(booking.start));
    await time.click();
    await page.locator('#reschedule-confirm').waitFor({ state: 'visible' });
    assert.ok((await page.textContent('#reschedule-choice')).includes(romeTime(start)), 'the new time is not confirmed to the citizen');
    assert.equal((await focused(page))?.id, 'reschedule-confirm-title');
    await check(page, 'manage-06-reschedule-confirm', 'reschedule: confirm the new time');
    // Past the cutoff (422) and a slot taken meanwhile (409) are explained
    // (the answers the API gives then, for this one request each).
    for (const [status, code, expect] of [
      [422, 'unprocessable', /Non è più possibile cambiare orario online/],
      [409, 'conflict', /appena occupato/],
    ]) {
      await page.route('**/api/manage/reschedule', (route) =>
        route.fulfill({ status, contentType: 'application/problem+json', body: JSON.stringify({ status, code, detail: code }) }),
      );
      await page.locator('#reschedule-submit').click();
      await page.locator('#reschedule-error').waitFor({ state: 'visible' });
      assert.match(await page.textContent('#reschedule-error'), expect);
      assert.equal((await focused(page))?.id, 'reschedule-error');
      await page.unroute('**/api/manage/reschedule');
      if (status === 422) await check(page, 'manage-06b-reschedule-too-late', 'reschedule refused past the cutoff');
    }
    // After a 409 the choice is gone, and the refused time is not offered
    // again (whatever the calendar, up to a second stale, says): choose
    // another.
    assert.equal(await page.locator('#reschedule-confirm').isVisible(), false);
    await page.locator('#reschedule-calendar').waitFor();
    await days.nth((await days.count()) - 1).click();
    const other = page.locator('#reschedule-times .slot-time:enabled').first();
    await other.waitFor();
    assert.equal(await page.locator(`#reschedule-times .slot-time[data-start="${start}"]`).count(), 0, 'the refused time is offered again');
    const moved = await other.getAttribute('data-start');
    assert.notEqual(Date.parse(moved), Date.parse(start));
    await other.click();
    await page.locator('#reschedule-confirm').waitFor({ state: 'visible' });
    await page.locator('#reschedule-submit').click();
    await page.locator('#manage-notice').waitFor({ state: 'visible' });
    assert.ok((await page.textContent('#manage-notice')).includes(romeTime(moved)));
    assert.equal(await page.locator('#manage-reschedule').isVisible(), false);
    assert.ok((await page.textContent('#manage-time')).includes(romeTime(moved)));
    const r = await api('GET', '/api/manage', undefined, { Authorization: `Bearer ${booking.manage_token}` });
    assert.equal(r.status, 200);
    assert.equal(Date.parse(r.json.start), Date.parse(moved), 'the booking did not move');
    booking = { ...booking, ...r.json };
    await check(page, 'manage-07-rescheduled', 'rescheduled');
    assertClean(page);
  });
});

/** A small valid PDF, unique to this run. */
function pdf() {
  const text = `Sportello test ${Date.now()} ${Math.random()}`;
  const body = [
    '%PDF-1.4',
    '1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj',
    '2 0 obj << /Type /Pages /Kids [3 0 R] /Count 1 >> endobj',
    '3 0 obj << /Type /Page /Parent 2 0 R /MediaBox [0 0 300 100] /Contents 4 0 R >> endobj',
    `4 0 obj << /Length ${text.length + 30} >> stream`,
    `BT /F1 12 Tf 10 50 Td (${text}) Tj ET`,
    'endstream endobj',
    'trailer << /Root 1 0 R >>',
    '%%EOF',
  ].join('\n');
  // Padded to ~300 kB so the upload reports progress.
  return Buffer.concat([Buffer.from(body + '\n'), Buffer.alloc(300 * 1024, 0x20)]);
}

test('upload a PDF with the progress bar, see it listed, download it', async () => {
  await inPage(browser, 'manage-documents', async (page) => {
    await openManage(page);
    await page.locator('#documents-empty').waitFor({ state: 'visible' });
    // A file of a refused type is explained before anything is sent.
    await page.setInputFiles('#documents-file', { name: 'programma.exe', mimeType: 'application/x-msdownload', buffer: Buffer.from('MZ') });
    await page.locator('#documents-error').waitFor({ state: 'visible' });
    assert.match(await page.textContent('#documents-error'), /non è di un tipo accettato/);
    await check(page, 'manage-08-document-refused', 'documents: a refused type');

    // Record the progress bar's values.
    await page.evaluate(() => {
      window.__progress = [];
      const bar = document.querySelector('#documents-progress');
      new MutationObserver(() => window.__progress.push(Number(bar.getAttribute('aria-valuenow')))).observe(bar, { attributes: true, attributeFilter: ['aria-valuenow'] });
      const box = document.querySelector('#documents-progress-box');
      new MutationObserver(() => {
        if (!box.hidden) window.__progressShown = true;
      }).observe(box, { attributes: true, attributeFilter: ['hidden'] });
    });
    // Hold the check after the upload a moment: the full bar is seen.
    let release;
    const held = new Promise((r) => (release = r));
    await page.route('**/api/documents/*/complete', async (route) => {
      await held;
      await route.continue().catch(() => {});
    });
    const bytes = pdf();
    const name = `ricevuta-${Date.now()}.pdf`;
    await page.setInputFiles('#documents-file', { name, mimeType: 'application/pdf', buffer: bytes });
    assert.equal(await page.locator('#documents-error').isVisible(), false);
    await page.locator('#documents-upload').click();
    await page.waitForFunction(() => document.querySelector('#documents-progress')?.getAttribute('aria-valuenow') === '100');
    assert.equal(await page.locator('#documents-progress-box').isVisible(), true, 'the progress bar is not shown');
    await check(page, 'manage-09-document-uploading', 'documents: upload in progress');
    release();
    const item = page.locator('#documents-list li', { hasText: name });
    await item.waitFor();
    await page.unroute('**/api/documents/*/complete');
    assert.match(await page.textContent('#documents-status'), /inviato/);
    assert.equal(await page.locator('#documents-progress-box').isVisible(), false);
    const progress = await page.evaluate(() => window.__progress);
    assert.ok(progress.includes(100), `the bar never reached 100: ${progress}`);
    assert.ok(await page.evaluate(() => window.__progressShown), 'the progress bar was never shown');
    await check(page, 'manage-10-document-listed', 'documents: listed');

    // Download: the same bytes.
    const id = await item.getAttribute('data-id');
    const [download] = await Promise.all([page.waitForEvent('download'), page.locator(`#documents-download-${id}`).click()]);
    assert.equal(download.suggestedFilename(), name);
    const got = await readFile(await download.path());
    assert.equal(got.length, bytes.length, 'downloaded size differs');
    assert.ok(got.equals(bytes), 'downloaded bytes differ');
    assertClean(page);
  }, { context: { acceptDownloads: true }, page: { allow: STORE } });
});

test('cancel, through the confirmation step', async () => {
  await inPage(browser, 'manage-cancel', async (page) => {
    await openManage(page);
    await page.locator('#manage-cancel-open').click();
    await page.locator('#manage-cancel').waitFor({ state: 'visible' });
    assert.equal((await focused(page))?.id, 'manage-cancel-title');
    assert.ok((await page.textContent('#manage-cancel-text')).includes(romeTime(booking.start)));
    await check(page, 'manage-11-cancel-confirm', 'cancel: confirmation');
    // "No": nothing happens, the focus goes back.
    await page.locator('#cancel-back').click();
    assert.equal(await page.locator('#manage-cancel').isVisible(), false);
    assert.equal((await focused(page))?.id, 'manage-cancel-open');
    let r = await api('GET', '/api/manage', undefined, { Authorization: `Bearer ${booking.manage_token}` });
    assert.equal(r.json.status, 'confirmed');
    // Escape closes it too.
    await page.keyboard.press('Enter');
    await page.locator('#manage-cancel').waitFor({ state: 'visible' });
    await page.keyboard.press('Escape');
    assert.equal(await page.locator('#manage-cancel').isVisible(), false);
    // Past the cutoff (the API's 422 for this one request): explained.
    await page.locator('#manage-cancel-open').click();
    await page.route('**/api/manage/cancel', (route) =>
      route.fulfill({ status: 422, contentType: 'application/problem+json', body: JSON.stringify({ status: 422, code: 'unprocessable', detail: 'too late' }) }),
    );
    await page.locator('#cancel-confirm').click();
    await page.locator('#cancel-error').waitFor({ state: 'visible' });
    assert.match(await page.textContent('#cancel-error'), /Non è più possibile annullare online/);
    await page.unroute('**/api/manage/cancel');
    // "Yes".
    await page.locator('#cancel-confirm').click();
    await page.locator('#manage-notice').waitFor({ state: 'visible' });
    assert.match(await page.textContent('#manage-notice'), /annullato/);
    assert.equal((await page.textContent('#manage-status')).trim(), 'Annullato');
    assert.equal(await page.locator('#manage-actions').isVisible(), false, 'a cancelled booking still offers changes');
    assert.equal(await page.locator('#manage-room').isVisible(), false, 'a cancelled booking still offers the room');
    assert.equal(await page.locator('#documents-form').isVisible(), false, 'a cancelled booking still takes documents');
    r = await api('GET', '/api/manage', undefined, { Authorization: `Bearer ${booking.manage_token}` });
    assert.equal(r.json.status, 'cancelled');
    await check(page, 'manage-12-cancelled', 'cancelled');
    assertClean(page);
  });
});
