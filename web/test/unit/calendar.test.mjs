// lib/calendar.js: the slot picker's days, months and keyboard moves.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { groupByDay, keyTarget, monthKey, monthOf, monthToShow, monthWeeks, shiftMonth } from '../../src/js/lib/calendar.js';

const slot = (start, end, free = 1) => ({ start, end, free });

test('groupByDay keeps the days with free slots, each slot knowing its day', () => {
  const byDay = groupByDay([
    { date: '2027-03-27', slots: [] },
    { date: '2027-03-28', slots: [slot('2027-03-28T09:00:00+02:00', '2027-03-28T09:30:00+02:00'), slot('2027-03-28T09:30:00+02:00', '2027-03-28T10:00:00+02:00', 2)] },
    { date: '2027-03-29' },
    { date: '2027-03-30', slots: [slot('2027-03-30T09:00:00+02:00', '2027-03-30T09:30:00+02:00')] },
  ]);
  assert.deepEqual([...byDay.keys()], ['2027-03-28', '2027-03-30']);
  assert.equal(byDay.get('2027-03-28').length, 2);
  assert.deepEqual(byDay.get('2027-03-28')[1], { start: '2027-03-28T09:30:00+02:00', end: '2027-03-28T10:00:00+02:00', free: 2, date: '2027-03-28' });
  assert.equal(groupByDay(undefined).size, 0);
});

test('months: key, shift across years, the month of a day', () => {
  assert.equal(monthKey({ year: 2027, month: 3 }), '2027-03');
  assert.deepEqual(shiftMonth({ year: 2027, month: 12 }, 1), { year: 2028, month: 1 });
  assert.deepEqual(shiftMonth({ year: 2027, month: 1 }, -1), { year: 2026, month: 12 });
  assert.deepEqual(shiftMonth({ year: 2027, month: 10 }, 15), { year: 2029, month: 1 });
  assert.deepEqual(monthOf('2027-10-31'), { year: 2027, month: 10 });
});

test('monthWeeks lays a month out Monday first, in whole weeks', () => {
  // March 2027 starts on a Monday and has 31 days; the change day, the
  // 28th, is a Sunday.
  const march = monthWeeks({ year: 2027, month: 3 });
  assert.equal(march.length, 5);
  assert.deepEqual(march[0], ['2027-03-01', '2027-03-02', '2027-03-03', '2027-03-04', '2027-03-05', '2027-03-06', '2027-03-07']);
  assert.equal(march[3][6], '2027-03-28');
  assert.deepEqual(march[4], ['2027-03-29', '2027-03-30', '2027-03-31', null, null, null, null]);
  // October 2027 starts on a Friday: four empty cells first; the 31st is a Sunday.
  const october = monthWeeks({ year: 2027, month: 10 });
  assert.deepEqual(october[0], [null, null, null, null, '2027-10-01', '2027-10-02', '2027-10-03']);
  assert.equal(october.at(-1)[6], '2027-10-31');
  // A leap February.
  assert.equal(monthWeeks({ year: 2028, month: 2 }).flat().filter(Boolean).length, 29);
  for (const w of october) assert.equal(w.length, 7);
});

test('monthToShow keeps the month shown while it has a reason to be there', () => {
  const byDay = groupByDay([{ date: '2027-11-02', slots: [slot('a', 'b')] }]);
  assert.deepEqual(monthToShow(null, byDay, '2027-10-30', '2028-01-28'), { year: 2027, month: 11 });
  assert.deepEqual(monthToShow({ year: 2027, month: 12 }, byDay, '2027-10-30', '2028-01-28'), { year: 2027, month: 12 });
  // Before the first free day, or past the last day asked for: the first free day's month.
  assert.deepEqual(monthToShow({ year: 2027, month: 10 }, byDay, '2027-10-30', '2028-01-28'), { year: 2027, month: 11 });
  assert.deepEqual(monthToShow({ year: 2028, month: 2 }, byDay, '2027-10-30', '2028-01-28'), { year: 2027, month: 11 });
  // No free day: the month of the first day asked for.
  assert.deepEqual(monthToShow(null, new Map(), '2027-10-30', '2028-01-28'), { year: 2027, month: 10 });
});

test('keyTarget moves among the days with free slots', () => {
  const days = ['2027-03-01', '2027-03-02', '2027-03-08', '2027-03-10', '2027-03-22'];
  assert.equal(keyTarget(days, '2027-03-02', 'ArrowRight'), '2027-03-08');
  assert.equal(keyTarget(days, '2027-03-02', 'ArrowLeft'), '2027-03-01');
  assert.equal(keyTarget(days, '2027-03-01', 'ArrowLeft'), null);
  assert.equal(keyTarget(days, '2027-03-22', 'ArrowRight'), null);
  assert.equal(keyTarget(days, '2027-03-10', 'Home'), '2027-03-01');
  assert.equal(keyTarget(days, '2027-03-01', 'End'), '2027-03-22');
  // A week on: that very day, else the next one after it.
  assert.equal(keyTarget(days, '2027-03-01', 'ArrowDown'), '2027-03-08');
  assert.equal(keyTarget(days, '2027-03-02', 'ArrowDown'), '2027-03-10');
  assert.equal(keyTarget(days, '2027-03-10', 'ArrowDown'), '2027-03-22');
  assert.equal(keyTarget(days, '2027-03-22', 'ArrowDown'), null);
  // A week back: that very day, else the last one before it.
  assert.equal(keyTarget(days, '2027-03-08', 'ArrowUp'), '2027-03-01');
  assert.equal(keyTarget(days, '2027-03-22', 'ArrowUp'), '2027-03-10');
  assert.equal(keyTarget(days, '2027-03-02', 'ArrowUp'), null);
  assert.equal(keyTarget(days, '2027-03-02', 'Enter'), null);
});
