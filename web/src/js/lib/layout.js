// layout: the frame every page shares. Its markup — skip link, Bootstrap
// Italia header ("Comune di Bari · Sportello virtuale") with the language
// switch it/en, footer, the aria-live region #announcer — is put around
// each page's <main> at build time (web/src/partials/page.html); this
// module makes it work and keeps the page in the chosen language.
//
//   initPage()         translates the document and wires the language
//                      switch; call it first
//   translate(root)    fills every [data-i18n] element of root (textContent)
//                      and every [data-i18n-attr="attr:key;attr2:key2"]; the
//                      document is translated again after every switch
//   announce(message, region)  says message through region (an aria-live
//                      element of the page; #announcer, polite, by default)
//   icon(name, cls)    an <svg> using the Bootstrap Italia sprite ("it-calendar")
//   SPRITE             the sprite's URL
import { $, $$ } from './dom.js';
import { getLang, onLangChange, setLang, t } from './i18n.js';

const SPRITE = '/assets/bootstrap-italia/svg/sprites.svg';
const SVG = 'http://www.w3.org/2000/svg';

export function icon(name, cls = 'icon icon-sm') {
  const svg = document.createElementNS(SVG, 'svg');
  svg.setAttribute('class', cls);
  svg.setAttribute('aria-hidden', 'true');
  svg.setAttribute('focusable', 'false');
  const use = document.createElementNS(SVG, 'use');
  use.setAttribute('href', `${SPRITE}#${name}`);
  svg.append(use);
  return svg;
}

export function translate(root = document) {
  for (const el of root.querySelectorAll('[data-i18n]')) el.textContent = t(el.dataset.i18n);
  for (const el of root.querySelectorAll('[data-i18n-attr]')) {
    for (const pair of el.dataset.i18nAttr.split(';')) {
      const [attr, key] = pair.split(':').map((s) => s.trim());
      if (attr && key) el.setAttribute(attr, t(key));
    }
  }
  if (root === document) {
    document.documentElement.lang = getLang();
    const title = document.querySelector('title[data-i18n]');
    if (title) document.title = t(title.dataset.i18n);
  }
}

function pressLang() {
  for (const b of $$('#lang-switch button')) b.setAttribute('aria-pressed', String(b.lang === getLang()));
}

// The page's texts follow every switch before anything else does.
onLangChange(() => {
  translate(document);
  pressLang();
});

export function announce(message, el = $('#announcer')) {
  if (!el) return;
  el.textContent = '';
  // A fresh text node after a tick is announced even when it repeats.
  setTimeout(() => {
    el.textContent = message;
  }, 50);
}

export function initPage() {
  const main = $('main');
  if (main && !main.hasAttribute('tabindex')) main.setAttribute('tabindex', '-1');
  for (const b of $$('#lang-switch button')) b.addEventListener('click', () => setLang(b.lang));
  pressLang();
  translate(document);
}
