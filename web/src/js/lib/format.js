// format: dates, times and durations in Europe/Rome, in the current language.
// Accepts Date objects or RFC 3339 strings ("2026-12-01T09:00:00+01:00").
//
//   TIME_ZONE                      "Europe/Rome"
//   formatDate(d)                  "martedì 1 dicembre 2026" / "Tuesday 1 December 2026"
//   formatShortDate(d)             "01/12/2026"
//   formatTime(d)                  "09:00"
//   formatTimeRange(start, end)    "09:00–09:30"
//   formatDateTime(d)              "martedì 1 dicembre 2026, 09:00"
//   formatMonth(year, month)       "dicembre 2026" (month 1–12)
//   weekdayNames(style)            Monday first: ["lun", ...] (style "short"|"long")
//   formatDuration(minutes)        "30 minuti", "1 ora e 30 minuti" / "1 hour 30 minutes"
//   formatCountdown(ms)            "9:05", "1:02:05" ([hours:]minutes:seconds, never negative)
//   formatSize(bytes)              "512 B", "48 kB", "1,5 MB" (the page's language)
//   romeDate(d)                    "2026-12-01": the calendar day in Rome
//   todayRome()                    today's "YYYY-MM-DD" in Rome
//   addDays("2026-12-01", n)       "YYYY-MM-DD" n days later
//   mondayOf("2026-12-03")         "2026-11-30": the Monday of that week
//   parseDay("2026-12-01")         {year, month, day}
//   dayNoon("2026-12-01")          that day's noon UTC (inside it in Rome), for formatDate
//   localDeadline(instant, fallbackMs)  the server's instant as ms on this
//                                  browser's clock: the instant itself, or now
//                                  + fallbackMs when it is past or over six
//                                  hours ahead (a clock far off the server's)
// No DOM here: node's unit tests import it.
import { locale, t } from './i18n.js';

export const TIME_ZONE = 'Europe/Rome';

const toDate = (d) => (d instanceof Date ? d : new Date(d));
const cache = new Map();
function fmt(opts) {
  const key = locale() + JSON.stringify(opts);
  if (!cache.has(key)) cache.set(key, new Intl.DateTimeFormat(locale(), { timeZone: TIME_ZONE, ...opts }));
  return cache.get(key);
}

export function formatDate(d) {
  return fmt({ weekday: 'long', day: 'numeric', month: 'long', year: 'numeric' }).format(toDate(d));
}

export function formatShortDate(d) {
  return fmt({ day: '2-digit', month: '2-digit', year: 'numeric' }).format(toDate(d));
}

export function formatTime(d) {
  return fmt({ hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).format(toDate(d));
}

export function formatTimeRange(start, end) {
  return `${formatTime(start)}–${formatTime(end)}`;
}

export function formatDateTime(d) {
  return `${formatDate(d)}, ${formatTime(d)}`;
}

export function formatMonth(year, month) {
  // Noon UTC of the 15th is inside that month in Rome.
  return fmt({ month: 'long', year: 'numeric' }).format(new Date(Date.UTC(year, month - 1, 15, 12)));
}

export function weekdayNames(style = 'short') {
  // 2024-01-01 was a Monday.
  return Array.from({ length: 7 }, (_, i) => fmt({ weekday: style }).format(new Date(Date.UTC(2024, 0, 1 + i, 12))));
}

export function formatDuration(minutes) {
  const m = Math.round(Number(minutes) || 0);
  const hours = Math.floor(m / 60);
  const rest = m % 60;
  const part = (n, unit) => t(`format.${unit}${n === 1 ? '' : 's'}`, { n });
  if (hours && rest) return t('format.and', { a: part(hours, 'hour'), b: part(rest, 'minute') });
  if (hours) return part(hours, 'hour');
  return part(rest, 'minute');
}

export function formatCountdown(ms) {
  const s = Math.max(0, Math.ceil(ms / 1000));
  const two = (n) => String(n).padStart(2, '0');
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return h ? `${h}:${two(m)}:${two(s % 60)}` : `${m}:${two(s % 60)}`;
}

export function formatSize(n) {
  const nf = (v, digits) => new Intl.NumberFormat(locale(), { maximumFractionDigits: digits }).format(v);
  if (n < 1024) return `${nf(n, 0)} B`;
  if (n < 1024 * 1024) return `${nf(n / 1024, 0)} kB`;
  return `${nf(n / (1024 * 1024), 1)} MB`;
}

export function romeDate(d) {
  const parts = Object.fromEntries(
    new Intl.DateTimeFormat('en-CA', { timeZone: TIME_ZONE, year: 'numeric', month: '2-digit', day: '2-digit' })
      .formatToParts(toDate(d))
      .map((p) => [p.type, p.value]),
  );
  return `${parts.year}-${parts.month}-${parts.day}`;
}

export function todayRome() {
  return romeDate(new Date());
}

export function parseDay(s) {
  const [year, month, day] = s.split('-').map(Number);
  return { year, month, day };
}

export function addDays(s, n) {
  const { year, month, day } = parseDay(s);
  const d = new Date(Date.UTC(year, month - 1, day + n));
  return d.toISOString().slice(0, 10);
}

export function mondayOf(s) {
  const { year, month, day } = parseDay(s);
  return addDays(s, -((new Date(Date.UTC(year, month - 1, day)).getUTCDay() + 6) % 7));
}

export function dayNoon(s) {
  return `${s}T12:00:00Z`;
}

export function localDeadline(instant, fallbackMs) {
  const now = Date.now();
  const left = Date.parse(instant) - now;
  return now + (left > 0 && left < 6 * 3600 * 1000 ? left : fallbackMs);
}
