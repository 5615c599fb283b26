package main

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// queueJoins measures the waiting room's joins on a click day with the
// room on (an admission rate set): every citizen joins the one room of the
// service, so the joins race for one row. Through the waiting-room
// function as it ships (POST /api/queue, each citizen from an address of
// its own), against the bare SQL of a counter row: one UPDATE … RETURNING
// (the baseline), and the same as a transaction that reads the row, locked,
// then writes it back (the shape joins had before: its lock lasts over
// the round trips).
func queueJoins(c config, db *database, bins string) ([]string, error) {
	const joins = 8000
	fmt.Printf("\n## The waiting room's joins\n\n%d joins a run of one service's room, on at 60 citizens a minute (every join after the first waits); "+
		"PostgreSQL with fsync on; %d database connections for the function and for the baseline.\n\n", joins, c.conns)
	fmt.Println("| clients | run | joins/s | p50 | p95 | p99 | errors | CPU µs a join: function / PostgreSQL / client | ratio |")
	fmt.Println("|---:|---|---:|---:|---:|---:|---:|---:|---:|")
	var failures []string
	for _, clients := range c.clients {
		url, err := db.fresh(bins, fmt.Sprintf("queue_%d", clients))
		if err != nil {
			return nil, err
		}
		if err := db.exec(url, append(benchService(1),
			`UPDATE services SET admission_per_minute = 60 WHERE id = 'bench'`,
			`CREATE TABLE baseline_counter (id int PRIMARY KEY, n bigint NOT NULL)`,
			`INSERT INTO baseline_counter VALUES (1, 0)`)...); err != nil {
			return nil, err
		}
		pool, err := pgxpool.New(context.Background(), url+"&pool_max_conns="+fmt.Sprint(c.conns))
		if err != nil {
			return nil, err
		}
		room, err := start(bins, "waiting-room", "DATABASE_URL="+url, fmt.Sprintf("DATABASE_MAX_CONNS=%d", c.conns),
			"CLIENT_KEY="+strings.Repeat("bench-client-key-", 2))
		if err != nil {
			pool.Close()
			return nil, err
		}
		client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConns: clients, MaxIdleConnsPerHost: clients}}
		join := func(i int) (bool, error) {
			status, msg, err := postAs(client, room.base+"/api/queue", []byte(`{"service_id": "bench"}`), citizenAddress(i))
			if err == nil && status != http.StatusOK {
				err = fmt.Errorf("status %d: %s", status, strings.TrimSpace(string(msg)))
			}
			return err == nil, err
		}
		// Warm-up: connections, statements.
		if warm := drive(4*c.conns, clients, func(i int) (bool, error) { return join(joins + i) }); warm.errors > 0 {
			room.stop()
			pool.Close()
			return nil, fmt.Errorf("waiting room, %d clients: %d of the warm-up's joins failed", clients, warm.errors)
		}

		bare := measured(db, nil, func() result {
			return drive(joins, clients, func(int) (bool, error) {
				var n int64
				err := pool.QueryRow(context.Background(), `UPDATE baseline_counter SET n = n + 1 WHERE id = 1 RETURNING n`).Scan(&n)
				return err == nil, err
			})
		})
		bare.name = "bare UPDATE … RETURNING of one row"
		locked := measured(db, nil, func() result {
			return drive(joins, clients, func(int) (bool, error) {
				err := pgx.BeginFunc(context.Background(), pool, func(tx pgx.Tx) error {
					var n int64
					if err := tx.QueryRow(context.Background(), `SELECT n FROM baseline_counter WHERE id = 1 FOR UPDATE`).Scan(&n); err != nil {
						return err
					}
					_, err := tx.Exec(context.Background(), `UPDATE baseline_counter SET n = $1 WHERE id = 1`, n+1)
					return err
				})
				return err == nil, err
			})
		})
		locked.name = "the same read, locked, then written in a transaction"
		var firstErr atomic.Value
		ours := measured(db, room, func() result {
			return drive(joins, clients, func(i int) (bool, error) {
				ok, err := join(i)
				if err != nil {
					firstErr.CompareAndSwap(nil, err.Error())
				}
				return ok, err
			})
		})
		ours.name = "waiting-room (HTTP)"
		room.stop()

		// Every join took a place of its own: the room's counter is the
		// number of joins (the warm-up's included).
		var next int64
		if err := pool.QueryRow(context.Background(), `SELECT next_position FROM waiting_rooms WHERE service_id = 'bench'`).Scan(&next); err != nil {
			pool.Close()
			return nil, err
		}
		pool.Close()
		if want := int64(joins + 4*c.conns); next != want || ours.errors+bare.errors+locked.errors > 0 {
			e, _ := firstErr.Load().(string)
			failures = append(failures, fmt.Sprintf("waiting room, %d clients: %d positions taken for %d joins, %d errors (first: %s), %d and %d in the baselines",
				clients, next, want, ours.errors, e, bare.errors, locked.errors))
		}
		for k, r := range []result{bare, locked, ours} {
			ratio := ""
			if k > 0 {
				ratio = fmt.Sprintf("%.2f", r.rps()/bare.rps())
				if k == 2 {
					ratio = "**" + ratio + "**"
				}
			}
			fmt.Printf("| %d | %s | %.0f | %s | %s | %s | %d | %s | %s |\n", clients, r.name, r.rps(),
				ms(r.latencies.pct(0.5)), ms(r.latencies.pct(0.95)), ms(r.latencies.pct(0.99)), r.errors, r.perRequest(), ratio)
		}
	}
	fmt.Println("\nAfter each run the room's counter must equal the joins: two joins with one place, or a lost one, fail the bench.")
	return failures, nil
}
