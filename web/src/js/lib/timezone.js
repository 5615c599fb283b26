// The VTIMEZONE of a calendar file (RFC 5545 3.6.5), read off the
// browser's own time zone database (Intl), as the mails' invites read it
// off Go's: one STANDARD or DAYLIGHT observance for each change of offset
// from the year before the first time to the year after the last, and the
// one in force before the first change. No DOM: unit-tested under node.

const MINUTE = 60 * 1000;
const DAY = 24 * 60 * MINUTE;

const offsetFormats = new Map();
const nameFormats = new Map();

function format(cache, zone, options) {
  if (!cache.has(zone)) cache.set(zone, new Intl.DateTimeFormat('en-GB', { timeZone: zone, ...options }));
  return cache.get(zone);
}

function zonePart(fmt, ms) {
  return fmt.formatToParts(new Date(ms)).find((p) => p.type === 'timeZoneName').value;
}

// offsetAt is zone's offset east of UTC at the instant ms, in minutes.
export function offsetAt(zone, ms) {
  const v = zonePart(format(offsetFormats, zone, { timeZoneName: 'longOffset' }), ms); // "GMT+01:00", "GMT"
  const m = /^GMT(?:([+-])(\d{2}):(\d{2}))?$/.exec(v);
  if (!m || !m[1]) return 0;
  const minutes = Number(m[2]) * 60 + Number(m[3]);
  return m[1] === '-' ? -minutes : minutes;
}

// utcOffset writes minutes east of UTC as RFC 5545's UTC-OFFSET: +0100.
export function utcOffset(minutes) {
  const sign = minutes < 0 ? '-' : '+';
  const a = Math.abs(minutes);
  return `${sign}${String(Math.floor(a / 60)).padStart(2, '0')}${String(a % 60).padStart(2, '0')}`;
}

// wall writes the instant ms as the local DATE-TIME of the offset
// minutes: 20270328T020000.
function wall(ms, minutes) {
  return new Date(ms + minutes * MINUTE).toISOString().replace(/[-:]/g, '').replace(/\.\d{3}Z$/, '');
}

// changes lists the instants in [from, to) at which zone's offset changes,
// to the minute.
function changes(zone, from, to) {
  const out = [];
  let off = offsetAt(zone, from);
  for (let day = from + DAY; day < to; day += DAY) {
    if (offsetAt(zone, day) === off) continue;
    let lo = day - DAY;
    let hi = day; // off at lo, not at hi
    while (hi - lo > MINUTE) {
      const mid = lo + Math.floor((hi - lo) / 2 / MINUTE) * MINUTE;
      if (offsetAt(zone, mid) === off) lo = mid;
      else hi = mid;
    }
    out.push(hi);
    off = offsetAt(zone, hi);
  }
  return out;
}

// standardOffset is zone's standard offset in the year of ms: the lower of
// January's and July's (summer time is the one above it: Rome's CEST).
function standardOffset(zone, ms) {
  const year = new Date(ms).getUTCFullYear();
  return Math.min(offsetAt(zone, Date.UTC(year, 0, 1)), offsetAt(zone, Date.UTC(year, 6, 1)));
}

// vtimezone is the VTIMEZONE of zone covering the instants first and last
// (Dates or strings Date reads), as calendar lines.
export function vtimezone(zone, first, last) {
  const from = Date.UTC(new Date(first).getUTCFullYear() - 1, 0, 1);
  const to = Date.UTC(new Date(last).getUTCFullYear() + 2, 0, 1);
  const lines = ['BEGIN:VTIMEZONE', `TZID:${zone}`];
  const observe = (before, onset) => {
    const fromOff = offsetAt(zone, before);
    const toOff = offsetAt(zone, onset);
    const kind = toOff > standardOffset(zone, onset) ? 'DAYLIGHT' : 'STANDARD';
    lines.push(`BEGIN:${kind}`, `DTSTART:${wall(onset, fromOff)}`, `TZOFFSETFROM:${utcOffset(fromOff)}`, `TZOFFSETTO:${utcOffset(toOff)}`,
      `TZNAME:${zonePart(format(nameFormats, zone, { timeZoneName: 'short' }), onset)}`, `END:${kind}`);
  };
  observe(from, from);
  for (const at of changes(zone, from, to)) observe(at - MINUTE, at);
  lines.push('END:VTIMEZONE');
  return lines;
}

// localDateTime is the wall-clock part of an RFC 3339 time with its offset
// ("2027-03-02T09:30:00+01:00"), as RFC 5545's local DATE-TIME: the API
// answers times in the municipality's offset, so this is its local time.
export function localDateTime(rfc3339) {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})/.exec(rfc3339);
  if (!m) throw new Error(`not an RFC 3339 time: ${rfc3339}`);
  return `${m[1]}${m[2]}${m[3]}T${m[4]}${m[5]}${m[6]}`;
}
