// What the API refuses, said by the site in the page's language from the
// problem's stable reasons and codes (lib/problems.js) — never the API's
// English message — next to the field it names (lib/form.js), or in the
// page's alert when it names none. The booking flow's confirmation is
// answered, for one request each, with the problems the API gives; the
// booking's own steps take the citizen back to the field at fault.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { assertClean, citizen, demoOffices, focused, inPage, launch, onStep, setLanguage, snap } from './lib.mjs';

let browser;
let service;

before(async () => {
  browser = await launch();
  const offices = await demoOffices();
  service = offices.flatMap((o) => o.services ?? []).find((s) => s.id === 'sue') ?? offices.find((o) => o.services?.length).services[0];
});

after(async () => {
  await browser?.close();
});

// English messages the API sends for people reading logs: none of them may
// reach the page.
const ENGLISH = ['not a valid email address', 'at most 100 characters', 'is in the past', 'must be shiny'];

/** problem is a 400 problem+json as functions/internal/httpx writes it. */
function problem(errors) {
  return {
    status: 400,
    contentType: 'application/problem+json',
    body: JSON.stringify({ type: 'urn:sportello:problem:invalid', title: 'Bad Request', status: 400, detail: errors[0].message, code: 'invalid', field: errors[0].field, errors }),
  };
}

/** toSummary holds the first free time and fills the steps up to the summary. */
async function toSummary(page, who) {
  await page.goto(`/prenota/?servizio=${service.id}`);
  await onStep(page, 'slot', { moved: false });
  await page.locator('#slots-calendar').waitFor();
  const day = page.locator('button.slot-day:enabled');
  for (let i = 0; i < 3 && (await day.count()) === 0; i++) await page.locator('#slots-next').click();
  await day.first().click();
  await page.locator('#slots-times .slot-time:enabled').first().click();
  await page.locator('#hold-banner').waitFor({ state: 'visible' });
  await page.locator('#slot-next').click();
  await onStep(page, 'details');
  await page.locator('#details-next').click();
  await onStep(page, 'citizen');
  await page.fill('#given-name', who.givenName);
  await page.fill('#family-name', who.familyName);
  await page.fill('#address', who.address);
  await page.fill('#email', who.email);
  await page.locator('label[for="privacy-consent"]').click();
  await page.locator('#citizen-next').click();
  await onStep(page, 'summary');
}

async function noEnglish(page) {
  const text = await page.textContent('main');
  for (const e of ENGLISH) assert.ok(!text.includes(e), `the page shows the API's English message "${e}"`);
}

test("the API's field problems are said next to their fields, in Italian and in English", async () => {
  const who = citizen('err');
  await inPage(browser, 'errors-booking', async (page) => {
    await toSummary(page, who);
    let answer = problem([
      { field: 'citizen.email', reason: 'invalid_email', message: 'not a valid email address' },
      { field: 'citizen.given_name', reason: 'too_long', limit: 100, message: 'at most 100 characters' },
    ]);
    await page.route('**/api/bookings', (route) => route.fulfill(answer));

    // Back to the citizen's step, each problem next to its field.
    await page.locator('#confirm-booking').click();
    await onStep(page, 'citizen', { moved: false });
    await page.locator('#email-error').waitFor({ state: 'visible' });
    assert.equal((await page.textContent('#email-error')).trim(), 'Inserisci un indirizzo email valido, ad esempio nome@esempio.it.');
    assert.equal((await page.textContent('#given-name-error')).trim(), 'Al massimo 100 caratteri.');
    for (const id of ['email', 'given-name']) assert.equal(await page.getAttribute(`#${id}`, 'aria-invalid'), 'true', `#${id} is not aria-invalid`);
    assert.match(await page.getAttribute('#email', 'aria-describedby'), /\bemail-error\b/);
    assert.equal((await focused(page))?.id, 'given-name', 'the focus is not on the first field at fault');
    assert.equal(await page.locator('#flow-message').isVisible(), false, 'a page-level alert for problems that have their fields');
    await noEnglish(page);
    await snap(page, 'errors-01-fields', 'the API refused two fields');

    // A problem of the time itself (no field of the page): the time step's alert.
    answer = problem([{ field: 'start', reason: 'past', message: '2027-03-28T09:00:00+02:00 is in the past' }]);
    await page.locator('#citizen-next').click();
    await onStep(page, 'summary');
    await page.locator('#confirm-booking').click();
    await onStep(page, 'slot', { moved: false });
    await page.locator('#flow-message').waitFor({ state: 'visible' });
    assert.equal((await page.textContent('#flow-message')).trim(), "L'orario è già passato.");
    await noEnglish(page);

    // A reason the site does not know yet: a generic text, not the message; in English too.
    await setLanguage(page, 'en');
    answer = problem([{ field: 'citizen.email', reason: 'brand_new', message: 'must be shiny' }]);
    await page.locator('#slot-next').click();
    await onStep(page, 'details');
    await page.locator('#details-next').click();
    await onStep(page, 'citizen');
    await page.locator('#citizen-next').click();
    await onStep(page, 'summary');
    await page.locator('#confirm-booking').click();
    await onStep(page, 'citizen', { moved: false });
    await page.waitForFunction(() => document.querySelector('#email-error')?.textContent.trim() === 'Invalid value.');
    await noEnglish(page);
    await snap(page, 'errors-02-unknown-reason-en', 'an unknown reason, in English');
    await setLanguage(page, 'it');
    assertClean(page);
  });
});
