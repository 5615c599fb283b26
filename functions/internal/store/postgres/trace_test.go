package postgres_test

import (
	"context"
	"strings"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/sportello/sportello/events"
	"github.com/sportello/sportello/functions/internal/store/pgtest"
)

// traceparentOf is the trace context stored with the latest event of typ
// about subject ("" when none).
func traceparentOf(t *testing.T, subject, typ string) string {
	t.Helper()
	var tp *string
	if err := pgtest.Pool(t).QueryRow(context.Background(),
		`SELECT traceparent FROM outbox WHERE subject = $1 AND type = $2 ORDER BY time DESC LIMIT 1`, subject, typ).Scan(&tp); err != nil {
		t.Fatal(err)
	}
	if tp == nil {
		return ""
	}
	return *tp
}

// TestServerSideFunctionsStampTheTrace: the outbox rows that hold_slot and
// confirm_hold write in SQL carry the trace of the request when the store
// is Traced, and the setting ends with its statement: the pool's next
// untraced statements on the same connections write none; nor do they
// stamp a trace that is not sampled.
func TestServerSideFunctionsStampTheTrace(t *testing.T) {
	store, _ := pgtest.Store(t, monday)
	_, svc := pgtest.NewService(t, store.Pool, pgtest.Service{Desks: 3})
	store.Traced = true
	ctx, span := sdktrace.NewTracerProvider().Tracer("test").Start(context.Background(), "POST /holds")
	defer span.End()
	traceID := span.SpanContext().TraceID().String()

	h, err := store.Reserve(ctx, svc, at("2027-03-02", "09:00"), "it")
	if err != nil {
		t.Fatal(err)
	}
	if tp := traceparentOf(t, h.ID, events.BookingHeld); !strings.Contains(tp, traceID) {
		t.Fatalf("held event's traceparent %q, want trace %s", tp, traceID)
	}
	if _, err := store.Confirm(ctx, h.ID, h.Secret, citizen()); err != nil {
		t.Fatal(err)
	}
	if tp := traceparentOf(t, h.ID, events.BookingConfirmed); !strings.Contains(tp, traceID) {
		t.Fatalf("confirmed event's traceparent %q, want trace %s", tp, traceID)
	}

	for _, hhmm := range []string{"09:00", "09:30", "10:00"} {
		h := pgtest.Hold(t, store, svc, at("2027-03-03", hhmm), "it") // no span in its context
		if tp := traceparentOf(t, h.ID, events.BookingHeld); tp != "" {
			t.Fatalf("an untraced hold carries %q: the setting outlived its statement", tp)
		}
	}
	// A trace not sampled is not stamped by hold_slot (the setting would
	// cost a statement for a trace nobody keeps); the confirmation, whose
	// columns cost nothing more, stamps it, not sampled, so that its
	// consumers follow the request's decision instead of starting traces
	// of their own.
	unsampled, span2 := sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.NeverSample())).Tracer("test").
		Start(context.Background(), "POST /holds")
	defer span2.End()
	h3, err := store.Reserve(unsampled, svc, at("2027-03-02", "09:30"), "it")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.Confirm(unsampled, h3.ID, h3.Secret, citizen()); err != nil {
		t.Fatal(err)
	}
	if tp := traceparentOf(t, h3.ID, events.BookingHeld); tp != "" {
		t.Errorf("the hold of a trace not sampled carries %q", tp)
	}
	if tp, want := traceparentOf(t, h3.ID, events.BookingConfirmed), span2.SpanContext().TraceID().String(); !strings.Contains(tp, want) || !strings.HasSuffix(tp, "-00") {
		t.Errorf("the confirmation of a trace not sampled carries %q, want trace %s, not sampled (-00)", tp, want)
	}

	store.Traced = false
	h2, err := store.Reserve(ctx, svc, at("2027-03-04", "09:00"), "it")
	if err != nil {
		t.Fatal(err)
	}
	if tp := traceparentOf(t, h2.ID, events.BookingHeld); tp != "" {
		t.Fatalf("a store not Traced stamped %q", tp)
	}
}
