// i18n: Italian by default, English switchable. Strings live in
// web/src/i18n/it.json and en.json (nested objects; keys are dot paths such
// as "booking.steps.office"). The chosen language is remembered in
// localStorage ("sportello.lang"); ?lang=en in the address overrides it.
//
//   t(key, params)        the string for key in the current language, with
//                         {name} placeholders replaced from params; falls back
//                         to Italian, then to the key itself
//   getLang()             "it" or "en"
//   setLang(lang)         switches, saves, updates <html lang>, re-translates
//                         the document and calls the onLangChange callbacks
//   onLangChange(fn)      fn(lang) after every switch
//   translate(root)       fills every [data-i18n] element of root (textContent)
//                         and every [data-i18n-attr="attr:key;attr2:key2"]
//   extend(dicts)         merges more strings: extend({it: {...}, en: {...}})
import it from '../../i18n/it.json';
import en from '../../i18n/en.json';

export const LANGS = ['it', 'en'];
const STORAGE_KEY = 'sportello.lang';
const dicts = { it: structuredClone(it), en: structuredClone(en) };
const listeners = [];
let lang = initialLang();

function initialLang() {
  try {
    const q = new URLSearchParams(location.search).get('lang');
    if (LANGS.includes(q)) {
      localStorage.setItem(STORAGE_KEY, q);
      return q;
    }
    const saved = localStorage.getItem(STORAGE_KEY);
    if (LANGS.includes(saved)) return saved;
  } catch {
    // storage disabled: Italian
  }
  return 'it';
}

function lookup(dict, key) {
  let v = dict;
  for (const part of key.split('.')) {
    if (v == null || typeof v !== 'object') return undefined;
    v = v[part];
  }
  return typeof v === 'string' ? v : undefined;
}

export function has(key) {
  return lookup(dicts[lang], key) !== undefined || lookup(dicts.it, key) !== undefined;
}

export function t(key, params) {
  let s = lookup(dicts[lang], key) ?? lookup(dicts.it, key) ?? key;
  if (params) s = s.replace(/\{(\w+)\}/g, (m, name) => (params[name] !== undefined ? String(params[name]) : m));
  return s;
}

export function getLang() {
  return lang;
}

// locale is the BCP 47 tag for Intl: it-IT or en-GB.
export function locale() {
  return lang === 'en' ? 'en-GB' : 'it-IT';
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
    document.documentElement.lang = lang;
    const title = document.querySelector('title[data-i18n]');
    if (title) document.title = t(title.dataset.i18n);
  }
}

export function setLang(next) {
  if (!LANGS.includes(next) || next === lang) return;
  lang = next;
  try {
    localStorage.setItem(STORAGE_KEY, lang);
  } catch {
    // not remembered
  }
  translate(document);
  for (const fn of listeners) fn(lang);
}

export function onLangChange(fn) {
  listeners.push(fn);
}

function merge(into, from) {
  for (const [k, v] of Object.entries(from)) {
    if (v && typeof v === 'object' && !Array.isArray(v)) merge((into[k] ??= {}), v);
    else into[k] = v;
  }
}

export function extend(more) {
  for (const l of LANGS) if (more[l]) merge(dicts[l], more[l]);
}
