// The home page: the offices and their services, in Italian and in English,
// on a PC and on a phone; the security headers; axe on each; screenshots.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { BASE_URL, PHONE, assertClean, checkPage, demoOffices, inPage, launch, setLanguage } from './lib.mjs';

let browser;
let offices;

before(async () => {
  browser = await launch();
  offices = await demoOffices();
  assert.ok(offices.length > 0, 'the demo data has offices');
});

after(async () => {
  await browser?.close();
});

test('the site is served with the security headers', async () => {
  for (const p of ['/', '/prenota/']) {
    const res = await fetch(BASE_URL + p);
    assert.equal(res.status, 200, `GET ${p}`);
    assert.match(res.headers.get('content-type') ?? '', /^text\/html/, `GET ${p}: Content-Type`);
    const csp = res.headers.get('content-security-policy') ?? '';
    for (const d of ["default-src 'self'", "script-src 'self'", "style-src 'self'", "frame-ancestors 'none'", "base-uri 'none'", "object-src 'none'"]) {
      assert.ok(csp.includes(d), `GET ${p}: the CSP lacks ${d}: ${csp}`);
    }
    assert.ok(!/unsafe-inline|unsafe-eval/.test(csp), `GET ${p}: the CSP allows unsafe code: ${csp}`);
    assert.equal(res.headers.get('x-content-type-options'), 'nosniff', `GET ${p}: X-Content-Type-Options`);
    assert.equal(res.headers.get('referrer-policy'), 'no-referrer', `GET ${p}: Referrer-Policy`);
  }
});

test('the home page in Italian lists the offices, then in English', async () => {
  await inPage(browser, 'home', async (page) => {
    await page.goto('/');
    assert.equal(await page.getAttribute('html', 'lang'), 'it');
    await page.locator('h1').first().waitFor();
    // Every office, with a link to book each of its services.
    for (const o of offices) {
      const card = page.locator(`#office-${o.id}`);
      await card.waitFor();
      assert.ok((await card.textContent()).includes(o.name), `#office-${o.id} does not name ${o.name}`);
      for (const sv of o.services ?? []) {
        const href = await page.getAttribute(`#book-${sv.id}`, 'href');
        const u = new URL(href, BASE_URL);
        assert.equal(u.pathname, '/prenota/', `#book-${sv.id}`);
        assert.equal(u.searchParams.get('ufficio'), o.id, `#book-${sv.id}: ufficio`);
        assert.equal(u.searchParams.get('servizio'), sv.id, `#book-${sv.id}: servizio`);
      }
    }
    assert.equal(await page.getAttribute('#lang-it', 'aria-pressed'), 'true');
    await checkPage(page, 'home-01-it', 'home (it)');

    // The language switch in the header: remembered across reloads and pages.
    const itTitle = await page.title();
    await setLanguage(page, 'en');
    assert.notEqual(await page.title(), itTitle, 'the title is translated');
    await checkPage(page, 'home-02-en', 'home (en)');
    await page.reload();
    await page.locator(`#office-${offices[0].id}`).waitFor();
    assert.equal(await page.getAttribute('html', 'lang'), 'en', 'the language is remembered after a reload');
    await page.locator('#start-booking').click();
    await page.waitForURL(/\/prenota\/$/);
    await page.locator('#step-office').waitFor();
    assert.equal(await page.getAttribute('html', 'lang'), 'en', 'the language is remembered on the next page');
    await setLanguage(page, 'it');
    assertClean(page);
  });
});

test('the home page on a phone', async () => {
  await inPage(browser, 'home-phone', async (page) => {
    await page.goto('/');
    await page.locator('h1').first().waitFor();
    await page.locator(`#office-${offices[0].id}`).waitFor();
    // Nothing wider than the screen.
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    assert.ok(overflow <= 1, `the page is ${overflow}px wider than the phone's screen`);
    await checkPage(page, 'home-03-it-phone', 'home on a phone');
    assertClean(page);
  }, { context: PHONE });
});
