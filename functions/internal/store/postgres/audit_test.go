package postgres_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"

	"github.com/sportello/sportello/events"
	"github.com/sportello/sportello/functions/internal/domain/audit"
	"github.com/sportello/sportello/functions/internal/store/outbox"
	"github.com/sportello/sportello/functions/internal/store/pgtest"
	"github.com/sportello/sportello/functions/internal/store/postgres"
)

// write records entries in one transaction each and fails the test on error.
func write(t *testing.T, store *postgres.Store, entries ...audit.Entry) {
	t.Helper()
	for _, e := range entries {
		if err := store.InTx(t.Context(), func(tx *postgres.Tx) error { return tx.Audit(t.Context(), e) }); err != nil {
			t.Fatal(err)
		}
	}
}

// summary is a record without its id and time, to compare.
type summary struct {
	Actor          audit.Actor
	Action, Target string
	Office, Detail string
}

func summarize(recs []audit.Record) []summary {
	var out []summary
	for _, r := range recs {
		s := summary{Actor: r.Actor, Action: r.Action, Target: r.TargetKind + "/" + r.TargetID, Detail: string(r.Detail)}
		if r.OfficeID != nil {
			s.Office = *r.OfficeID
		}
		out = append(out, s)
	}
	return out
}

// TestListFilters: List returns the rows a filter selects, newest first;
// an operator's scope (Offices) hides the other offices' rows and the
// rows of no office; pages go on with Before.
func TestAuditLogFilters(t *testing.T) {
	store, _ := pgtest.Store(t, monday)
	pool := store.Pool
	if _, err := pool.Exec(t.Context(), `TRUNCATE audit_log`); err != nil {
		t.Fatal(err)
	}
	op := uuid.NewString()
	b1, b2 := uuid.NewString(), uuid.NewString()
	write(t, store,
		audit.Entry{Actor: audit.Citizen, Action: "booking.confirmed", TargetKind: "booking", TargetID: b1, OfficeID: "urp"},
		audit.Entry{Actor: audit.Operator(op), Action: "booking.cancelled", TargetKind: "booking", TargetID: b1, OfficeID: "urp",
			Detail: map[string]string{"cancelled_by": "operator"}},
		audit.Entry{Actor: audit.Citizen, Action: "booking.confirmed", TargetKind: "booking", TargetID: b2, OfficeID: "ambiente"},
		audit.Entry{Actor: audit.Operator(op), Action: "operator.updated", TargetKind: "operator", TargetID: op},
	)
	all, err := store.AuditLog(t.Context(), audit.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 4 {
		t.Fatalf("%d rows, want 4", len(all))
	}
	for i := 1; i < len(all); i++ {
		if all[i].ID >= all[i-1].ID {
			t.Fatalf("not newest first: %d after %d", all[i].ID, all[i-1].ID)
		}
	}
	opActor := audit.Operator(op)
	for _, c := range []struct {
		name string
		f    audit.Filter
		want []summary
	}{
		{"booking", audit.Filter{TargetKind: "booking", TargetID: b1}, []summary{
			{opActor, "booking.cancelled", "booking/" + b1, "urp", `{"cancelled_by": "operator"}`},
			{audit.Citizen, "booking.confirmed", "booking/" + b1, "urp", `{}`},
		}},
		{"actor", audit.Filter{ActorID: op}, []summary{
			{opActor, "operator.updated", "operator/" + op, "", `{}`},
			{opActor, "booking.cancelled", "booking/" + b1, "urp", `{"cancelled_by": "operator"}`},
		}},
		{"scope", audit.Filter{Offices: []string{"ambiente"}}, []summary{
			{audit.Citizen, "booking.confirmed", "booking/" + b2, "ambiente", `{}`},
		}},
		{"empty scope", audit.Filter{Offices: []string{}}, nil},
		{"page", audit.Filter{Before: all[1].ID, Limit: 1}, []summary{
			{opActor, "booking.cancelled", "booking/" + b1, "urp", `{"cancelled_by": "operator"}`},
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := store.AuditLog(t.Context(), c.f)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(c.want, summarize(got)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// TestRecordAndRollback: Record writes the outbox row and the audit row
// together — both or neither.
func TestRecordAndRollback(t *testing.T) {
	store, _ := pgtest.Store(t, monday)
	pool := store.Pool
	ctx := t.Context()
	id := uuid.NewString()
	ev := outbox.Event{Type: events.BookingPurged, Subject: id, Data: events.BookingPurgedData{BookingID: id, PurgedAt: monday}}
	count := func() (rows [2]int) {
		t.Helper()
		if err := pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM outbox WHERE subject = $1), (SELECT count(*) FROM audit_log WHERE target_id = $1)`,
			id).Scan(&rows[0], &rows[1]); err != nil {
			t.Fatal(err)
		}
		return rows
	}
	inTx := func(commit bool) {
		t.Helper()
		err := store.InTx(ctx, func(tx *postgres.Tx) error {
			if err := tx.Record(ctx, audit.System, "urp", ev); err != nil {
				return err
			}
			if !commit {
				return context.Canceled
			}
			return nil
		})
		if commit && err != nil {
			t.Fatal(err)
		}
	}
	inTx(false)
	if got := count(); got != [2]int{0, 0} {
		t.Fatalf("after a rollback: %v rows (outbox, audit)", got)
	}
	inTx(true)
	if got := count(); got != [2]int{1, 1} {
		t.Fatalf("after a commit: %v rows (outbox, audit)", got)
	}
	recs, err := store.AuditLog(ctx, audit.Filter{TargetKind: "booking", TargetID: id})
	if err != nil || len(recs) != 1 {
		t.Fatalf("%v, %v", recs, err)
	}
	var d events.BookingPurgedData
	if err := json.Unmarshal(recs[0].Detail, &d); err != nil || d.BookingID != id {
		t.Errorf("detail %s: %v", recs[0].Detail, err)
	}
	if recs[0].Action != "booking.purged" || recs[0].Actor != audit.System {
		t.Errorf("record %+v", recs[0])
	}
}

func TestShortName(t *testing.T) {
	for in, want := range map[string]string{
		events.BookingCancelled:  "booking.cancelled",
		events.DocumentUploaded:  "document.uploaded",
		events.ParticipantJoined: "participant.joined",
		"custom":                 "custom",
	} {
		if got := audit.ShortName(in); got != want {
			t.Errorf("ShortName(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestBadEntries: an entry without an action or a target, or with an
// unknown target kind or a system actor with an id, is refused.
func TestBadAuditEntries(t *testing.T) {
	store, _ := pgtest.Store(t, monday)
	ctx := t.Context()
	for name, e := range map[string]audit.Entry{
		"no action":      {Actor: audit.System, TargetKind: "booking", TargetID: "x"},
		"no target":      {Actor: audit.System, Action: "x", TargetKind: "booking"},
		"unknown kind":   {Actor: audit.System, Action: "x", TargetKind: "planet", TargetID: "x"},
		"system with id": {Actor: audit.Actor{Kind: "system", ID: uuid.NewString()}, Action: "x", TargetKind: "booking", TargetID: "x"},
		"operator no id": {Actor: audit.Actor{Kind: "operator"}, Action: "x", TargetKind: "booking", TargetID: "x"},
		"unknown actor":  {Actor: audit.Actor{Kind: "robot"}, Action: "x", TargetKind: "booking", TargetID: "x"},
	} {
		err := store.InTx(ctx, func(tx *postgres.Tx) error { return tx.Audit(ctx, e) })
		if err == nil {
			t.Errorf("%s: written", name)
		}
	}
}
