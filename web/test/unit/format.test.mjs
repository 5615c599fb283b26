// lib/format.js: dates and times in Europe/Rome, whatever the machine's
// zone, across the changes of daylight saving time, in both languages.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setLang } from '../../src/js/lib/i18n.js';
import {
  addDays,
  dayNoon,
  formatCountdown,
  formatDate,
  formatDateTime,
  formatDuration,
  formatMonth,
  formatShortDate,
  formatSize,
  formatTime,
  formatTimeRange,
  localDeadline,
  mondayOf,
  parseDay,
  romeDate,
  weekdayNames,
} from '../../src/js/lib/format.js';

// Instants around the change days and the Rome time each shows.
const TIMES = [
  // 28 March 2027: 02:00 CET → 03:00 CEST.
  ['2027-03-27T08:00:00Z', '09:00'],
  ['2027-03-28T00:30:00Z', '01:30'],
  ['2027-03-28T01:30:00Z', '03:30'],
  ['2027-03-29T08:00:00Z', '10:00'],
  // 31 October 2027: 03:00 CEST → 02:00 CET, so 02:30 comes twice.
  ['2027-10-30T08:00:00Z', '10:00'],
  ['2027-10-31T00:30:00Z', '02:30'],
  ['2027-10-31T01:30:00Z', '02:30'],
  ['2027-11-01T08:00:00Z', '09:00'],
  // The same local time, written with its own offset.
  ['2027-10-31T09:00:00+01:00', '09:00'],
];

test('times are Rome time, before and after the DST change days', () => {
  setLang('it');
  for (const [instant, want] of TIMES) assert.equal(formatTime(instant), want, instant);
  assert.equal(formatTimeRange('2027-03-28T07:00:00Z', '2027-03-28T07:30:00Z'), '09:00–09:30');
});

test('the calendar day is Rome\'s, not UTC\'s', () => {
  assert.equal(romeDate('2027-03-27T23:30:00Z'), '2027-03-28'); // 00:30 CET
  assert.equal(romeDate('2027-10-30T22:30:00Z'), '2027-10-31'); // 00:30 CEST
  assert.equal(romeDate('2027-10-31T23:30:00Z'), '2027-11-01'); // 00:30 CET
  assert.equal(romeDate('2027-06-30T21:59:00Z'), '2027-06-30');
  assert.equal(romeDate(new Date('2027-06-30T22:00:00Z')), '2027-07-01');
});

test('day arithmetic over the change days and the ends of months and years', () => {
  assert.equal(addDays('2027-03-27', 1), '2027-03-28');
  assert.equal(addDays('2027-03-28', 1), '2027-03-29');
  assert.equal(addDays('2027-10-31', -1), '2027-10-30');
  assert.equal(addDays('2027-12-31', 1), '2028-01-01');
  assert.equal(addDays('2028-02-28', 1), '2028-02-29');
  assert.equal(addDays('2027-03-01', -1), '2027-02-28');
  assert.deepEqual(parseDay('2027-10-31'), { year: 2027, month: 10, day: 31 });
  assert.equal(mondayOf('2027-03-28'), '2027-03-22'); // a Sunday
  assert.equal(mondayOf('2027-03-29'), '2027-03-29'); // a Monday
  assert.equal(mondayOf('2027-11-03'), '2027-11-01');
  assert.equal(romeDate(dayNoon('2027-10-31')), '2027-10-31');
});

test('dates and months in Italian and English', () => {
  setLang('it');
  assert.equal(formatDate('2027-10-31T09:00:00+01:00'), 'domenica 31 ottobre 2027');
  assert.equal(formatShortDate('2027-03-28T10:00:00+02:00'), '28/03/2027');
  assert.equal(formatDateTime('2027-03-28T10:00:00+02:00'), 'domenica 28 marzo 2027, 10:00');
  assert.equal(formatMonth(2027, 3), 'marzo 2027');
  assert.deepEqual(weekdayNames('short').slice(0, 2), ['lun', 'mar']);
  setLang('en');
  assert.match(formatDate('2027-10-31T09:00:00+01:00'), /^Sunday,? 31 October 2027$/); // ICU versions differ on the comma
  assert.equal(formatMonth(2027, 10), 'October 2027');
  assert.equal(weekdayNames('long')[6], 'Sunday');
  setLang('it');
});

test('durations, countdowns and sizes', () => {
  setLang('it');
  assert.equal(formatDuration(30), '30 minuti');
  assert.equal(formatDuration(1), '1 minuto');
  assert.equal(formatDuration(60), '1 ora');
  assert.equal(formatDuration(90), '1 ora e 30 minuti');
  assert.equal(formatDuration(120), '2 ore');
  setLang('en');
  assert.equal(formatDuration(90), '1 hour 30 minutes');
  setLang('it');
  assert.equal(formatCountdown(0), '0:00');
  assert.equal(formatCountdown(-5000), '0:00');
  assert.equal(formatCountdown(65_000), '1:05');
  assert.equal(formatCountdown(64_001), '1:05'); // rounded up: never 0:00 too soon
  assert.equal(formatCountdown(3_725_000), '1:02:05');
  assert.equal(formatSize(512), '512 B');
  assert.equal(formatSize(48 * 1024), '48 kB');
  assert.equal(formatSize(1.5 * 1024 * 1024), '1,5 MB');
  assert.equal(formatSize(20 * 1024 * 1024), '20 MB');
  setLang('en');
  assert.equal(formatSize(1.5 * 1024 * 1024), '1.5 MB');
  setLang('it');
});

test("localDeadline: the server's instant on this clock, or a fallback when the clocks disagree", () => {
  const now = Date.now();
  const near = (got, want) => assert.ok(Math.abs(got - want) < 1000, `${got - want} ms off`);
  near(localDeadline(new Date(now + 10 * 60_000).toISOString(), 5000), now + 10 * 60_000);
  near(localDeadline(new Date(now - 60_000).toISOString(), 5000), now + 5000);
  near(localDeadline(new Date(now + 7 * 3600_000).toISOString(), 5000), now + 5000);
  near(localDeadline('not a time', 5000), now + 5000);
  near(localDeadline(undefined, 5000), now + 5000);
});
