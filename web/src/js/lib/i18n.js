// i18n: Italian by default, English switchable. Strings live in
// web/src/i18n/it.json and en.json (nested objects; keys are dot paths such
// as "booking.steps.office"). The chosen language is remembered in
// localStorage ("sportello.lang"); ?lang=en in the address overrides it.
// No DOM here (node's unit tests import it): layout.js fills the page's
// [data-i18n] elements and re-translates them on every switch.
//
//   t(key, params)        the string for key in the current language, with
//                         {name} placeholders replaced from params; falls back
//                         to Italian, then to the key itself
//   has(key)              whether key has a string (in this language or Italian)
//   getLang()             "it" or "en"
//   locale()              the BCP 47 tag for Intl: "it-IT" or "en-GB"
//   setLang(lang)         switches, saves, and calls the onLangChange callbacks
//   onLangChange(fn)      fn(lang) after every switch, in the order registered
import it from '../../i18n/it.json' with { type: 'json' };
import en from '../../i18n/en.json' with { type: 'json' };

const LANGS = ['it', 'en'];
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
    // no address or storage (node, or storage disabled): Italian
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

export function locale() {
  return lang === 'en' ? 'en-GB' : 'it-IT';
}

export function setLang(next) {
  if (!LANGS.includes(next) || next === lang) return;
  lang = next;
  try {
    localStorage.setItem(STORAGE_KEY, lang);
  } catch {
    // not remembered
  }
  for (const fn of listeners) fn(lang);
}

export function onLangChange(fn) {
  listeners.push(fn);
}
