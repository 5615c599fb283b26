package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// confirmRounds is how many rounds the confirm runs take turns in.
const confirmRounds = 5

// result is one run of a workload.
type result struct {
	name      string
	elapsed   time.Duration
	latencies latencies
	won, lost int
	errors    int
	// CPU used during the run by the function (none for a baseline), by
	// PostgreSQL and by this load generator.
	fn, pg, client time.Duration
	wal            walUse // what PostgreSQL wrote to its WAL during the run
}

// measured runs work and notes the CPU each side used on it, and the WAL
// PostgreSQL wrote; fn is nil for a baseline. The WAL is read outside the
// CPU's window, on a connection kept for it (database.wal).
func measured(db *database, fn *process, work func() result) result {
	cpuOf := func() time.Duration {
		if fn == nil {
			return 0
		}
		return fn.cpu()
	}
	w0 := db.wal()
	f0, p0, c0 := cpuOf(), db.cpu(), selfCPU()
	r := work()
	r.fn, r.pg, r.client = cpuOf()-f0, db.cpu()-p0, selfCPU()-c0
	r.wal = db.wal().minus(w0)
	return r
}

// walPerRequest is the run's WAL per request in bytes, and the
// checkpoints completed during it.
func (r result) walPerRequest() string {
	if r.wal.err != nil {
		return fmt.Sprintf("(%v)", r.wal.err)
	}
	s := fmt.Sprintf("%.0f", float64(r.wal.bytes)/float64(max(len(r.latencies), 1)))
	if r.wal.checkpoints > 0 {
		s += fmt.Sprintf(" (%d checkpoint done)", r.wal.checkpoints)
	}
	return s
}

// perRequest is the run's CPU per request on each side, in µs.
func (r result) perRequest() string {
	n := time.Duration(max(len(r.latencies), 1))
	fn := "–"
	if r.fn > 0 {
		fn = fmt.Sprint((r.fn / n).Microseconds())
	}
	return fmt.Sprintf("%s / %d / %d", fn, (r.pg / n).Microseconds(), (r.client / n).Microseconds())
}

// plus is r and another run of the same workload, as one.
func (r result) plus(o result) result {
	r.elapsed += o.elapsed
	r.latencies = append(r.latencies, o.latencies...)
	r.won, r.lost, r.errors = r.won+o.won, r.lost+o.lost, r.errors+o.errors
	r.fn, r.pg, r.client = r.fn+o.fn, r.pg+o.pg, r.client+o.client
	r.wal = walUse{r.wal.bytes + o.wal.bytes, r.wal.checkpoints + o.wal.checkpoints, errors.Join(r.wal.err, o.wal.err)}
	return r
}

func (r result) rps() float64 { return float64(len(r.latencies)) / r.elapsed.Seconds() }

// drive runs n requests from c concurrent clients: request i gets i.
func drive(n, c int, do func(i int) (won bool, err error)) result {
	var (
		next            atomic.Int64
		wg              sync.WaitGroup
		mu              sync.Mutex
		res             result
		won, lost, errs atomic.Int64
	)
	start := time.Now()
	for w := 0; w < c; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine latencies
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					break
				}
				t0 := time.Now()
				ok, err := do(i)
				mine = append(mine, time.Since(t0))
				switch {
				case err != nil:
					errs.Add(1)
				case ok:
					won.Add(1)
				default:
					lost.Add(1)
				}
			}
			mu.Lock()
			res.latencies = append(res.latencies, mine...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	res.elapsed = time.Since(start)
	res.won, res.lost, res.errors = int(won.Load()), int(lost.Load()), int(errs.Load())
	return res
}

// benchService is the SQL that makes the bench's service: office and
// service "bench", 30-minute slots bookable round the clock every day of
// the coming year, on desks desks.
func benchService(desks int) []string {
	return []string{
		`INSERT INTO offices (id, name) VALUES ('bench', 'Bench')`,
		`INSERT INTO services (id, office_id, name, duration_minutes, horizon_days, open_on_holidays) VALUES ('bench', 'bench', 'Bench', 30, 366, true)`,
		`INSERT INTO opening_hours (service_id, weekday, opens, closes) SELECT 'bench', d, '00:00', '24:00' FROM generate_series(1, 7) d`,
		fmt.Sprintf(`INSERT INTO desks (service_id, label) SELECT 'bench', 'D' || n FROM generate_series(1, %d) n`, desks),
	}
}

// holds measures reserve and confirm under contention next to the bare SQL
// that writes the same rows, at each number of clients.
func holds(c config, db *database, bins string) ([]string, error) {
	fmt.Printf("\n## Hold and confirm under contention\n\n"+
		"%d hold requests a run, %d aimed at each slot of a %d-desk service (so %d of each %d win), then %d confirmations a confirm run (the holds won topped up with uncontended ones); "+
		"PostgreSQL with fsync on; %d database connections for each function and for the baseline.\n\n",
		c.requests, c.group, c.desks, c.desks, c.group, c.confirmations, c.conns)
	fmt.Println("| clients | run | requests/s | p50 | p95 | p99 | won | refused | errors | CPU µs a request: function / PostgreSQL / client | WAL bytes a request | ratio |")
	fmt.Println("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
	var failures []string
	var profiles, gatheredAt []string
	for k, clients := range c.clients {
		name := fmt.Sprintf("holds_%d", clients)
		url, err := db.fresh(bins, name)
		if err != nil {
			return nil, err
		}
		if err := db.exec(url, append(benchService(c.desks),
			// The baseline: the same exclusion constraint, and an outbox.
			`CREATE TABLE baseline (id bigserial PRIMARY KEY, desk int NOT NULL, blocks tstzrange NOT NULL,
			   status text NOT NULL DEFAULT 'held', email text,
			   EXCLUDE USING gist (desk WITH =, blocks WITH &&) WHERE (status IN ('held', 'confirmed')))`,
			`CREATE TABLE baseline_outbox (id uuid PRIMARY KEY, subject bigint NOT NULL, data jsonb NOT NULL)`,
		)...); err != nil {
			return nil, err
		}
		poolURL := url + "&pool_max_conns=" + fmt.Sprint(c.conns)
		pool, err := pgxpool.New(context.Background(), poolURL)
		if err != nil {
			return nil, err
		}
		// Reserve as it ships: one hold a client, the per-client and
		// per-address limits counted in the database; every request a
		// citizen of its own (a new client, an address of its own).
		fnConns := c.conns
		if c.fnConns >= 0 {
			fnConns = c.fnConns
		}
		env := []string{"DATABASE_URL=" + url, fmt.Sprintf("DATABASE_MAX_CONNS=%d", fnConns), "HOLD_TTL=24h", "K_SINK=",
			"CLIENT_KEY=" + strings.Repeat("bench-client-key-", 2)}
		reserveProf := filepath.Join(c.keep, fmt.Sprintf("reserve-%d.pprof", clients))
		confirmProf := filepath.Join(c.keep, fmt.Sprintf("confirm-%d.pprof", clients))
		// The functions of this client count, stopped together (on an error
		// too: they are processes of their own).
		var started []*process
		stopAll := func() {
			for _, p := range started {
				p.stop()
			}
			started = nil
		}
		run := func(name string, env ...string) (*process, error) {
			p, err := start(bins, name, env...)
			if err != nil {
				stopAll()
				return nil, err
			}
			started = append(started, p)
			return p, nil
		}
		reserve, err := run("reserve", append(env, "CPU_PROFILE="+reserveProf)...)
		if err != nil {
			return nil, err
		}
		// And reserve with no memory of the times found full: every
		// refusal from the database.
		reserveDB, err := run("reserve", append(env, "TAKEN_MAX_AGE=0")...)
		if err != nil {
			return nil, err
		}
		confirm, err := run("confirm", append(env, "CPU_PROFILE="+confirmProf)...)
		if err != nil {
			return nil, err
		}
		bare, err := run("bare-confirm", "DATABASE_URL="+url, fmt.Sprintf("DATABASE_MAX_CONNS=%d", fnConns))
		if err != nil {
			return nil, err
		}
		slots := make([]time.Time, (c.requests+c.group-1)/c.group)
		first := time.Now().Add(48 * time.Hour).Truncate(time.Hour)
		// Reserve without memory holds the same number of times two months
		// later.
		slotsDB := make([]time.Time, len(slots))
		for i := range slots {
			slots[i] = first.Add(time.Duration(i) * 30 * time.Minute)
			slotsDB[i] = first.AddDate(0, 2, 0).Add(time.Duration(i) * 30 * time.Minute)
		}
		client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConns: clients, MaxIdleConnsPerHost: clients}}
		// Warm both sides up (connections opened, statements prepared,
		// functions compiled) on slots ten months ahead, outside the runs and inside the service's horizon (366 days).
		warm := first.AddDate(0, 10, 0)
		var firstWarmErr atomic.Value
		warmed := drive(4*c.conns, clients, func(i int) (bool, error) {
			at := warm.Add(time.Duration(i) * 30 * time.Minute)
			_, err := pool.Exec(context.Background(), `INSERT INTO baseline (desk, blocks, status) VALUES (1, tstzrange($1, $2), 'expired')`, at, at.Add(time.Minute))
			if err == nil {
				_, err = pool.Exec(context.Background(), `
					WITH u AS (UPDATE baseline SET email = 'w' WHERE blocks && tstzrange($1, $2) AND status = 'expired' RETURNING id)
					INSERT INTO baseline_outbox (id, subject, data) SELECT gen_random_uuid(), id, '{}' FROM u`, at, at.Add(time.Minute))
			}
			// Each booking a citizen of its own, as in the runs (addresses
			// after theirs): one address would pass its holds' limit.
			// Three desks, three bookings a warm-up time.
			_, err2 := bookOne(client, reserve.base, confirm.base, at, citizenAddress(c.requests+3*i))
			_, err3 := bookOne(client, reserve.base, bare.base, at, citizenAddress(c.requests+3*i+1))
			_, err4 := bookOne(client, reserveDB.base, confirm.base, at, citizenAddress(c.requests+3*i+2))
			err = errors.Join(err, err2, err3, err4)
			if err != nil {
				firstWarmErr.CompareAndSwap(nil, err.Error())
			}
			return true, err
		})
		if warmed.errors > 0 {
			stopAll()
			return nil, fmt.Errorf("%d clients: %d of the warm-up's bookings failed, the first: %v", clients, warmed.errors, firstWarmErr.Load())
		}
		if err := db.exec(url, `DELETE FROM baseline`, `DELETE FROM baseline_outbox`); err != nil {
			stopAll()
			return nil, err
		}

		baseHold := measured(db, nil, func() result {
			return drive(c.requests, clients, func(i int) (bool, error) {
				slot := slots[i/c.group]
				for desk := 1; desk <= c.desks; desk++ {
					tag, err := pool.Exec(context.Background(),
						`INSERT INTO baseline (desk, blocks) VALUES ($1, tstzrange($2, $3)) ON CONFLICT DO NOTHING`,
						desk, slot, slot.Add(30*time.Minute))
					if err != nil {
						return false, err
					}
					if tag.RowsAffected() == 1 {
						return true, nil
					}
				}
				return false, nil
			})
		})
		baseHold.name = "bare contended insert"
		var held []map[string]string
		var heldMu sync.Mutex
		var firstErr atomic.Value
		// holdAll asks fn for n holds, the i-th at slotAt(i), citizens
		// from the addresses after from; keep takes the holds won.
		holdAll := func(fn *process, n int, slotAt func(i int) time.Time, from int, keep bool) result {
			return measured(db, fn, func() result {
				return drive(n, clients, func(i int) (bool, error) {
					body, _ := json.Marshal(map[string]string{"service_id": "bench", "start": slotAt(i).Format(time.RFC3339)})
					status, msg, err := postAs(client, fn.base+"/api/holds", body, citizenAddress(from+i))
					switch {
					case err != nil:
						firstErr.CompareAndSwap(nil, err.Error())
						return false, err
					case status == http.StatusCreated:
						if keep {
							var h map[string]string
							_ = json.Unmarshal(msg, &h)
							heldMu.Lock()
							held = append(held, h)
							heldMu.Unlock()
						}
						return true, nil
					case status == http.StatusConflict:
						return false, nil
					}
					err = fmt.Errorf("status %d: %s", status, strings.TrimSpace(string(msg)))
					firstErr.CompareAndSwap(nil, err.Error())
					return false, err
				})
			})
		}
		// Each slot is asked for by -group requests in a row.
		inGroups := func(slots []time.Time) func(int) time.Time {
			return func(i int) time.Time { return slots[i/c.group] }
		}
		// They take turns going first, from one client count to the next.
		var ourHold, ourHoldDB result
		if k%2 == 0 {
			ourHold = holdAll(reserve, c.requests, inGroups(slots), 0, true)
			ourHoldDB = holdAll(reserveDB, c.requests, inGroups(slotsDB), 2*c.requests, false)
		} else {
			ourHoldDB = holdAll(reserveDB, c.requests, inGroups(slotsDB), 2*c.requests, false)
			ourHold = holdAll(reserve, c.requests, inGroups(slots), 0, true)
		}
		ourHold.name = "reserve (HTTP)"
		ourHoldDB.name = "reserve, every refusal from the database (TAKEN_MAX_AGE=0)"

		// The holds won are topped up, one request a desk of slots four
		// months ahead (uncontended, not reported), so that each confirm
		// run lasts long enough to measure (-confirmations each); and the
		// baseline's held rows alike, one a desk of their own.
		if more := 2*c.confirmations - len(held); more > 0 {
			later := first.AddDate(0, 4, 0)
			topped := holdAll(reserve, more, func(i int) time.Time { return later.Add(time.Duration(i/c.desks) * 30 * time.Minute) }, 3*c.requests, true)
			if topped.errors > 0 || topped.won != more {
				stopAll()
				return nil, fmt.Errorf("%d clients: %d of the %d holds topping up the confirm runs won, %d failed", clients, topped.won, more, topped.errors)
			}
		}
		if err := db.exec(url, fmt.Sprintf(`INSERT INTO baseline (desk, blocks)
			SELECT 1000 + n, tstzrange(now() + interval '500 days', now() + interval '500 days 30 minutes')
			FROM generate_series(1, %d - (SELECT count(*) FROM baseline WHERE status = 'held')) n`, 2*c.confirmations)); err != nil {
			stopAll()
			return nil, err
		}

		var ids []int64
		rows, err := pool.Query(context.Background(), `SELECT id FROM baseline WHERE status = 'held' ORDER BY id`)
		if err != nil {
			stopAll()
			return nil, err
		}
		for rows.Next() {
			var id int64
			_ = rows.Scan(&id)
			ids = append(ids, id)
		}
		rows.Close()
		// Each side confirms -confirmations, whatever the contention run won.
		held, ids = held[:min(len(held), 2*c.confirmations)], ids[:min(len(ids), 2*c.confirmations)]
		half := len(ids) / 2
		// ranged is a confirm run taken a share at a time: the share lo to
		// hi of its requests, request i being do(i); fn is nil for a
		// baseline.
		ranged := func(fn *process, do func(i int) (bool, error)) func(lo, hi int) result {
			return func(lo, hi int) result {
				return measured(db, fn, func() result {
					return drive(hi-lo, clients, func(i int) (bool, error) { return do(lo + i) })
				})
			}
		}
		// The baseline of a confirmation, as the issue words it: a bare
		// update plus an outbox insert, in one transaction — and, below, the
		// same rows in one statement, the floor.
		baseConfirm := ranged(nil, func(i int) (bool, error) {
			err := pgx.BeginFunc(context.Background(), pool, func(tx pgx.Tx) error {
				if _, err := tx.Exec(context.Background(), `UPDATE baseline SET status = 'confirmed', email = $2 WHERE id = $1 AND status = 'held'`,
					ids[i], fmt.Sprintf("c%d@example.it", i)); err != nil {
					return err
				}
				_, err := tx.Exec(context.Background(), `INSERT INTO baseline_outbox (id, subject, data) VALUES (gen_random_uuid(), $1, jsonb_build_object('id', $1::bigint))`, ids[i])
				return err
			})
			return err == nil, err
		})
		floorConfirm := ranged(nil, func(i int) (bool, error) {
			i += half
			_, err := pool.Exec(context.Background(), `
				WITH u AS (UPDATE baseline SET status = 'confirmed', email = $2 WHERE id = $1 AND status = 'held' RETURNING id)
				INSERT INTO baseline_outbox (id, subject, data) SELECT gen_random_uuid(), id, jsonb_build_object('id', id) FROM u`,
				ids[i], fmt.Sprintf("c%d@example.it", i))
			return err == nil, err
		})
		// And the same two writes on Sportello's own tables: a booking's
		// update (its citizen, its status: the indexes that change with
		// it) and its outbox row — the SQL no confirmation of this schema
		// can do without, on held bookings of their own two years ahead.
		var bookingIDs [][16]byte
		rows, err = pool.Query(context.Background(), `
			INSERT INTO bookings (id, service_id, desk_id, starts_at, ends_at, blocks, status, hold_secret_hash, hold_expires_at, created_at, updated_at)
			SELECT gen_random_uuid(), 'bench', (SELECT min(id) FROM desks WHERE service_id = 'bench'), t, t + interval '30 minutes',
			       tstzrange(t, t + interval '30 minutes'), 'held', '\x00', now() + interval '1 day', now(), now()
			FROM generate_series(1, $1) n, LATERAL (SELECT date_trunc('hour', now()) + interval '730 days' + n * interval '30 minutes' AS t) s
			RETURNING id`, half)
		if err != nil {
			stopAll()
			return nil, err
		}
		for rows.Next() {
			var id [16]byte
			_ = rows.Scan(&id)
			bookingIDs = append(bookingIDs, id)
		}
		rows.Close()
		tableConfirm := ranged(nil, func(i int) (bool, error) {
			err := pgx.BeginFunc(context.Background(), pool, func(tx pgx.Tx) error {
				if _, err := tx.Exec(context.Background(), `UPDATE bookings SET status = 'confirmed', locale = 'it', given_name = 'Maria',
					family_name = 'Rossi', address = 'Via Sparano 1, Bari', email = $2, reason = '', details = '',
					privacy_consent_at = now(), confirmed_at = now(), updated_at = now() WHERE id = $1 AND status = 'held'`,
					bookingIDs[i], fmt.Sprintf("t%d@example.it", i)); err != nil {
					return err
				}
				_, err := tx.Exec(context.Background(), `INSERT INTO outbox (id, type, source, subject, dataschema, time, data, next_attempt_at)
					VALUES (gen_random_uuid(), 'bench', '/bench', $1::uuid::text, 'bench', now(), jsonb_build_object('booking_id', $1::uuid), now())`, bookingIDs[i])
				return err
			})
			return err == nil, err
		})
		// Half the holds won are confirmed by confirm as it ships, the other
		// half by its store behind a bare handler: the floor of the Go path.
		// Each function's citizens have a mail domain of its own, by which
		// the statements' sizes are counted below.
		confirmAll := func(fn *process, held []map[string]string) func(lo, hi int) result {
			return ranged(fn, func(i int) (bool, error) {
				body, _ := json.Marshal(map[string]any{"hold_id": held[i]["hold_id"], "hold_secret": held[i]["hold_secret"],
					"citizen": map[string]any{"given_name": "Maria", "family_name": "Rossi", "address": "Via Sparano 1, Bari",
						"email": fmt.Sprintf("c%d@%s.example.it", i, fn.name), "privacy_consent": true}})
				status, msg, err := post(client, fn.base+"/api/bookings", body)
				if err == nil && status != http.StatusCreated {
					err = fmt.Errorf("status %d: %s", status, strings.TrimSpace(string(msg)))
				}
				if err != nil {
					firstErr.CompareAndSwap(nil, err.Error())
				}
				return err == nil, err
			})
		}
		// The five confirmations run side by side in rounds, each its share
		// of its rows a round, in an order turned by one every round: a
		// machine whose speed drifts over the seconds of the runs (a
		// neighbour, a checkpoint) slows them all alike.
		confirms := []struct {
			name string
			n    int
			run  func(lo, hi int) result
			sum  result
		}{
			{name: "bare update + outbox insert", n: half, run: baseConfirm},
			{name: "the same in one statement (floor)", n: half, run: floorConfirm},
			{name: "the same on Sportello's tables", n: len(bookingIDs), run: tableConfirm},
			{name: "confirm's store behind a bare net/http handler (Go floor)", n: len(held) - len(held)/2, run: confirmAll(bare, held[len(held)/2:])},
			{name: "confirm (HTTP)", n: len(held) / 2, run: confirmAll(confirm, held[:len(held)/2])},
		}
		for round := 0; round < confirmRounds; round++ {
			for j := range confirms {
				w := &confirms[(j+round+k)%len(confirms)]
				w.sum = w.sum.plus(w.run(round*w.n/confirmRounds, (round+1)*w.n/confirmRounds))
			}
		}
		confirmed := make([]result, len(confirms))
		for j, w := range confirms {
			confirmed[j] = w.sum
			confirmed[j].name = w.name
		}
		bareConfirm, ourConfirm := confirmed[3], confirmed[4]
		if e := firstErr.Load(); e != nil {
			fmt.Fprintln(os.Stderr, "first error:", e)
		}
		stopAll()

		for _, run := range [][]result{{baseHold, ourHoldDB, ourHold}, confirmed} {
			for k, r := range run {
				ratio := ""
				switch {
				case k == len(run)-1:
					ratio = fmt.Sprintf("**%.2f**", r.rps()/run[0].rps())
					if len(run) == 5 {
						ratio += fmt.Sprintf(" (floor %.2f, Sportello's tables %.2f, Go floor %.2f)", r.rps()/run[1].rps(), r.rps()/run[2].rps(), r.rps()/run[3].rps())
					}
				case r.name == bareConfirm.name || r.name == ourHoldDB.name:
					ratio = fmt.Sprintf("%.2f", r.rps()/run[0].rps())
				}
				fmt.Printf("| %d | %s | %.0f | %s | %s | %s | %d | %d | %d | %s | %s | %s |\n", clients, r.name, r.rps(),
					ms(r.latencies.pct(0.5)), ms(r.latencies.pct(0.95)), ms(r.latencies.pct(0.99)), r.won, r.lost, r.errors, r.perRequest(), r.walPerRequest(), ratio)
			}
		}
		// The confirmations each statement wrote (one transaction, one
		// xmin), by the function that confirmed them.
		// The mail's domain names the function (confirmAll).
		gathered := map[string]float64{}
		rows, err = pool.Query(context.Background(), `SELECT split_part(split_part(email, '@', 2), '.', 1), count(*)::float8 / count(DISTINCT xmin::text)
			FROM bookings WHERE status = 'confirmed' AND email LIKE 'c%' GROUP BY 1`)
		if err == nil {
			for rows.Next() {
				var fn string
				var each float64
				if err = rows.Scan(&fn, &each); err != nil {
					break
				}
				gathered[fn] = each
			}
			rows.Close()
			err = errors.Join(err, rows.Err())
		}
		if err != nil {
			gatheredAt = append(gatheredAt, fmt.Sprintf("%d clients: (%v)", clients, err))
		} else {
			gatheredAt = append(gatheredAt, fmt.Sprintf("%d clients: %.1f (confirm), %.1f (Go floor)", clients, gathered[confirm.name], gathered[bare.name]))
		}
		var doubles int
		if err := pool.QueryRow(context.Background(), `SELECT count(*) FROM bookings a JOIN bookings b
			ON a.desk_id = b.desk_id AND a.id < b.id AND a.blocks && b.blocks
			WHERE a.status IN ('held', 'confirmed') AND b.status IN ('held', 'confirmed')`).Scan(&doubles); err != nil {
			return nil, err
		}
		if errs := ourHold.errors + ourHoldDB.errors + ourConfirm.errors + bareConfirm.errors; doubles != 0 || errs != 0 || ourHold.won != baseHold.won || ourHoldDB.won != baseHold.won {
			failures = append(failures, fmt.Sprintf("%d clients: %d double bookings, %d errors, %d and %d holds won (baseline %d)",
				clients, doubles, errs, ourHold.won, ourHoldDB.won, baseHold.won))
		}
		pool.Close()
		profiles = append(profiles, fmt.Sprintf("reserve, %d clients|%s", clients, reserveProf), fmt.Sprintf("confirm, %d clients|%s", clients, confirmProf))
	}
	fmt.Println("\nAfter each run an SQL self-join counts the double bookings among the active ones; any, or an error, fails the bench." +
		" The ratio is the function's requests/s over the baseline's, in the same run. The CPU columns divide the CPU time each side used" +
		" during the run (Linux counts it in 10 ms ticks) by the requests: the function's process, PostgreSQL's postmaster and backends, and this load generator." +
		" The WAL column divides what the server wrote to its write-ahead log during the run (the change in its insert position) by the requests;" +
		" a checkpoint completed during a run is named (after one begins, the first change to each page writes the whole 8 kB page).")
	fmt.Printf("\nConfirmations a statement (bookings confirmed over the transactions that wrote them): %s.\n", strings.Join(gatheredAt, "; "))
	for _, p := range profiles {
		label, file, _ := strings.Cut(p, "|")
		name, _, _ := strings.Cut(label, ",")
		fmt.Printf("\nCPU profile of %s (the function's whole run; `go tool pprof -top`):\n\n```\n%s\n```\n", label, top(filepath.Join(bins, name), file, 12))
	}
	return failures, nil
}

func post(client *http.Client, url string, body []byte) (int, []byte, error) {
	return postAs(client, url, body, "")
}

// postAs posts body as a citizen at address (in X-Forwarded-For, as an
// ingress would pass it; "" sends none).
func postAs(client *http.Client, url string, body []byte, address string) (int, []byte, error) {
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	if address != "" {
		req.Header.Set("X-Forwarded-For", address)
	}
	return send(client, req)
}

// send sends req and answers the status and the body.
func send(client *http.Client, req *http.Request) (int, []byte, error) {
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	msg, err := io.ReadAll(resp.Body)
	return resp.StatusCode, msg, err
}
