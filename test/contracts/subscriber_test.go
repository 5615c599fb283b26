package contracts

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/cloudevents/sdk-go/v2/binding"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"
	"gopkg.in/yaml.v3"

	"github.com/sportello/sportello/events"
	"github.com/sportello/sportello/functions/manifest"
	"github.com/sportello/sportello/local/broker"
	"github.com/sportello/sportello/local/pg"
	"github.com/sportello/sportello/local/syncbuf"
)

// exampleTriggers reads the example's Knative Triggers
// (examples/subscriber/config/trigger.yaml) as the local broker's, with
// the subscriber's Service as their function.
func exampleTriggers(t *testing.T, dir string) []broker.Trigger {
	t.Helper()
	f, err := os.Open(filepath.Join(dir, "config", "trigger.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []broker.Trigger
	dec := yaml.NewDecoder(f)
	for {
		var tr struct {
			Metadata struct{ Name string }
			Spec     struct {
				Filter     struct{ Attributes map[string]string }
				Subscriber struct{ Ref struct{ Name string } }
				Delivery   struct{ Retry int }
			}
		}
		if err := dec.Decode(&tr); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		out = append(out, broker.Trigger{Name: tr.Metadata.Name, Function: tr.Spec.Subscriber.Ref.Name, Filter: tr.Spec.Filter.Attributes,
			Delivery: manifest.Delivery{Retry: tr.Spec.Delivery.Retry, BackoffPolicy: "exponential", BackoffDelay: 10 * time.Millisecond, Timeout: 5 * time.Second}})
	}
	return out
}

// startExample builds examples/subscriber (its own module, outside the
// workspace, as an integrator's copy would be) and starts it; it answers
// its URL, the file its lines go to and its log.
func startExample(t *testing.T, dir string) (url, output string, log *syncbuf.Buffer) {
	t.Helper()
	tmp := t.TempDir()
	bin := filepath.Join(tmp, "subscriber")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Dir = dir
	build.Env = append(os.Environ(), "GOWORK=off")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build examples/subscriber: %v\n%s", err, out)
	}
	port, err := pg.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	output = filepath.Join(tmp, "events.jsonl")
	log = &syncbuf.Buffer{}
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), "PORT="+strconv.Itoa(port), "OUTPUT="+output)
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	url = fmt.Sprintf("http://127.0.0.1:%d", port)
	waitFor(t, "the subscriber's readiness", func() bool {
		resp, err := http.Get(url + "/health/readiness")
		if err == nil {
			resp.Body.Close()
		}
		return err == nil && resp.StatusCode == http.StatusOK
	})
	return url, output, log
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); !ok(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no %s within 30s", what)
		}
	}
}

// bookingEvent is an event of typ about one booking, as Sportello's
// outbox writes it, with data (nil: a valid payload of the type).
func bookingEvent(id, source, typ string, data any) cloudevents.Event {
	const booking = "0b6f3f5e-8f43-4bb5-9d7e-3b8d8a4c1f00"
	start := time.Date(2027, 3, 2, 9, 0, 0, 0, time.FixedZone("CET", 3600))
	b := events.Booking{BookingID: booking, OfficeID: "urbanistica", ServiceID: "sue", Desk: "Postazione 2",
		Start: start, End: start.Add(30 * time.Minute), Locale: "it"}
	if data == nil {
		switch typ {
		case events.BookingCancelled:
			b.Sequence = 1
			data = events.BookingCancelledData{Booking: b, CancelledBy: "citizen"}
		case events.BookingHeld:
			data = events.BookingHeldData{Booking: b, HoldExpiresAt: start}
		default:
			data = events.BookingConfirmedData{Booking: b}
		}
	}
	ev := cloudevents.NewEvent()
	ev.SetID(id)
	ev.SetSource(source)
	ev.SetType(typ)
	ev.SetSubject(booking)
	ev.SetTime(time.Now())
	if t, ok := events.Lookup(typ); ok {
		ev.SetDataSchema(t.DataSchema())
	}
	_ = ev.SetData(cloudevents.ApplicationJSON, data)
	return ev
}

// publish posts ev to the broker's ingress in binary or structured mode,
// as the CloudEvents SDK writes them.
func publish(t *testing.T, ingress string, ev cloudevents.Event, structured bool) {
	t.Helper()
	ctx := t.Context()
	if structured {
		ctx = binding.WithForceStructured(ctx)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, ingress, nil)
	if err == nil {
		err = cehttp.WriteRequest(ctx, binding.ToMessage(&ev), req)
	}
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("the broker answered %d to %s", resp.StatusCode, ev.ID())
	}
}

// TestExampleSubscriber runs the integrator's example behind the local
// broker, wired by the example's own Triggers: a booking.confirmed in
// binary mode, the same event again (a redelivery: same source and id), a
// booking.cancelled in structured mode, a booking.confirmed whose data its
// schema refuses, and a booking.held, which no Trigger selects. Two lines
// come out; the refused event is a dead letter after one attempt (400 is
// final).
func TestExampleSubscriber(t *testing.T) {
	dir := filepath.Join(repoRoot(t), "examples", "subscriber")
	triggers := exampleTriggers(t, dir)
	if len(triggers) != 2 || triggers[0].Filter["type"] != events.BookingConfirmed || triggers[1].Filter["type"] != events.BookingCancelled {
		t.Fatalf("the example's triggers: %+v", triggers)
	}
	url, output, log := startExample(t, dir)

	b := &broker.Broker{Triggers: triggers}
	srv := httptest.NewServer(b)
	t.Cleanup(func() { srv.Close(); _ = b.Close() })
	if err := b.SetSubscriber(triggers[0].Function, url+"/"); err != nil {
		t.Fatal(err)
	}

	publish(t, srv.URL, bookingEvent("e1", "/sportello/confirm", events.BookingConfirmed, nil), false)
	publish(t, srv.URL, bookingEvent("e1", "/sportello/confirm", events.BookingConfirmed, nil), false)
	publish(t, srv.URL, bookingEvent("c1", "/sportello/amend", events.BookingCancelled, nil), true)
	publish(t, srv.URL, bookingEvent("bad", "/sportello/confirm", events.BookingConfirmed, map[string]any{"booking_id": "0b6f3f5e-8f43-4bb5-9d7e-3b8d8a4c1f00"}), false)
	publish(t, srv.URL, bookingEvent("h1", "/sportello/reserve", events.BookingHeld, nil), false)

	waitFor(t, "dead letter of the invalid event", func() bool { return len(b.DeadLetters()) > 0 })
	waitFor(t, "duplicate in the subscriber's log", func() bool { return strings.Contains(log.String(), `"duplicate":true`) })
	waitFor(t, "two lines", func() bool { b, _ := os.ReadFile(output); return bytes.Count(b, []byte("\n")) >= 2 })
	time.Sleep(100 * time.Millisecond) // nothing more comes

	raw, _ := os.ReadFile(output)
	var got []string
	for _, line := range strings.Split(strings.TrimSpace(string(raw)), "\n") {
		var l struct {
			Source, ID, Type string
			Sequence         int
		}
		if err := json.Unmarshal([]byte(line), &l); err != nil {
			t.Fatalf("line %q: %v", line, err)
		}
		got = append(got, fmt.Sprintf("%s %s %s %d", l.Source, l.ID, l.Type, l.Sequence))
	}
	want := []string{
		"/sportello/amend c1 " + events.BookingCancelled + " 1",
		"/sportello/confirm e1 " + events.BookingConfirmed + " 0",
	}
	slices.Sort(got) // the broker delivers in no given order
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("lines:\n%s\nwant:\n%s\nsubscriber's log:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"), log.String())
	}
	dead := b.DeadLetters()
	if len(dead) != 1 || dead[0].Event.ID != "bad" || dead[0].LastStatus != http.StatusBadRequest || dead[0].Attempts != 1 {
		t.Errorf("dead letters: %+v", dead)
	}
}
