// problems: what the API refused, said in the page's language. The words
// come from the problem's stable code and from each field problem's reason
// and limits (functions/internal/apperr), never from the English message
// the API adds for people reading logs. No DOM here: node's unit tests
// import it; lib/form.js puts the texts on the page.
//
//   reasonText(fe)            the text of one field problem {field, reason,
//                             limit, min, max, allowed}: the field's own text
//                             when it has one (errors.field.<name>.<reason>,
//                             name the last part of the path: "password",
//                             "privacy_consent", "closes"), else the
//                             reason's (errors.reason.<reason>), else a
//                             generic "invalid value"
//   problemText(err, texts)   the text of a whole problem (an ApiError, or
//                             anything thrown): texts[code] first (an i18n
//                             key, or a function of err returning the text),
//                             then the field problems' texts for "invalid",
//                             then errors.code.<code>; status 0 is the
//                             network, "locked" says the minutes to wait
//   fieldName(path)           "hours[3].closes" → "closes", "offices[2]" → "offices"
import { formatSize } from './format.js';
import { has, t } from './i18n.js';

export function fieldName(path = '') {
  return String(path).replace(/\[\d+\]/g, '').split('.').pop();
}

export function reasonText(fe = {}) {
  const { reason = '', limit, min, max, allowed } = fe;
  const params = { limit, min, max, allowed: (allowed || []).join(', '), size: limit === undefined ? '' : formatSize(limit) };
  const own = `errors.field.${fieldName(fe.field)}.${reason}`;
  if (reason && has(own)) return t(own, params);
  if (reason && has(`errors.reason.${reason}`)) return t(`errors.reason.${reason}`, params);
  return t('errors.reason.invalid');
}

export function problemText(err, texts = {}) {
  const code = err?.status === 0 ? 'network' : err?.code;
  if (!code) return t('errors.code.unexpected');
  const own = texts[code];
  if (typeof own === 'function') return own(err);
  if (own) return t(own);
  if (code === 'network') return t('common.error_network');
  if (code === 'locked') return t('errors.code.locked', { minutes: Math.max(1, Math.ceil((err.retryAfter || 60) / 60)) });
  if (code === 'invalid' && err.fields?.length) return [...new Set(err.fields.map(reasonText))].join(' ');
  return has(`errors.code.${code}`) ? t(`errors.code.${code}`) : t('errors.code.unknown', { code });
}
