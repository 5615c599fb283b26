// Package pgtest gives each test package its own real, migrated PostgreSQL
// database on the server named by DATABASE_URL (make test starts a
// throwaway one), and fixtures that do not collide between tests.
//
//	func TestMain(m *testing.M) { pgtest.Run(m) }
//	func TestX(t *testing.T) { pool := pgtest.Pool(t) ... }
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sportello/sportello/functions/internal/store/postgres"
)

var (
	pool  *pgxpool.Pool
	dbURL string
)

// Main creates the package's database, migrates it, runs the tests and drops
// the database. Without DATABASE_URL it fails with a hint.
func Main(m *testing.M) int {
	admin := os.Getenv("DATABASE_URL")
	if admin == "" {
		fmt.Fprintln(os.Stderr, "pgtest: DATABASE_URL is not set: run `make test`, which starts a throwaway PostgreSQL, or point DATABASE_URL at a server you may create databases on")
		return 1
	}
	ctx := context.Background()
	name := dbName()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		fmt.Fprintln(os.Stderr, "pgtest:", err)
		return 1
	}
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		fmt.Fprintln(os.Stderr, "pgtest: create database:", err)
		return 1
	}
	defer func() {
		if pool != nil {
			pool.Close()
		}
		_, _ = conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)")
		conn.Close(ctx)
	}()
	dbURL, err = withDatabase(admin, name)
	if err != nil {
		fmt.Fprintln(os.Stderr, "pgtest:", err)
		return 1
	}
	// Enough connections for the race tests to really race.
	sep := "?"
	if strings.Contains(dbURL, "?") {
		sep = "&"
	}
	pool, err = postgres.Open(ctx, dbURL+sep+"pool_max_conns=60", postgres.Options{Wait: 10 * time.Second})
	if err != nil {
		fmt.Fprintln(os.Stderr, "pgtest:", err)
		return 1
	}
	if _, err := postgres.Migrate(ctx, pool); err != nil {
		fmt.Fprintln(os.Stderr, "pgtest:", err)
		return 1
	}
	return m.Run()
}

// Run is Main as a test package's TestMain: it exits with Main's code.
func Run(m *testing.M) { os.Exit(Main(m)) }

// dbName names the database after the test binary's package and a random
// suffix, so parallel packages never share one.
func dbName() string {
	base := strings.TrimSuffix(filepath.Base(os.Args[0]), ".test")
	base = regexp.MustCompile(`[^a-z0-9]+`).ReplaceAllString(strings.ToLower(base), "_")
	if len(base) > 30 {
		base = base[:30]
	}
	return "test_" + base + "_" + Suffix()
}

func withDatabase(admin, name string) (string, error) {
	if _, err := pgx.ParseConfig(admin); err != nil {
		return "", err
	}
	// Replace the path of the URL (the database name).
	i := strings.Index(admin, "://")
	rest := admin[i+3:]
	slash := strings.IndexByte(rest, '/')
	q := strings.IndexByte(rest, '?')
	switch {
	case slash >= 0 && (q < 0 || slash < q):
		end := len(rest)
		if q >= 0 {
			end = q
		}
		return admin[:i+3] + rest[:slash+1] + name + rest[end:], nil
	case q >= 0:
		return admin[:i+3] + rest[:q] + "/" + name + rest[q:], nil
	default:
		return admin + "/" + name, nil
	}
}

// Pool returns the package's migrated database.
func Pool(tb testing.TB) *pgxpool.Pool {
	tb.Helper()
	if pool == nil {
		tb.Fatal("pgtest: call pgtest.Run (or Main) from TestMain")
	}
	return pool
}

// Digest is the number of rows of table and a digest of their contents
// ("count:md5"), so that a test can see a table left exactly as it was.
func Digest(tb testing.TB, table string) string {
	tb.Helper()
	var s string
	if err := Pool(tb).QueryRow(context.Background(),
		`SELECT count(*) || ':' || md5(coalesce(string_agg(t::text, ',' ORDER BY t.id), '')) FROM `+table+` t`).Scan(&s); err != nil {
		tb.Fatal(err)
	}
	return s
}

// URL returns the connection string of the package's database.
func URL(tb testing.TB) string {
	Pool(tb)
	return dbURL
}

// Suffix returns a short random string for unique fixture ids.
func Suffix() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// Database creates an empty database for tb alone, dropped when tb ends, and
// returns its connection string: for a test that migrates a schema from
// nothing, up and down.
func Database(tb testing.TB) string {
	tb.Helper()
	ctx := context.Background()
	name := pgx.Identifier{"test_empty_" + Suffix()}
	if _, err := Pool(tb).Exec(ctx, "CREATE DATABASE "+name.Sanitize()); err != nil {
		tb.Fatalf("pgtest: create database: %v", err)
	}
	tb.Cleanup(func() {
		_, _ = pool.Exec(ctx, "DROP DATABASE IF EXISTS "+name.Sanitize()+" WITH (FORCE)")
	})
	url, err := withDatabase(os.Getenv("DATABASE_URL"), name[0])
	if err != nil {
		tb.Fatalf("pgtest: %v", err)
	}
	return url
}
