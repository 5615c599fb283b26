// This file holds the Broker itself: its settings, the subscribers, the
// ingest that hands each event to its matching triggers, and Close.

package broker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	cloudevents "github.com/cloudevents/sdk-go/v2"

	"github.com/sportello/sportello/local/httpjson"
)

// Defaults.
const (
	DefaultKeep        = 1000             // events and dead letters kept for the lists
	DefaultMaxInFlight = 64               // concurrent attempts per trigger
	DefaultTimeout     = 30 * time.Second // per attempt, when a trigger sets none
	MaxHops            = 32               // replies to replies before the broker calls it a loop
	maxEventBytes      = 1 << 20
)

// Broker routes events from its ingress to its triggers' subscribers. Set
// the fields before the first use; SetSubscriber may be called any time.
type Broker struct {
	Triggers     []Trigger
	Log          *slog.Logger // nil: no log
	BackoffScale float64      // multiplies every backoff delay (tests use a small one); 1 when 0
	MaxInFlight  int          // concurrent attempts per trigger; DefaultMaxInFlight when 0
	Keep         int          // events and dead letters kept for the lists; DefaultKeep when 0
	Client       *http.Client // for deliveries; a plain client when nil (the timeout is per attempt)
	StateFile    string       // where Close saves the deliveries it abandons, for Resume; "" loses them

	once        sync.Once
	ctx         context.Context
	cancel      context.CancelFunc
	wg          sync.WaitGroup
	mux         *http.ServeMux
	sem         map[string]chan struct{} // per trigger name
	mu          sync.Mutex
	closed      bool
	subscribers map[string]*url.URL // function name → its URL
	events      ring[Event]
	dead        ring[DeadLetter]
	abandoned   []Pending
	// deadTotal counts the dead letters, served at GET /metrics (every one,
	// not only those the list keeps).
	deadTotal *prometheus.CounterVec
	registry  *prometheus.Registry
}

func (b *Broker) init() {
	b.once.Do(func() {
		b.ctx, b.cancel = context.WithCancel(context.Background())
		if b.Log == nil {
			b.Log = slog.New(slog.DiscardHandler)
		}
		if b.Client == nil {
			// Connections kept open to each subscriber, up to the
			// deliveries in flight (Go's default keeps two a host).
			t := http.DefaultTransport.(*http.Transport).Clone()
			t.MaxIdleConns, t.MaxIdleConnsPerHost = 1024, 256
			b.Client = &http.Client{Transport: t}
		}
		n := b.MaxInFlight
		if n <= 0 {
			n = DefaultMaxInFlight
		}
		b.sem = map[string]chan struct{}{}
		for _, t := range b.Triggers {
			b.sem[t.Name] = make(chan struct{}, n)
		}
		b.subscribers = map[string]*url.URL{}
		mux := http.NewServeMux()
		mux.HandleFunc("/{$}", b.ingress)
		mux.Handle("/events", http.HandlerFunc(b.listEvents))
		mux.Handle("/dead-letters", http.HandlerFunc(b.listDeadLetters))
		mux.Handle("GET /triggers", http.HandlerFunc(b.listTriggers))
		b.deadTotal = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sportello_broker_dead_letters_total",
			Help: "Events a trigger could not deliver (retries exhausted, not retryable, invalid reply), by trigger, subscriber and reason."},
			[]string{"trigger", "subscriber", "reason"})
		b.registry = prometheus.NewRegistry()
		b.registry.MustRegister(b.deadTotal)
		mux.Handle("GET /metrics", promhttp.HandlerFor(b.registry, promhttp.HandlerOpts{}))
		mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
			httpjson.WriteProblem(w, http.StatusNotFound, "not_found", "the broker serves POST / (ingress), GET /events, GET /dead-letters, GET /triggers and GET /metrics")
		})
		b.mux = mux
	})
}

// SetSubscriber sets where the triggers of function deliver: POST to u.
// Until it is set, deliveries to that function fail and are retried.
func (b *Broker) SetSubscriber(function, u string) error {
	b.init()
	parsed, err := url.Parse(u)
	if err != nil || parsed.Scheme == "" || parsed.Host == "" {
		return fmt.Errorf("broker: subscriber %q of %s is not an absolute URL", u, function)
	}
	b.mu.Lock()
	b.subscribers[function] = parsed
	b.mu.Unlock()
	return nil
}

func (b *Broker) subscriber(function string) *url.URL {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.subscribers[function]
}

// ErrClosed is what Publish answers once Close has been called.
var ErrClosed = errors.New("broker: stopped")

// Publish ingests ev as the ingress does: it is logged, kept for the event
// log and handed to every matching trigger.
func (b *Broker) Publish(ev cloudevents.Event) error {
	b.init()
	if err := ev.Validate(); err != nil {
		return err
	}
	return b.ingest(ev, traceContext{}, 0)
}

// ingest routes ev, which arrived through hops replies with the trace
// context tc.
func (b *Broker) ingest(ev cloudevents.Event, tc traceContext, hops int) error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return ErrClosed
	}
	b.events.add(fromCloudEvent(ev), b.keep())
	// Add under the lock that Close takes: no delivery starts after Wait.
	var matched []Trigger
	for _, t := range b.Triggers {
		if t.Matches(ev) {
			matched = append(matched, t)
		}
	}
	b.wg.Add(len(matched))
	b.mu.Unlock()
	b.Log.Info("event", "id", ev.ID(), "type", ev.Type(), "source", ev.Source(), "subject", ev.Subject(), "triggers", len(matched))
	for _, t := range matched {
		go func() {
			defer b.wg.Done()
			b.deliver(t, ev, tc, hops)
		}()
	}
	return nil
}

func (b *Broker) keep() int {
	if b.Keep > 0 {
		return b.Keep
	}
	return DefaultKeep
}

// ring keeps the last items added, up to a size that does not change
// (the broker's Keep, set before its first use): once full, each new one
// takes the place of the oldest, without copying the others (the broker
// adds one for every event, hundreds a second on a click day).
type ring[T any] struct {
	items []T
	next  int // where the next item goes once full: the oldest one
}

func (r *ring[T]) add(x T, size int) {
	if len(r.items) < size {
		r.items = append(r.items, x)
		return
	}
	r.items[r.next] = x
	r.next = (r.next + 1) % len(r.items)
}

// all returns a copy of the items, oldest first.
func (r *ring[T]) all() []T {
	return append(append(make([]T, 0, len(r.items)), r.items[r.next:]...), r.items[:r.next]...)
}

// Close stops taking events and abandons the deliveries still waiting for
// a retry or in flight, then waits for them to end. The abandoned ones are
// logged and, with a StateFile, saved there for Resume: the consumers
// tolerate a second delivery, so the next run delivers them again.
func (b *Broker) Close() error {
	b.init()
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	b.closed = true
	b.mu.Unlock()
	b.cancel()
	b.wg.Wait()
	return b.save()
}
