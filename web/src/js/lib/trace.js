// trace: the W3C trace context of a citizen's booking, so that the ops
// teams see one booking as one trace — the calendar, the hold, the
// confirmation and what the events then do (the mail, the room).
//
//   startJourney()      begins a new trace (the booking page calls it once
//                       per visit); until then no request carries one
//   traceparent()       "00-<trace id>-<new span id>-01" for the next
//                       request, or "" outside a journey
//
// The ids are random and say nothing about the citizen. The server samples
// by the trace id alone (its default), so the flags sent here decide
// nothing in production; the local stack keeps every trace.

function hex(bytes) {
  const b = crypto.getRandomValues(new Uint8Array(bytes));
  return [...b].map((x) => x.toString(16).padStart(2, '0')).join('');
}

let journey = '';

export function startJourney() {
  journey = hex(16);
  return journey;
}

export function traceparent() {
  return journey ? `00-${journey}-${hex(8)}-01` : '';
}
