package postgres_test

import (
	"testing"

	"github.com/sportello/sportello/functions/internal/store/postgres"
)

// TestPoolSize: an instance keeps DefaultMaxConns connections unless
// Options or the URL's pool_max_conns says otherwise, whatever the CPUs of
// the machine (pgx's own default grows with them).
func TestPoolSize(t *testing.T) {
	const url = "postgres://sportello@127.0.0.1:5432/sportello?sslmode=disable"
	for _, tc := range []struct {
		name string
		url  string
		max  int
		want int32
	}{
		{"neither says", url, 0, postgres.DefaultMaxConns},
		{"the URL says", url + "&pool_max_conns=7", 0, 7},
		{"the URL as keywords", "host=127.0.0.1 dbname=sportello pool_max_conns = 9", 0, 9},
		{"the option says", url, 5, 5},
		{"the option wins over the URL", url + "&pool_max_conns=7", 3, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pool, err := postgres.NewPool(tc.url, postgres.Options{MaxConns: tc.max})
			if err != nil {
				t.Fatal(err)
			}
			defer pool.Close()
			if got := pool.Config().MaxConns; got != tc.want {
				t.Errorf("MaxConns = %d, want %d", got, tc.want)
			}
		})
	}
}
