// calendar: the arithmetic of the slot picker (lib/slots.js) — the API's
// compact calendar read, the free slots grouped by day, the month shown,
// its weeks, and where a key moves in the grid of days — without DOM, so
// that node's unit tests (and the browser tests) import it.
// Days are "YYYY-MM-DD" (the API's dates, calendar days in Rome); a month is
// {year, month} with month 1–12.
//
//   calendarDays(answer)          GET /api/slots' answer → [{date, slots}]
//                                 (below)
//   groupByDay(days)              [{date, slots}] → Map day → [slot
//                                 with its date]; days without slots left out
//   monthOf("2026-12-01")         {year: 2026, month: 12}
//   monthKey({year, month})       "2026-12"
//   shiftMonth(month, n)          n months later (earlier when n < 0)
//   monthWeeks(month)             its weeks, Monday first: rows of 7 days,
//                                 null outside the month
//   monthToShow(current, byDay, from, to)  the month to show after a load:
//                                 current while it lies between the first
//                                 free day and to, else the first free day's
//                                 month (from's when there is none)
//   keyTarget(days, day, key)     the day of days (sorted) that key moves to
//                                 from day: ←/→ the previous/next one, ↑/↓ a
//                                 week earlier/later (or the nearest one
//                                 beyond), Home/End the first/last; null for
//                                 other keys or beyond the ends
//   NAV_KEYS                      the keys keyTarget knows
import { addDays, parseDay } from './format.js';

// GET /api/slots answers compactly — per day the free
// start times with their UTC offsets ("09:00+01:00") and, in step, the free
// desks of each — so that 60 days of a busy service stay a few kilobytes:
//
//   {"service_id": "sue", "duration_minutes": 30, "time_zone": "Europe/Rome",
//    "from": "2027-03-01", "to": "2027-03-31",
//    "days": [{"date": "2027-03-01", "times": ["09:00+01:00", "09:30+01:00"], "free": [2, 1]}]}
//
// calendarDays turns it into the days with their slots, as the picker and
// the tests use them: [{date, slots: [{start, end, free, date}]}], start
// in RFC 3339 with the municipality's offset (what POST /api/holds takes),
// end as an instant. Days without a free time are left out.
/** calendarDays lists the days of a GET /api/slots answer with their free slots. */
export function calendarDays(answer) {
  const minutes = Number(answer?.duration_minutes) || 0;
  const out = [];
  for (const d of answer?.days || []) {
    const times = d.times || [];
    const free = d.free || [];
    const slots = [];
    times.forEach((hm, i) => {
      const start = `${d.date}T${hm.slice(0, 5)}:00${hm.slice(5)}`;
      const end = new Date(Date.parse(start) + minutes * 60_000).toISOString();
      slots.push({ start, end, free: free[i] ?? 0, date: d.date });
    });
    if (slots.length) out.push({ date: d.date, slots });
  }
  return out;
}

export function groupByDay(days = []) {
  const byDay = new Map();
  for (const d of days) if (d.slots?.length) byDay.set(d.date, d.slots.map((s) => ({ ...s, date: d.date })));
  return byDay;
}

export function monthOf(day) {
  const { year, month } = parseDay(day);
  return { year, month };
}

export function monthKey(m) {
  return `${m.year}-${String(m.month).padStart(2, '0')}`;
}

export function shiftMonth(m, n) {
  const i = m.year * 12 + (m.month - 1) + n;
  return { year: Math.floor(i / 12), month: (i % 12) + 1 };
}

export function monthWeeks(m) {
  const lead = (new Date(Date.UTC(m.year, m.month - 1, 1)).getUTCDay() + 6) % 7; // Monday first
  const length = new Date(Date.UTC(m.year, m.month, 0)).getUTCDate();
  const cells = Array(lead).fill(null);
  for (let d = 1; d <= length; d++) cells.push(`${monthKey(m)}-${String(d).padStart(2, '0')}`);
  while (cells.length % 7) cells.push(null);
  const weeks = [];
  for (let i = 0; i < cells.length; i += 7) weeks.push(cells.slice(i, i + 7));
  return weeks;
}

export function monthToShow(current, byDay, from, to) {
  const first = [...byDay.keys()].sort()[0];
  if (current && first && monthKey(current) >= first.slice(0, 7) && monthKey(current) <= to.slice(0, 7)) return current;
  return monthOf(first || from);
}

export const NAV_KEYS = ['ArrowRight', 'ArrowLeft', 'ArrowDown', 'ArrowUp', 'Home', 'End'];

export function keyTarget(days, day, key) {
  const i = days.indexOf(day);
  let j = null;
  if (key === 'ArrowRight') j = i + 1;
  else if (key === 'ArrowLeft') j = i - 1;
  else if (key === 'Home') j = 0;
  else if (key === 'End') j = days.length - 1;
  else if (key === 'ArrowDown' || key === 'ArrowUp') {
    const down = key === 'ArrowDown';
    const target = addDays(day, down ? 7 : -7);
    j = days.indexOf(target);
    if (j < 0) j = down ? days.findIndex((d) => d > target) : days.findLastIndex((d) => d < target);
  }
  return j === null || j < 0 || j >= days.length ? null : days[j];
}
