// layout: the frame every page shares — skip link, Bootstrap Italia header
// ("Comune di Bari · Sportello virtuale") with the language switch it/en,
// footer, and the aria-live region #announcer.
//
//   initPage({title})  translates the document, mounts header and footer
//                      around <main id="main"> (title: i18n key of the page
//                      title, else <title data-i18n> is used); call it first
//   announce(message)  says message through #announcer (aria-live polite)
//   icon(name, cls)    an <svg> using the Bootstrap Italia sprite ("it-calendar")
//   SPRITE             the sprite's URL
import { h, $ } from './dom.js';
import { getLang, LANGS, onLangChange, setLang, t, translate } from './i18n.js';

export const SPRITE = '/assets/bootstrap-italia/svg/sprites.svg';
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

function langSwitch() {
  const names = { it: 'Italiano', en: 'English' };
  const group = h('div', { class: 'lang-switch', role: 'group', id: 'lang-switch', 'data-i18n-attr': 'aria-label:layout.language' });
  for (const l of LANGS) {
    const b = h('button', {
      type: 'button',
      class: 'btn btn-sm lang-button',
      id: `lang-${l}`,
      lang: l,
      'aria-pressed': String(l === getLang()),
      on: { click: () => setLang(l) },
    }, l.toUpperCase(), h('span', { class: 'visually-hidden', text: ` ${names[l]}` }));
    group.append(b);
  }
  onLangChange((lang) => {
    for (const b of group.querySelectorAll('button')) b.setAttribute('aria-pressed', String(b.lang === lang));
  });
  return group;
}

function header() {
  return h(
    'header',
    { class: 'it-header-wrapper', id: 'site-header' },
    h(
      'div',
      { class: 'it-header-slim-wrapper' },
      h(
        'div',
        { class: 'container' },
        h(
          'div',
          { class: 'row' },
          h(
            'div',
            { class: 'col-12' },
            h(
              'div',
              { class: 'it-header-slim-wrapper-content' },
              h('span', { class: 'navbar-brand slim-brand', 'data-i18n': 'layout.region' }),
              h('div', { class: 'it-header-slim-right-zone' }, langSwitch()),
            ),
          ),
        ),
      ),
    ),
    h(
      'div',
      { class: 'it-nav-wrapper' },
      h(
        'div',
        { class: 'it-header-center-wrapper' },
        h(
          'div',
          { class: 'container' },
          h(
            'div',
            { class: 'row' },
            h(
              'div',
              { class: 'col-12' },
              h(
                'div',
                { class: 'it-header-center-content-wrapper' },
                h(
                  'div',
                  { class: 'it-brand-wrapper' },
                  h(
                    'a',
                    { href: '/', id: 'brand-link' },
                    icon('it-pa', 'icon'),
                    h(
                      'div',
                      { class: 'it-brand-text' },
                      h('div', { class: 'it-brand-title', 'data-i18n': 'layout.municipality' }),
                      h('div', { class: 'it-brand-tagline', 'data-i18n': 'layout.tagline' }),
                    ),
                  ),
                ),
              ),
            ),
          ),
        ),
      ),
    ),
  );
}

function footer() {
  return h(
    'footer',
    { class: 'it-footer', id: 'site-footer' },
    h(
      'div',
      { class: 'it-footer-main' },
      h(
        'div',
        { class: 'container' },
        h(
          'div',
          { class: 'row' },
          h(
            'div',
            { class: 'col-12 footer-items-wrapper logo-wrapper' },
            h(
              'div',
              { class: 'it-brand-wrapper' },
              h(
                'a',
                { href: '/' },
                icon('it-pa', 'icon'),
                h(
                  'div',
                  { class: 'it-brand-text' },
                  h('div', { class: 'it-brand-title', 'data-i18n': 'layout.municipality' }),
                  h('div', { class: 'it-brand-tagline', 'data-i18n': 'layout.tagline' }),
                ),
              ),
            ),
          ),
          h('div', { class: 'col-12 footer-items-wrapper' }, h('p', { class: 'footer-note', 'data-i18n': 'layout.footer_note' })),
        ),
      ),
    ),
    h(
      'div',
      { class: 'it-footer-small-prints' },
      h(
        'div',
        { class: 'container' },
        h(
          'ul',
          { class: 'it-footer-small-prints-list list-inline mb-0 d-flex flex-column flex-md-row' },
          h('li', { class: 'list-inline-item' }, h('a', { href: '/', 'data-i18n': 'layout.home' })),
          h('li', { class: 'list-inline-item' }, h('a', { href: '/prenota/', 'data-i18n': 'layout.book' })),
          h('li', { class: 'list-inline-item' }, h('a', { href: '/operatore/', 'data-i18n': 'layout.operators' })),
        ),
      ),
    ),
  );
}

export function announce(message) {
  const el = $('#announcer');
  if (!el) return;
  el.textContent = '';
  // A fresh text node after a tick is announced even when it repeats.
  setTimeout(() => {
    el.textContent = message;
  }, 50);
}

export function initPage({ title } = {}) {
  const main = $('#main') || $('main');
  if (main && !main.id) main.id = 'main';
  if (main && !main.hasAttribute('tabindex')) main.setAttribute('tabindex', '-1');
  if (!$('#site-header')) {
    const skip = h('div', { class: 'skiplinks' }, h('a', { class: 'visually-hidden-focusable', href: '#main', 'data-i18n': 'layout.skip' }));
    document.body.prepend(skip, header());
    document.body.append(footer(), h('div', { id: 'announcer', class: 'visually-hidden', 'aria-live': 'polite', 'aria-atomic': 'true' }));
  }
  if (title) {
    let el = $('title');
    if (!el) document.head.append((el = h('title')));
    el.dataset.i18n = title;
  }
  translate(document);
}
