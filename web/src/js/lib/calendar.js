// calendar: reads GET /api/slots. The answer is compact — per day the free
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
// end as an instant. Days without a free time are left out. No DOM here:
// the browser tests import it too.

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
