// Package contracts checks the documents Sportello publishes for others:
// the AsyncAPI document of its events (events/asyncapi.json) with the
// AsyncAPI project's own parser, the publiccode.yml of the Developers Italia
// catalogue with the standard's own parser, and the integrator's example
// subscriber (examples/subscriber) end to end behind the local broker.
// Everything here is test code.
package contracts
