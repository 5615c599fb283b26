// Package stack is Sportello's one-command local stack, the "embedded
// default" of design decision 9: it starts a private PostgreSQL whose data
// survives restarts, Mailpit, LiveKit and MinIO (package services), builds
// every function listed in package manifest, applies the schema with the
// demo data, starts each function as its own process, and puts in front of
// them a gateway that routes /api and serves the site. A local broker
// (package broker) takes the functions' CloudEvents (their K_SINK) and
// delivers them to their consumers by the manifest's triggers; a ticker
// plays the PingSource that drives housekeeping. Stopping it stops the
// ticker, the functions (they drain), the broker, the gateway, the
// services and PostgreSQL, in that order.
//
// The same binaries run on Knative in production; here the stack plays the
// parts of Knative's ingress (the gateway), broker and triggers (the
// broker) and PingSource (the ticker).
package stack
