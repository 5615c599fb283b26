// lib/timezone.js: the site's calendar file carries Rome's local times and
// the zone's VTIMEZONE, which alone gives the instants back.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { localDateTime, offsetAt, utcOffset, vtimezone } from '../../src/js/lib/timezone.js';

test('offsets of Rome around the 2027 changes, written as RFC 5545 writes them', () => {
  assert.equal(offsetAt('Europe/Rome', Date.parse('2027-03-28T00:59:00Z')), 60);
  assert.equal(offsetAt('Europe/Rome', Date.parse('2027-03-28T01:00:00Z')), 120);
  assert.equal(offsetAt('Europe/Rome', Date.parse('2027-10-31T00:59:00Z')), 120);
  assert.equal(offsetAt('Europe/Rome', Date.parse('2027-10-31T01:00:00Z')), 60);
  assert.equal(offsetAt('UTC', Date.parse('2027-03-28T01:00:00Z')), 0);
  assert.deepEqual([60, 120, 0, -210, 330].map(utcOffset), ['+0100', '+0200', '+0000', '-0330', '+0530']);
});

test('the VTIMEZONE holds the year\'s changes with DTSTART in the local time before them', () => {
  const text = vtimezone('Europe/Rome', '2027-06-01T09:00:00+02:00', '2027-06-01T10:00:00+02:00').join('\n');
  assert.match(text, /^BEGIN:VTIMEZONE\nTZID:Europe\/Rome\n/);
  assert.ok(text.includes('BEGIN:DAYLIGHT\nDTSTART:20270328T020000\nTZOFFSETFROM:+0100\nTZOFFSETTO:+0200\nTZNAME:CEST\nEND:DAYLIGHT'), text);
  assert.ok(text.includes('BEGIN:STANDARD\nDTSTART:20271031T030000\nTZOFFSETFROM:+0200\nTZOFFSETTO:+0100\nTZNAME:CET\nEND:STANDARD'), text);
  assert.match(text, /END:VTIMEZONE$/);
});

// resolve reads a local DATE-TIME with the observances of a VTIMEZONE
// alone, as a calendar client without a zone database does.
function resolve(lines, local) {
  const obs = [];
  let cur = null;
  for (const l of lines) {
    if (l === 'BEGIN:STANDARD' || l === 'BEGIN:DAYLIGHT') cur = {};
    else if (l === 'END:STANDARD' || l === 'END:DAYLIGHT') { obs.push(cur); cur = null; }
    else if (cur) { const [k, v] = l.split(':'); cur[k] = v; }
  }
  const minutes = (o) => (o[0] === '-' ? -1 : 1) * (Number(o.slice(1, 3)) * 60 + Number(o.slice(3, 5)));
  const asUTC = (d) => Date.UTC(+d.slice(0, 4), +d.slice(4, 6) - 1, +d.slice(6, 8), +d.slice(9, 11), +d.slice(11, 13), +d.slice(13, 15));
  const onsets = obs.map((o) => ({ at: asUTC(o.DTSTART) - minutes(o.TZOFFSETFROM) * 60000, to: minutes(o.TZOFFSETTO) })).sort((a, b) => a.at - b.at);
  const offsetOf = (ms) => onsets.filter((o) => o.at <= ms).at(-1)?.to;
  for (const o of onsets) {
    const ms = asUTC(local) - o.to * 60000;
    if (offsetOf(ms) === o.to) return ms;
  }
  throw new Error(`no offset for ${local}`);
}

test('every time of the year, the DST days among them, comes back as the same instant', () => {
  for (const t of ['2027-01-15T09:00:00+01:00', '2027-03-27T09:30:00+01:00', '2027-03-28T01:30:00+01:00', '2027-03-28T09:30:00+02:00',
    '2027-10-30T09:30:00+02:00', '2027-10-31T09:30:00+01:00', '2027-12-30T16:00:00+01:00']) {
    const lines = vtimezone('Europe/Rome', t, t);
    assert.equal(localDateTime(t), t.slice(0, 19).replace(/[-:]/g, ''));
    assert.equal(resolve(lines, localDateTime(t)), Date.parse(t), t);
  }
  assert.throws(() => localDateTime('tomorrow'));
});
