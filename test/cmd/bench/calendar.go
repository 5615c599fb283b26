package main

import (
	"fmt"
	"io"
	"net/http"
	"time"
)

// calendar measures the 60-day answer of a 5-desk, 15-minute service with
// bookings on it: its size as JSON and gzipped, the server CPU an answer
// costs, and its latency one request after another — once reused
// (CALENDAR_MAX_AGE, the default 1s) and once built for every request (the
// baseline: what each answer cost before the cache).
func calendar(db *database, bins string) error {
	url, err := db.fresh(bins, "calendar")
	if err != nil {
		return err
	}
	if err := db.exec(url,
		`INSERT INTO offices (id, name) VALUES ('cal', 'Calendar')`,
		`INSERT INTO services (id, office_id, name, duration_minutes, horizon_days) VALUES ('cal', 'cal', 'Calendar', 15, 90)`,
		`INSERT INTO opening_hours (service_id, weekday, opens, closes)
		 SELECT 'cal', d, o, c FROM generate_series(1, 5) d, (VALUES ('09:00'::time, '13:00'::time), ('14:00', '17:00')) h(o, c)`,
		`INSERT INTO desks (service_id, label) SELECT 'cal', 'D' || n FROM generate_series(1, 5) n`,
		// A third of the desk-slots of the next 60 days taken.
		`INSERT INTO bookings (id, service_id, desk_id, starts_at, ends_at, blocks, status, hold_secret_hash, hold_expires_at, created_at, updated_at)
		 SELECT gen_random_uuid(), 'cal', d.id, t, t + interval '15 minutes', tstzrange(t, t + interval '15 minutes'), 'held',
		        '\x00', now() + interval '1 day', now(), now()
		 FROM desks d, generate_series(date_trunc('day', now()) + interval '1 day 9 hours', date_trunc('day', now()) + interval '61 days', interval '15 minutes') t
		 WHERE d.service_id = 'cal' AND extract(isodow FROM t AT TIME ZONE 'Europe/Rome') < 6
		   AND (t AT TIME ZONE 'Europe/Rome')::time >= '09:00' AND (t AT TIME ZONE 'Europe/Rome')::time < '17:00'
		   AND (t AT TIME ZONE 'Europe/Rome')::time NOT BETWEEN '13:00' AND '13:59'
		   AND random() < 0.33`,
	); err != nil {
		return err
	}
	from := time.Now().AddDate(0, 0, 1).Format(time.DateOnly)
	to := time.Now().AddDate(0, 0, 60).Format(time.DateOnly)
	target := "/api/slots?service_id=cal&from=" + from + "&to=" + to
	fmt.Printf("\n## The calendar\n\n60 days of a 5-desk, 15-minute service (Monday to Friday, 09:00–13:00 and 14:00–17:00), a third of it booked: "+
		"`GET %s`, 500 requests one after another.\n\n", target)
	fmt.Println("| run | JSON | gzipped | server CPU per answer | p50 | p95 | p99 |")
	fmt.Println("|---|---:|---:|---:|---:|---:|---:|")
	for _, run := range []struct{ name, maxAge string }{{"built for every request (baseline)", "0"}, {"reused up to 1 s (CALENDAR_MAX_AGE)", "1s"}} {
		p, err := start(bins, "query-slots", "DATABASE_URL="+url, "CALENDAR_MAX_AGE="+run.maxAge)
		if err != nil {
			return err
		}
		var lat latencies
		var plain, zipped int
		cpu0 := p.cpu()
		for i := 0; i < 500; i++ {
			req, _ := http.NewRequest(http.MethodGet, p.base+target, nil)
			req.Header.Set("Accept-Encoding", "gzip")
			t0 := time.Now()
			resp, err := http.DefaultTransport.RoundTrip(req)
			if err != nil {
				p.stop()
				return err
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			lat = append(lat, time.Since(t0))
			if resp.StatusCode != http.StatusOK {
				p.stop()
				return fmt.Errorf("calendar: status %d: %s", resp.StatusCode, b)
			}
			zipped = len(b)
		}
		perAnswer := (p.cpu() - cpu0) / 500
		if resp, err := http.Get(p.base + target); err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			plain = len(b)
		}
		p.stop()
		fmt.Printf("| %s | %.1f KB | %.1f KB | %s | %s | %s | %s |\n", run.name, float64(plain)/1000, float64(zipped)/1000,
			fmt.Sprintf("%.2f ms", float64(perAnswer.Microseconds())/1000), ms(lat.pct(0.5)), ms(lat.pct(0.95)), ms(lat.pct(0.99)))
	}
	fmt.Println("\nThe server CPU is the function process's user and system time over the 500 answers (Linux counts it in 10 ms ticks), divided by 500." +
		" The answer of the previous format (two RFC 3339 strings per slot, uncompressed) was about 235 KB for such a calendar.")
	return nil
}
