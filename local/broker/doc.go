// Package broker is the local stack's event broker: a single-process
// stand-in for a Knative Broker with its Triggers, honouring the Knative
// Broker data-plane contract for the single-machine mode (in a cluster,
// Knative Eventing does this).
//
//   - Ingress: POST / accepts one CloudEvent in binary or structured HTTP
//     mode and answers 202 Accepted; what is not a valid event gets 400. The
//     functions' K_SINK points here.
//   - Triggers (from package manifest, the one declaration of the event
//     wiring) select events by exact match of their attributes and deliver
//     each to their function's "/" in binary mode, concurrently, without
//     holding up the ingress.
//   - Delivery follows the trigger's delivery spec: a timeout per attempt,
//     Retry attempts after the first, with exponential (delay·2^n) or linear
//     (delay·n) backoff before the n-th retry. Network errors, timeouts, 5xx,
//     429, 404 and 409 are retried; any other answer outside 2xx is final.
//   - A 2xx answer that carries a CloudEvent is a reply: it is ingested like
//     any other event.
//   - An event whose retries run out, or that gets a final failure, becomes
//     a dead letter: logged (id, type, source, subject, trigger and last
//     status, never the data) and listed at GET /dead-letters.
//
// GET /events lists the events ingested lately (the local stack's event
// log), GET /triggers the triggers and where they deliver. The broker keeps
// everything in memory; deliveries still pending when it stops can be saved
// to a file and resumed by the next run (StateFile, Resume).
package broker
