package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/sportello/sportello/local/services"
)

// telemetrySetting is one way to run the functions for the telemetry part.
type telemetrySetting struct {
	name string
	env  []string
}

// tracing measures what telemetry costs on the citizen's busiest path — a
// hold and its confirmation through reserve and confirm, PostgreSQL with
// fsync on — with the same build run four ways: telemetry off, metrics only
// (the shipped default without a collector), metrics and traces at the
// default sampling exported to a real Jaeger, and every trace kept. The
// settings take turns, round after round, each round on fresh processes,
// so the machine's drift falls on all of them alike; the medians are
// compared with telemetry off.
func tracing(c config, db *database, bins, tmp string) error {
	clients := c.clients[0]
	fmt.Printf("\n## What telemetry costs\n\n"+
		"%d bookings a run (a hold on a free slot, then its confirmation), %d clients, through reserve and confirm as they ship, "+
		"%d rounds of each setting in turn; the median run of each. Traces go over OTLP/HTTP to a Jaeger of the bench's own.\n\n",
		c.telemetryBookings, clients, c.telemetryRounds)
	jaeger := &services.Jaeger{Dir: filepath.Join(tmp, "jaeger")}
	if err := os.MkdirAll(jaeger.Dir, 0o755); err != nil {
		return err
	}
	if err := jaeger.Start(context.Background()); err != nil {
		return fmt.Errorf("jaeger: %w", err)
	}
	defer jaeger.Stop()
	otlp := "OTEL_EXPORTER_OTLP_ENDPOINT=" + jaeger.OTLPEndpoint()
	// No traces where none are meant, whatever the shell exports (the
	// functions inherit its environment; the last of a name wins).
	settings := []telemetrySetting{
		{"telemetry off", []string{"OTEL_METRICS_EXPORTER=none", "OTEL_TRACES_EXPORTER=none"}},
		{"metrics (Prometheus), no traces", []string{"OTEL_TRACES_EXPORTER=none"}},
		{"metrics and traces, default sampling (1 in 10)", []string{otlp}},
		{"metrics and every trace", []string{otlp, "OTEL_TRACES_SAMPLER=always_on"}},
	}

	url, err := db.fresh(bins, "telemetry")
	if err != nil {
		return err
	}
	if err := db.exec(url, benchService(4)...); err != nil {
		return err
	}
	env := []string{"DATABASE_URL=" + url, fmt.Sprintf("DATABASE_MAX_CONNS=%d", c.conns), "HOLD_TTL=24h", "K_SINK=",
		"CLIENT_KEY=" + strings.Repeat("bench-client-key-", 2)}
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConns: clients, MaxIdleConnsPerHost: clients}}
	// Every booking a desk-slot and a citizen (a network address) of its
	// own: four bookings a slot, one on each desk, so that every run's
	// slots fit in the service's horizon.
	first, n := time.Now().Add(48*time.Hour).Truncate(time.Hour), 0
	citizen := func() (time.Time, string) {
		n++
		return first.Add(time.Duration(n/4) * 30 * time.Minute), citizenAddress(n)
	}

	type run struct{ rps, cpu float64 } // bookings/s; function CPU µs a booking
	runs := make([][]run, len(settings))
	for round := 0; round < c.telemetryRounds; round++ {
		for k, s := range settings {
			prof := func(fn string) string {
				return "CPU_PROFILE=" + filepath.Join(c.keep, fmt.Sprintf("telemetry-%d-%s.pprof", k, fn))
			}
			reserve, err := start(bins, "reserve", append(slices.Clone(env), append(s.env, prof("reserve"))...)...)
			if err != nil {
				return err
			}
			confirm, err := start(bins, "confirm", append(slices.Clone(env), append(s.env, prof("confirm"))...)...)
			if err != nil {
				reserve.stop()
				return err
			}
			slots := make([]time.Time, c.telemetryBookings+c.conns*4)
			addresses := make([]string, len(slots))
			for i := range slots {
				slots[i], addresses[i] = citizen()
			}
			book := func(i int) (bool, error) { return bookOne(client, reserve.base, confirm.base, slots[i], addresses[i]) }
			warm := drive(c.conns*4, clients, func(i int) (bool, error) { return book(c.telemetryBookings + i) })
			f0 := reserve.cpu() + confirm.cpu()
			r := drive(c.telemetryBookings, clients, book)
			cpu := reserve.cpu() + confirm.cpu() - f0
			reserve.stop()
			confirm.stop()
			if r.errors > 0 || warm.errors > 0 || r.won != c.telemetryBookings {
				return fmt.Errorf("telemetry, %s: %d of %d booked, %d errors", s.name, r.won, c.telemetryBookings, r.errors+warm.errors)
			}
			runs[k] = append(runs[k], run{rps: r.rps(), cpu: float64(cpu.Microseconds()) / float64(c.telemetryBookings)})
		}
	}
	median := func(xs []float64) float64 {
		slices.Sort(xs)
		return xs[len(xs)/2]
	}
	fmt.Println("| setting | bookings/s (median) | runs (bookings/s, CPU µs a booking) | function CPU µs a booking (median) | throughput vs off | CPU vs off |")
	fmt.Println("|---|---:|---|---:|---:|---:|")
	var offRPS, offCPU float64
	for k, s := range settings {
		var rps, cpu []float64
		var each []string
		for _, r := range runs[k] {
			rps, cpu = append(rps, r.rps), append(cpu, r.cpu)
			each = append(each, fmt.Sprintf("%.0f/s %.0f µs", r.rps, r.cpu))
		}
		mr, mc := median(rps), median(cpu)
		if k == 0 {
			offRPS, offCPU = mr, mc
		}
		fmt.Printf("| %s | %.0f | %s | %.0f | %.3f | %.3f |\n", s.name, mr, strings.Join(each, ", "), mc, mr/offRPS, mc/offCPU)
	}
	fmt.Printf("\nCPU profiles of each setting's last run: %s/telemetry-<setting 0–3>-<function>.pprof (go tool pprof).\n", c.keep)
	return nil
}

// bookOne holds start on reserve and confirms the hold on confirm, as the
// citizen at address.
func bookOne(client *http.Client, reserve, confirm string, start time.Time, address string) (bool, error) {
	body, _ := json.Marshal(map[string]string{"service_id": "bench", "start": start.Format(time.RFC3339)})
	status, msg, err := postAs(client, reserve+"/api/holds", body, address)
	if err != nil || status != http.StatusCreated {
		return false, errors.Join(err, fmt.Errorf("hold: %d %s", status, msg))
	}
	var h map[string]string
	if err := json.Unmarshal(msg, &h); err != nil {
		return false, err
	}
	body, _ = json.Marshal(map[string]any{"hold_id": h["hold_id"], "hold_secret": h["hold_secret"],
		"citizen": map[string]any{"given_name": "T", "family_name": "T", "address": "T", "email": "t@example.it", "privacy_consent": true}})
	status, msg, err = postAs(client, confirm+"/api/bookings", body, address)
	if err != nil || status != http.StatusCreated {
		return false, errors.Join(err, fmt.Errorf("confirm: %d %s", status, msg))
	}
	return true, nil
}
