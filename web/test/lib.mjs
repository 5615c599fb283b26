// Helpers for the browser tests (web/test/*.test.mjs, run with node:test).
//
// test/e2e/browser_test.go starts the local stack and runs
// `node --test --test-concurrency=1` on these files with:
//
//   BASE_URL                the gateway, serving the built site and /api
//   MAILPIT_URL             the stack's Mailpit (HTTP API)
//   LIVEKIT_URL             the stack's LiveKit (ws://)
//   CHROMIUM                Debian's chromium (playwright-core drives it; no
//                           browser is ever downloaded)
//   SPORTELLO_NODE_MODULES  the npm dev dependencies (playwright-core, axe-core),
//                           installed outside the repository by local/web
//   SPORTELLO_ARTIFACTS     where screenshots go
//   SPORTELLO_RUN           a short id unique to this run: personal data are
//                           derived from it
//   SPORTELLO_PERSONAL      a file: every personal datum a test types is
//                           appended to it (one JSON string a line), and the Go
//                           test checks that none reached the stack's output
//
// The site's strict Content-Security-Policy stays on: axe-core is injected
// with page.evaluate (DevTools protocol, not a <script>), and every page is
// watched for CSP violations, script errors, failed requests and requests to
// any origin other than the site's (no third-party request at run time).

import assert from 'node:assert/strict';
import { appendFileSync, mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

import { calendarDays } from '../src/js/lib/calendar.js';

export { calendarDays };

function need(name) {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set: run the browser tests through test/e2e (go test -run TestBrowser ./test/e2e/)`);
  return v;
}

export const BASE_URL = need('BASE_URL').replace(/\/+$/, '');
export const MAILPIT_URL = (process.env.MAILPIT_URL || '').replace(/\/+$/, '');
export const LIVEKIT_URL = process.env.LIVEKIT_URL || '';
export const NODE_MODULES = need('SPORTELLO_NODE_MODULES');
export const ARTIFACTS = process.env.SPORTELLO_ARTIFACTS || path.resolve(import.meta.dirname ?? '.', '../../.run/artifacts/screenshots');
export const RUN = process.env.SPORTELLO_RUN || Math.random().toString(16).slice(2, 10);

// node_modules is not beside the tests: resolve the packages from the cache.
const require = createRequire(path.join(path.dirname(NODE_MODULES), 'noop.js'));
const { chromium } = require('playwright-core');
const AXE_SOURCE = readFileSync(path.join(NODE_MODULES, 'axe-core', 'axe.min.js'), 'utf8');

// The flags DESIGN.md verified for Debian's chromium, fake camera and
// microphone included.
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--use-fake-device-for-media-stream',
  '--use-fake-ui-for-media-stream',
  '--disable-background-networking',
];

/** launch starts Debian's chromium, headless. */
export async function launch(opts = {}) {
  return chromium.launch({
    executablePath: need('CHROMIUM'),
    args: CHROMIUM_ARGS,
    headless: true,
    ...opts,
  });
}

/**
 * newContext opens a browser context on the site: camera and microphone
 * allowed, the given locale (it-IT by default) and viewport, Europe/Rome.
 */
export async function newContext(browser, { locale = 'it-IT', viewport = { width: 1280, height: 900 }, ...rest } = {}) {
  const context = await browser.newContext({
    baseURL: BASE_URL,
    locale,
    timezoneId: 'Europe/Rome',
    viewport,
    permissions: ['camera', 'microphone'],
    ...rest,
  });
  context.setDefaultTimeout(15_000);
  return context;
}

/** A phone-sized viewport, for the responsive checks. */
export const PHONE = { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2 };

/**
 * watch records what must never happen on a page: uncaught script errors,
 * console errors (CSP violations are reported there), failed requests,
 * HTTP 5xx answers, and requests to another origin than the site's (or
 * LiveKit's). problems(page) lists them; assertClean(page) fails on any.
 * allow: regexps of console errors or URLs a test expects (e.g. a 404 it
 * provokes on purpose).
 */
export function watch(page, { allow = [] } = {}) {
  const list = [];
  const allowed = (s) => allow.some((re) => re.test(s));
  const site = new URL(BASE_URL).origin;
  const livekit = LIVEKIT_URL ? new URL(LIVEKIT_URL.replace(/^ws/, 'http')).host : '';
  page.on('pageerror', (err) => list.push(`script error: ${err.message}`));
  page.on('console', (msg) => {
    if (msg.type() !== 'error') return;
    const text = msg.text();
    // A 4xx answer the page handles is logged by chromium as a console
    // error ("Failed to load resource: ... 404"): the response hook below
    // judges those.
    if (/^Failed to load resource: the server responded with a status of 4\d\d/.test(text)) return;
    if (!allowed(text)) list.push(`console error: ${text}`);
  });
  page.on('request', (req) => {
    const u = new URL(req.url());
    if (u.protocol === 'data:' || u.protocol === 'blob:' || u.protocol === 'about:') return;
    if (u.origin !== site && u.host !== livekit && !allowed(req.url())) list.push(`third-party request: ${req.url()}`);
  });
  page.on('requestfailed', (req) => {
    const why = req.failure()?.errorText ?? '';
    if (why === 'net::ERR_ABORTED' || allowed(req.url())) return; // navigations away cancel requests
    list.push(`request failed: ${req.method()} ${req.url()}: ${why}`);
  });
  page.on('response', (res) => {
    if (res.status() >= 500 && !allowed(res.url())) list.push(`HTTP ${res.status()}: ${res.request().method()} ${res.url()}`);
  });
  page.__problems = list;
  return page;
}

/** problems lists what watch saw so far. */
export function problems(page) {
  return page.__problems ?? [];
}

/** assertClean fails when watch saw anything wrong on the page. */
export function assertClean(page) {
  const p = problems(page);
  assert.equal(p.length, 0, `problems on ${page.url()}:\n  ${p.join('\n  ')}`);
}

/** newPage opens a watched page in the context. */
export async function newPage(context, opts) {
  return watch(await context.newPage(), opts);
}

/**
 * shot saves a full-page screenshot as SPORTELLO_ARTIFACTS/<name>.png and
 * returns its path (name: e.g. "booking-03-data-it").
 */
export async function shot(page, name) {
  mkdirSync(ARTIFACTS, { recursive: true });
  await settle(page);
  const file = path.join(ARTIFACTS, `${name.replace(/[^A-Za-z0-9._-]+/g, '-')}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}

/**
 * settle waits (up to 2 s) for the page's finite CSS transitions and
 * animations to end.
 */
export async function settle(page) {
  await page.evaluate(async () => {
    const running = document.getAnimations().filter((a) => a.effect?.getComputedTiming().iterations !== Infinity);
    if (running.length === 0) return;
    await Promise.race([Promise.all(running.map((a) => a.finished.catch(() => {}))), new Promise((r) => setTimeout(r, 2000))]);
  });
}

// The top-level blocks of web/src/i18n/*.json: a visible "booking.title"
// is a string the page forgot to translate.
const I18N_BLOCKS = ['layout', 'common', 'format', 'errors', 'slots', 'home', 'booking', 'manage', 'room', 'call', 'chat', 'operator', 'admin', 'documents'];

/**
 * assertTranslated fails when the page shows an i18n key instead of its
 * text (t() falls back to the key), in its text or in its aria-label,
 * title, placeholder and alt attributes.
 */
export async function assertTranslated(page, what = '') {
  const found = await page.evaluate((blocks) => {
    const key = new RegExp(`(^|\\s)(${blocks.join('|')})\\.[a-z0-9_]+(\\.[a-z0-9_]+)*($|\\s|:)`);
    const out = [];
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    for (let n = walker.nextNode(); n && out.length < 20; n = walker.nextNode()) {
      const el = n.parentElement;
      if (!el || el.closest('script,style,[hidden]')) continue;
      if (key.test(n.textContent)) out.push(`text "${n.textContent.trim()}" in <${el.tagName.toLowerCase()}${el.id ? ` id=${el.id}` : ''}>`);
    }
    for (const el of document.querySelectorAll('[aria-label],[title],[placeholder],[alt]')) {
      for (const a of ['aria-label', 'title', 'placeholder', 'alt']) {
        const v = el.getAttribute(a);
        if (v && key.test(v)) out.push(`${a}="${v}" on <${el.tagName.toLowerCase()}${el.id ? ` id=${el.id}` : ''}>`);
      }
    }
    if (key.test(document.title)) out.push(`the title "${document.title}"`);
    return out;
  }, I18N_BLOCKS);
  assert.equal(found.length, 0, `untranslated strings on ${what || page.url()}:\n  ${found.join('\n  ')}`);
}

/**
 * checkPage is what every step of every journey gets: a screenshot (first,
 * so that a failure still leaves it), no untranslated string, and axe.
 */
export async function checkPage(page, name, what = name) {
  await shot(page, name);
  await assertTranslated(page, what);
  await axe(page, { what });
}

/** The WCAG levels axe checks: 2.0 and 2.1, A and AA. */
export const AXE_TAGS = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'];

/**
 * axe runs axe-core on the page as it is now (WCAG 2.1 AA) and fails with
 * every violation listed: rule, impact, help, and each offending element
 * with axe's summary. opts.exclude: selectors to leave out; opts.what: a
 * label for the failure message.
 */
export async function axe(page, { exclude = [], what = '' } = {}) {
  await settle(page); // colours half way through a CSS transition fail the contrast rule
  const loaded = await page.evaluate(() => typeof window.axe === 'object');
  if (!loaded) {
    // Not addScriptTag: the CSP (script-src 'self') refuses inline scripts.
    await page.evaluate(`${AXE_SOURCE}\n;void 0`);
  }
  const result = await page.evaluate(
    async ({ tags, exclude }) => {
      const r = await window.axe.run(
        { exclude: exclude.map((s) => [s]) },
        { runOnly: { type: 'tag', values: tags }, resultTypes: ['violations'] },
      );
      return r.violations.map((v) => ({
        id: v.id,
        impact: v.impact,
        help: v.help,
        helpUrl: v.helpUrl,
        nodes: v.nodes.map((n) => ({ target: n.target.join(' '), html: n.html, summary: n.failureSummary })),
      }));
    },
    { tags: AXE_TAGS, exclude },
  );
  if (result.length > 0) {
    const lines = [];
    for (const v of result) {
      lines.push(`- ${v.id} (${v.impact}): ${v.help} <${v.helpUrl}>`);
      for (const n of v.nodes) {
        lines.push(`    element ${n.target}: ${n.html.slice(0, 300)}`);
        for (const s of (n.summary ?? '').split('\n')) lines.push(`      ${s}`);
      }
    }
    assert.fail(`axe: ${result.length} WCAG 2.1 AA violation(s) on ${what || page.url()}:\n${lines.join('\n')}`);
  }
}

/**
 * personal records values a test typed into the site as personal data: the
 * Go side checks none of them appear in the stack's output.
 */
export function personal(...values) {
  const file = process.env.SPORTELLO_PERSONAL;
  for (const v of values) {
    if (!v) continue;
    if (file) appendFileSync(file, JSON.stringify(String(v)) + '\n');
  }
}

/**
 * citizen is a made-up person unique to this run (and to tag), registered
 * as personal data.
 */
export function citizen(tag = 'a') {
  const id = `${RUN}${tag}`;
  const c = {
    givenName: 'Annunziata',
    familyName: `Piscitelli-${id}`,
    address: `Via dei Tribunali ${id}, 80138 Napoli`,
    email: `annunziata.piscitelli.${id}@example.it`,
    reason: 'Richiesta di certificato',
    details: `Pratica n. ${id}/2027, allegati da verificare`,
  };
  personal(c.familyName, c.address, c.email, c.details);
  return c;
}

/**
 * mail polls Mailpit for the newest message to `to` whose subject starts
 * with subjectPrefix, and returns it with the site's links it carries:
 * { id, subject, text, html, manage, room, manageToken, roomToken }.
 * manage and room are the full URLs (…/prenotazione/gestisci#TOKEN and
 * …/sala#TOKEN), or undefined when the mail has none.
 */
export async function mail(to, subjectPrefix, { timeout = 30_000 } = {}) {
  assert.ok(MAILPIT_URL, 'MAILPIT_URL is not set');
  const deadline = Date.now() + timeout;
  const query = encodeURIComponent(`to:"${to}"`);
  for (;;) {
    const res = await fetch(`${MAILPIT_URL}/api/v1/search?limit=50&query=${query}`);
    assert.equal(res.status, 200, `Mailpit search: HTTP ${res.status}`);
    const { messages = [] } = await res.json();
    const hit = messages
      .filter((m) => (m.To ?? []).some((a) => a.Address.toLowerCase() === to.toLowerCase()))
      .filter((m) => m.Subject.startsWith(subjectPrefix))
      .sort((a, b) => Date.parse(b.Created) - Date.parse(a.Created))[0];
    if (hit) {
      const r = await fetch(`${MAILPIT_URL}/api/v1/message/${hit.ID}`);
      assert.equal(r.status, 200, `Mailpit message ${hit.ID}: HTTP ${r.status}`);
      const m = await r.json();
      const text = m.Text ?? '';
      const manage = text.match(/https?:\/\/\S+?\/prenotazione\/gestisci\/?#([A-Za-z0-9_-]+)/);
      const room = text.match(/https?:\/\/\S+?\/sala\/?#([A-Za-z0-9_-]+)/);
      personal(manage?.[1], room?.[1]);
      return {
        id: hit.ID,
        subject: m.Subject,
        text,
        html: m.HTML ?? '',
        manage: manage?.[0],
        manageToken: manage?.[1],
        room: room?.[0],
        roomToken: room?.[1],
      };
    }
    if (Date.now() > deadline) {
      const subjects = messages.map((m) => m.Subject).join(' | ') || 'none';
      assert.fail(`no mail "${subjectPrefix}…" to ${to} within ${timeout} ms (mails to that address: ${subjects})`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** api calls the site's JSON API directly (to set up or check state). */
export async function api(method, p, body, headers = {}) {
  const res = await fetch(BASE_URL + p, {
    method,
    headers: { ...(body ? { 'Content-Type': 'application/json' } : {}), ...headers },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  let json;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, json, text };
}

/** focused describes the element that has the keyboard focus. */
export async function focused(page) {
  return page.evaluate(() => {
    const e = document.activeElement;
    if (!e || e === document.body) return null;
    return { tag: e.tagName.toLowerCase(), id: e.id, text: (e.textContent ?? '').trim().slice(0, 80) };
  });
}

/**
 * setLanguage uses the header's language switch (#lang-it, #lang-en) and
 * waits for <html lang> to follow.
 */
export async function setLanguage(page, lang) {
  await page.locator(`#lang-${lang}`).click();
  await page.waitForFunction((l) => document.documentElement.lang === l, lang);
  assert.equal(await page.getAttribute(`#lang-${lang}`, 'aria-pressed'), 'true', `#lang-${lang} is not pressed after the switch`);
}

/** romeTime formats an instant as HH:MM in Europe/Rome, as the site shows it. */
export function romeTime(instant) {
  return new Intl.DateTimeFormat('it-IT', { timeZone: 'Europe/Rome', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).format(new Date(instant));
}

/** romeDay is the day of an instant in Europe/Rome, "YYYY-MM-DD". */
export function romeDay(instant) {
  return new Intl.DateTimeFormat('en-CA', { timeZone: 'Europe/Rome', year: 'numeric', month: '2-digit', day: '2-digit' }).format(new Date(instant));
}

/** failed saves a screenshot of the page that failed, as FAILED-<name>, then rethrows err. */
export async function failed(page, name, err) {
  await shot(page, `FAILED-${name}`).catch(() => {});
  throw err;
}

/**
 * inPage runs steps(page, context) on a fresh watched page of a fresh
 * context (options: context for newContext, page for newPage, setup(context)
 * before the page opens); a failure leaves the screenshot FAILED-<name>, and
 * the context is closed whatever happens.
 */
export async function inPage(browser, name, steps, { context: contextOptions, page: pageOptions, setup } = {}) {
  const context = await newContext(browser, contextOptions);
  await setup?.(context);
  const page = await newPage(context, pageOptions);
  try {
    await steps(page, context);
  } catch (err) {
    await failed(page, name, err);
  } finally {
    await context.close();
  }
}

/** snap is a view's screenshot and its axe check (what: the label of axe's failure). */
export async function snap(page, name, what = name) {
  await shot(page, name);
  await axe(page, { what });
}

/** demoOffices lists the offices and services of the demo data (GET /api/offices). */
export async function demoOffices() {
  const r = await api('GET', '/api/offices');
  assert.equal(r.status, 200, `GET /api/offices: ${r.text}`);
  return r.json.offices;
}

/** The demo operators' password, and the demo administrator (local/seed). */
export const DEMO_PASSWORD = 'sportello-demo';
export const DEMO_ADMIN = { email: 'admin@comune.bari.it', password: DEMO_PASSWORD };

/** signIn signs in on the console's form (/operatore/). */
export async function signIn(page, email, password = DEMO_PASSWORD) {
  await page.goto('/operatore/');
  await page.locator('#signin-email').waitFor({ state: 'visible' });
  await page.fill('#signin-email', email);
  await page.fill('#signin-password', password);
  await page.click('#signin-submit');
}

/** onStep waits for the booking flow's step to be the only one shown and, when moved, for the focus on its heading. */
export async function onStep(page, step, { moved = true } = {}) {
  await page.locator(`#step-${step}`).waitFor({ state: 'visible' });
  assert.equal(await page.locator('.booking-step:visible').count(), 1, `more than one step shown with ${step}`);
  if (!moved) return;
  await page
    .waitForFunction((id) => document.activeElement?.id === id, `step-${step}-title`, { timeout: 5_000 })
    .catch(async () => assert.fail(`step ${step}: the focus is on ${JSON.stringify(await focused(page))}, not #step-${step}-title`));
}

/** operatorSession signs in over the API: returns call(method, path, body, want) under /api/operator with the cookie and CSRF token. */
export async function operatorSession({ email, password }) {
  const res = await fetch(`${BASE_URL}/api/operator/session`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ email, password }),
  });
  const text = await res.text();
  assert.equal(res.status, 200, `sign-in: ${text}`);
  const cookie = res.headers
    .getSetCookie()
    .map((c) => c.split(';')[0])
    .join('; ');
  const csrf = JSON.parse(text).csrf_token;
  return async (method, path, body, want) => {
    const r = await api(method, `/api/operator${path}`, body, { Cookie: cookie, 'X-CSRF-Token': csrf });
    if (want) assert.equal(r.status, want, `${method} ${path}: ${r.text}`);
    return r;
  };
}

/** slotsOf lists the free slots of a service from today over days days. */
export async function slotsOf(serviceId, days = 30) {
  const from = romeDay(Date.now());
  const to = romeDay(Date.now() + days * 86_400_000);
  const r = await api('GET', `/api/slots?service_id=${serviceId}&from=${from}&to=${to}`);
  assert.equal(r.status, 200, `GET /api/slots: ${r.text}`);
  return calendarDays(r.json).flatMap((d) => d.slots);
}

/** book holds and confirms a slot over the API, registering its secrets with personal(); returns the confirmation (with manage_token). */
export async function book(serviceId, start, who) {
  const hold = await api('POST', '/api/holds', { service_id: serviceId, start });
  assert.equal(hold.status, 201, `POST /api/holds: ${hold.text}`);
  const r = await api('POST', '/api/bookings', {
    hold_id: hold.json.hold_id,
    hold_secret: hold.json.hold_secret,
    citizen: {
      given_name: who.givenName,
      family_name: who.familyName,
      address: who.address,
      email: who.email,
      reason: who.reason,
      details: who.details,
      privacy_consent: true,
      locale: 'it',
    },
  });
  assert.equal(r.status, 201, `POST /api/bookings: ${r.text}`);
  personal(r.json.manage_token, hold.json.hold_secret);
  return r.json;
}

/**
 * oneDeskService makes, as the demo administrator's session admin
 * (operatorSession(DEMO_ADMIN)), an office of its own with a service with a
 * single desk, open round the clock every day (holidays too), hourly, no
 * notice: every slot has exactly one free desk. tag keeps the ids apart
 * ("e2e-<tag>-<run>"). It returns {id, officeId, close()}: close takes the
 * office out of the public lists again (its services with it), as the
 * other browser tests share the stack.
 */
export async function oneDeskService(admin, tag) {
  const own = { id: `e2e-${tag}-${RUN}`, officeId: `e2e-${tag}-office-${RUN}` };
  await admin('POST', '/admin/offices', { id: own.officeId, name: `Ufficio una postazione ${tag} ${RUN}`, address: 'Corso Vittorio Emanuele II 84, Bari' }, 201);
  await admin(
    'POST',
    '/admin/services',
    {
      id: own.id,
      office_id: own.officeId,
      name: `Consulenza individuale ${tag} ${RUN}`,
      duration_minutes: 60,
      min_notice_minutes: 0,
      horizon_days: 7,
      cancel_cutoff_minutes: 0,
      what_to_bring: "Documento d'identità",
      open_on_holidays: true,
    },
    201,
  );
  const hours = [1, 2, 3, 4, 5, 6, 7].map((weekday) => ({ weekday, opens: '00:00', closes: '24:00' }));
  await admin('PUT', `/admin/services/${own.id}/hours`, { hours }, 200);
  await admin('POST', `/admin/services/${own.id}/desks`, { label: 'Postazione unica' }, 201);
  own.close = () => admin('PATCH', `/admin/offices/${own.officeId}`, { active: false }).catch(() => {});
  return own;
}

/** firstFreeDay chooses, on the booking page's time step, the first day with free times (moving on a month when this one has none). */
export async function firstFreeDay(page) {
  await page.locator('#slots-calendar').waitFor();
  const day = page.locator('button.slot-day:enabled');
  for (let i = 0; i < 3 && (await day.count()) === 0; i++) {
    await page.locator('#slots-next').click();
    await page.locator('#slots-calendar').waitFor();
  }
  assert.ok((await day.count()) > 0, 'no day with free times in three months');
  await day.first().click();
  await page.locator('#slots-times .slot-time:enabled').first().waitFor();
}
