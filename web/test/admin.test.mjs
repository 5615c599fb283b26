// The administration (/operatore/amministrazione/) in the browser: the demo
// administrator signs in on the console, follows its link and configures an
// office from nothing — the office (a bad identifier first: the error is
// next to the field) with its click-day limits, which the API answers back
// and an edit changes (an out-of-range one refused next to its field, an
// emptied one back to the default), a service with a waiting-room admission
// rate (answered back, then emptied: no room of its own), its weekly hours
// (two periods on Monday),
// a desk and an operator of that office. A citizen books the new service
// through the public API; a closure over that day is refused with the
// booking listed, a preview changes nothing, and "Annulla le prenotazioni e
// avvisa i cittadini" applies it, cancelling the booking. The audit log
// shows the changes. An operator who is not an administrator gets "not
// allowed", and nobody signed in is sent to sign in. axe runs on every
// view, each leaves a screenshot.
//
// Ids of the administration (web/src/operatore/amministrazione/index.html,
// js/pages/admin.js):
//   #admin-status, #admin-denied (#admin-denied-text, #admin-denied-link),
//   #admin-app, #admin-user, #console-link, #admin-message (role=status)
//   tabs #tab-offices, #tab-services, #tab-closures, #tab-operators,
//   #tab-audit (aria-pressed), sections #section-<name> with h2 #<name>-title
//   forms: #<prefix>-form, controls #<prefix>-<API field>, errors
//   #<prefix>-<API field>-error, #<prefix>-error, #<prefix>-submit,
//   #<prefix>-cancel; prefixes office, service, closure, operator, reset
//   (e.g. #office-id, #service-duration_minutes, #closure-first_day,
//   #operator-offices-<office id> checkboxes); a group of fields is a
//   fieldset #<prefix>-<member> with controls #<prefix>-<member>-<field>
//   (#office-limits, #office-limits-max_holds_per_client, …)
//   offices   #offices-table, tr#office-row-<id>, #office-edit-<id>, #office-toggle-<id>
//   services  #services-filter, #services-table, tr#service-row-<id>,
//             #service-edit-<id>, #service-toggle-<id>; hours #hours-form,
//             #hours-add-<weekday 1..7>, #hours-<weekday>-<n>-opens/-closes/-remove,
//             #hours-save, #hours-error; desks #desk-form, #desk-label,
//             #desk-add, #desks-table, tr#desk-row-<id>, #desk-toggle-<id>
//   closures  #closures-table, tr#closure-row-<id>, #closure-remove-<id>
//   operators #operators-table, tr#operator-row-<id>, #operator-edit-<id>,
//             #operator-reset-<id>, #reset-form, #reset-password
//   stranded  #stranded, #stranded-title, #stranded-list (tr#stranded-<booking id>),
//             #stranded-preview, #stranded-preview-result, #stranded-confirm,
//             #stranded-abort, #stranded-error
//   audit     #audit-kind, #audit-target, #audit-apply, #audit-rows
//             (tr#audit-<id>), #audit-more, #audit-status
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { calendarDays, DEMO_ADMIN, RUN, api, assertClean, book, citizen, failed, inPage, launch, newContext, newPage, operatorSession, personal, romeDay, signIn as signInForm, snap as check } from './lib.mjs';

const ADMIN = DEMO_ADMIN.email;

let browser;

/** signIn signs in on the console and waits for its agenda. */
async function signIn(page, email, password) {
  await signInForm(page, email, password);
  await page.locator('#op-agenda').waitFor({ state: 'visible' });
}

async function said(page, re) {
  await page
    .waitForFunction((src) => new RegExp(src).test(document.querySelector('#admin-message')?.textContent ?? ''), re.source, { timeout: 10_000 })
    .catch(async () => assert.fail(`#admin-message says ${JSON.stringify(await page.textContent('#admin-message'))}, want ${re}`));
}

/** listed is the member with id of the administration's list (offices, services?office_id=…) as the API answers it. */
async function listed(admin, list, id) {
  const r = await admin('GET', `/admin/${list}`, undefined, 200);
  const name = list.split('?')[0];
  const item = r.json[name].find((x) => x.id === id);
  assert.ok(item, `GET /admin/${list} lists no ${id}: ${r.text}`);
  return item;
}

/** limits is an office's "limits" as the API answers them (null: the default). */
const limits = (max, perClient, perAddress) => ({ max_holds_per_client: max, holds_per_minute_per_client: perClient, holds_per_minute_per_address: perAddress });

before(async () => {
  browser = await launch();
});

after(async () => {
  await browser?.close();
});

test('the administrator configures an office from nothing, and a closure cancels a booking', async () => {
  const context = await newContext(browser);
  const page = await newPage(context);
  const id = `ufficio-${RUN}`.toLowerCase().replace(/[^a-z0-9-]/g, '');
  const serviceId = `servizio-${RUN}`.toLowerCase().replace(/[^a-z0-9-]/g, '');
  try {
    await signIn(page, ADMIN);
    await page.locator('#admin-link').waitFor({ state: 'visible' });
    await page.click('#admin-link');
    await page.waitForURL(/\/operatore\/amministrazione\/$|\/operatore\/amministrazione\/#/);
    await page.locator('#admin-app').waitFor({ state: 'visible' });
    await page.locator('#offices-table').waitFor({ state: 'visible' });
    assert.ok((await page.locator('#offices-table tbody tr').count()) >= 3, 'the demo offices are not listed');
    await check(page, 'admin-01-offices');

    // An office: a bad identifier first, its error next to the field.
    await page.fill('#office-id', 'Non Valido!');
    await page.fill('#office-name', `Ufficio di prova ${RUN}`);
    await page.click('#office-submit');
    await page.waitForFunction(() => (document.querySelector('#office-id-error')?.textContent ?? '').length > 0);
    assert.equal(await page.getAttribute('#office-id', 'aria-invalid'), 'true');
    await check(page, 'admin-02-office-error');
    await page.fill('#office-id', id);
    await page.fill('#office-address', 'Corso Vittorio Emanuele II 84, Bari');
    // Its click-day limits: two of the three set, the other left to the default.
    assert.match(await page.textContent('#office-limits legend'), /Limiti del giorno di apertura delle prenotazioni/);
    for (const f of ['max_holds_per_client', 'holds_per_minute_per_client', 'holds_per_minute_per_address']) {
      const described = await page.getAttribute(`#office-limits-${f}`, 'aria-describedby');
      assert.ok(described.includes(`office-limits-${f}-hint`), `#office-limits-${f} is not described by its hint: ${described}`);
      assert.match(await page.textContent(`#office-limits-${f}-hint`), /vuoto: il valore predefinito/);
    }
    await page.fill('#office-limits-max_holds_per_client', '2');
    await page.fill('#office-limits-holds_per_minute_per_address', '300');
    await page.click('#office-submit');
    await page.locator(`#office-row-${id}`).waitFor({ state: 'visible' });
    await said(page, /creato/);
    const admin = await operatorSession(DEMO_ADMIN);
    assert.deepEqual((await listed(admin, 'offices', id)).limits, limits(2, null, 300));

    // Edited: an out-of-range limit is refused next to its field; an
    // emptied one goes back to the default.
    await page.click(`#office-edit-${id}`);
    await page.locator('#office-form-title').waitFor({ state: 'visible' });
    assert.equal(await page.inputValue('#office-limits-max_holds_per_client'), '2');
    assert.equal(await page.inputValue('#office-limits-holds_per_minute_per_client'), '');
    await page.fill('#office-limits-max_holds_per_client', '101');
    await page.click('#office-submit');
    await page.waitForFunction(() => (document.querySelector('#office-limits-max_holds_per_client-error')?.textContent ?? '').length > 0);
    assert.equal(await page.getAttribute('#office-limits-max_holds_per_client', 'aria-invalid'), 'true');
    assert.match(await page.textContent('#office-limits-max_holds_per_client-error'), /da 1 a 100/);
    await check(page, 'admin-02b-office-limits-error');
    await page.fill('#office-limits-max_holds_per_client', '');
    await page.fill('#office-limits-holds_per_minute_per_client', '30');
    await page.click('#office-submit');
    await said(page, /salvato/);
    assert.deepEqual((await listed(admin, 'offices', id)).limits, limits(null, 30, 300));

    // A service of that office.
    await page.click('#tab-services');
    await page.locator('#service-form').waitFor({ state: 'visible' });
    await page.fill('#service-id', serviceId);
    await page.selectOption('#service-office_id', id);
    await page.fill('#service-name', `Servizio di prova ${RUN}`);
    await page.fill('#service-duration_minutes', '30');
    await page.fill('#service-min_notice_minutes', '60');
    await page.fill('#service-horizon_days', '30');
    await page.fill('#service-what_to_bring', "Documento d'identità");
    await page.fill('#service-admission_per_minute', '40');
    assert.ok((await page.getAttribute('#service-admission_per_minute', 'aria-describedby')).includes('service-admission_per_minute-hint'));
    await check(page, 'admin-03-service-form');
    await page.click('#service-submit');
    await page.locator(`#service-row-${serviceId}`).waitFor({ state: 'visible' });
    await page.locator('#hours-form').waitFor({ state: 'visible' });
    assert.equal((await listed(admin, `services?office_id=${id}`, serviceId)).admission_per_minute, 40);
    // Emptied: no waiting room of its own (the citizen below books without one).
    assert.equal(await page.inputValue('#service-admission_per_minute'), '40');
    await page.fill('#service-admission_per_minute', '');
    await page.click('#service-submit');
    await said(page, /Servizio .* salvato/);
    assert.equal((await listed(admin, `services?office_id=${id}`, serviceId)).admission_per_minute, null);

    // Its hours: Monday to Friday 09:00–12:30, and Monday afternoon too.
    for (let d = 1; d <= 5; d++) {
      await page.click(`#hours-add-${d}`);
      await page.locator(`#hours-${d}-0-opens`).waitFor({ state: 'visible' });
      await page.fill(`#hours-${d}-0-opens`, '09:00');
      await page.fill(`#hours-${d}-0-closes`, '12:30');
    }
    await page.click('#hours-add-1');
    await page.fill('#hours-1-1-opens', '15:00');
    await page.fill('#hours-1-1-closes', '17:00');
    // An overlapping period is refused next to it.
    await page.click('#hours-add-2');
    await page.fill('#hours-2-1-opens', '11:00');
    await page.fill('#hours-2-1-closes', '13:00');
    await page.click('#hours-save');
    await page.waitForFunction(() => (document.querySelector('#hours-2-1-opens-error')?.textContent ?? '').length > 0);
    await check(page, 'admin-04-hours-error');
    await page.click('#hours-2-1-remove');
    await page.locator('#hours-2-1-opens').waitFor({ state: 'detached' });
    await page.click('#hours-save');
    await said(page, /Orari di .* salvati/);
    assert.equal(await page.inputValue('#hours-1-1-opens'), '15:00');

    // A desk.
    await page.fill('#desk-label', 'Sportello 1');
    await page.click('#desk-add');
    await page.locator('#desks-table tbody tr', { hasText: 'Sportello 1' }).waitFor({ state: 'visible' });
    await check(page, 'admin-05-service-hours-desk');

    // An operator of the new office.
    const email = `operatore.${RUN}@comune.bari.it`.toLowerCase();
    personal(email);
    await page.click('#tab-operators');
    await page.locator('#operator-form').waitFor({ state: 'visible' });
    await page.fill('#operator-email', email);
    await page.fill('#operator-display_name', `Operatore di prova ${RUN}`);
    await page.selectOption('#operator-role', 'operator');
    await page.click(`label[for="operator-offices-${id}"]`); // Bootstrap Italia draws the box on the label
    assert.equal(await page.isChecked(`#operator-offices-${id}`), true);
    await page.fill('#operator-password', 'una-password-lunga-123');
    await page.click('#operator-submit');
    const opRow = page.locator('#operators-table tbody tr', { hasText: email });
    await opRow.waitFor({ state: 'visible' });
    assert.ok((await opRow.textContent()).includes(`Ufficio di prova ${RUN}`));
    await check(page, 'admin-06-operators');

    // The new operator can sign in (another browser context).
    {
      const c2 = await newContext(browser);
      const p2 = await newPage(c2);
      await signIn(p2, email, 'una-password-lunga-123');
      assert.match(await p2.textContent('#op-role'), new RegExp(`Ufficio di prova ${RUN}`));
      await c2.close();
    }

    // A citizen books the new service.
    const slots = await api('GET', `/api/slots?service_id=${serviceId}`);
    assert.equal(slots.status, 200, slots.text);
    const slot = calendarDays(slots.json).flatMap((d) => d.slots)[0];
    assert.ok(slot, `the new service has no free slot: ${slots.text}`);
    const who = citizen('adm');
    const b = await book(serviceId, slot.start, who);
    const day = romeDay(slot.start);

    // A closure over that day: refused with the booking listed.
    await page.click('#tab-closures');
    await page.locator('#closure-form').waitFor({ state: 'visible' });
    await page.selectOption('#closure-office_id', id);
    await page.fill('#closure-first_day', day);
    await page.fill('#closure-last_day', day);
    await page.fill('#closure-reason', `Disinfestazione ${RUN}`);
    await page.click('#closure-submit');
    await page.locator('#stranded').waitFor({ state: 'visible' });
    await page.locator(`#stranded-${b.booking_id}`).waitFor({ state: 'visible' });
    assert.match(await page.textContent(`#stranded-${b.booking_id}`), /giorno di chiusura/);
    assert.ok(!(await page.textContent('#stranded')).includes(who.familyName), 'the stranded list shows personal data');
    await check(page, 'admin-07-stranded');
    // The preview writes nothing.
    await page.click('#stranded-preview');
    await page.waitForFunction(() => /annullate: 1/.test(document.querySelector('#stranded-preview-result')?.textContent ?? ''));
    let m = await api('GET', '/api/manage', undefined, { Authorization: `Bearer ${b.manage_token}` });
    assert.equal(m.status, 200, m.text);
    assert.equal(m.json.status, 'confirmed', 'the preview cancelled the booking');
    // Applied, cancelling it.
    await page.click('#stranded-confirm');
    await said(page, /annullate: 1/);
    assert.equal(await page.locator('#stranded').isVisible(), false);
    await page.locator('#closures-table tbody tr', { hasText: `Disinfestazione ${RUN}` }).waitFor({ state: 'visible' });
    m = await api('GET', '/api/manage', undefined, { Authorization: `Bearer ${b.manage_token}` });
    assert.equal(m.status, 200, m.text);
    assert.equal(m.json.status, 'cancelled');
    await check(page, 'admin-08-closure-applied');

    // The audit log.
    await page.click('#tab-audit');
    await page.locator('#audit-rows tr').first().waitFor({ state: 'visible' });
    assert.match(await page.textContent('#audit-rows'), /closure/);
    await page.selectOption('#audit-kind', 'office');
    await page.fill('#audit-target', id);
    await page.click('#audit-apply');
    await page.waitForFunction(() => /Voci mostrate/.test(document.querySelector('#audit-status')?.textContent ?? ''));
    assert.ok((await page.locator('#audit-rows tr').count()) >= 1);
    assert.match(await page.textContent('#audit-rows'), new RegExp(id));
    await check(page, 'admin-09-audit');
    assertClean(page);
  } catch (err) {
    await failed(page, 'admin-configure', err);
  } finally {
    await context.close();
  }
});

test('an operator is not allowed, and nobody signed in is sent to sign in', async () => {
  await inPage(browser, 'admin-forbidden', async (page) => {
    await page.goto('/operatore/amministrazione/');
    await page.locator('#admin-denied').waitFor({ state: 'visible' });
    assert.match(await page.textContent('#admin-denied'), /accedi/i);
    assert.equal(await page.getAttribute('#admin-denied-link', 'href'), '/operatore/');
    await check(page, 'admin-10-signed-out');

    await signIn(page, 'operatore.urp@comune.bari.it');
    assert.equal(await page.locator('#admin-link').isVisible(), false);
    await page.goto('/operatore/amministrazione/');
    await page.locator('#admin-denied').waitFor({ state: 'visible' });
    assert.match(await page.textContent('#admin-denied-text'), /non è di amministratore/);
    assert.equal(await page.locator('#admin-app').isVisible(), false);
    await check(page, 'admin-11-forbidden');
    assertClean(page);
  });
});
