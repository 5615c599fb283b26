// Command subscriber is an example for integrators: a Knative Service that
// receives Sportello's booking.confirmed and booking.cancelled events from
// the Broker (see config/), checks each against its JSON Schema, handles
// each event once although the Broker delivers at least once, and writes a
// line per event: where a records system would open or close a file.
//
// Copy it and replace record with your own side effect. Settings, from the
// environment:
//
//	PORT    the port to listen on (Knative sets it); 8080 when empty
//	OUTPUT  the file the lines go to, one JSON object a line; it is also the
//	        record of what was handled (see Journal); ./events.jsonl when empty
package main

import (
	"errors"
	"log/slog"
	"net/http"
	"os"
)

func main() {
	log := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	port := env("PORT", "8080")
	output := env("OUTPUT", "events.jsonl")

	journal, err := OpenJournal(output)
	if err != nil {
		log.Error("opening the journal", "file", output, "err", err)
		os.Exit(1)
	}
	defer journal.Close()
	h, err := NewHandler(journal, log)
	if err != nil {
		log.Error("loading the schemas", "err", err)
		os.Exit(1)
	}

	mux := http.NewServeMux()
	mux.Handle("POST /", h)
	mux.HandleFunc("GET /health/{probe}", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusOK) })
	log.Info("listening", "port", port, "output", output)
	if err := http.ListenAndServe(":"+port, mux); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Error("serving", "err", err)
		os.Exit(1)
	}
}

func env(name, fallback string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return fallback
}
