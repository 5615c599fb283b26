package postgres_test

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	_ "github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"

	"github.com/sportello/sportello/functions/internal/store/pgtest"
	"github.com/sportello/sportello/functions/internal/store/postgres"
)

// TestMigrationsDownAndUp migrates an empty database up one version at a
// time, noting the schema at each, then down to nothing, checking that each
// Down gives back the schema of the version before it, then up again to the
// same schema as the first time.
func TestMigrationsDownAndUp(t *testing.T) {
	ctx := context.Background()
	db, err := sql.Open("pgx", pgtest.Database(t))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	p, err := postgres.Migrator(db)
	if err != nil {
		t.Fatal(err)
	}

	schemas := map[int64][]string{0: schema(t, db)}
	var last int64
	for {
		r, err := p.UpByOne(ctx)
		if errors.Is(err, goose.ErrNoNextVersion) {
			break
		}
		if err != nil {
			t.Fatalf("up from %d: %v", last, err)
		}
		last = r.Source.Version
		schemas[last] = schema(t, db)
		t.Logf("version %d: schema %x", last, sha256.Sum256([]byte(strings.Join(schemas[last], "\n"))))
	}
	if sources := p.ListSources(); last != sources[len(sources)-1].Version {
		t.Fatalf("up stopped at %d, the last migration is %d", last, sources[len(sources)-1].Version)
	}

	for v := last; v > 0; {
		r, err := p.Down(ctx)
		if err != nil {
			t.Fatalf("down from %d: %v", v, err)
		}
		if r.Source.Version != v {
			t.Fatalf("down ran %d, want %d", r.Source.Version, v)
		}
		prev, ok := previous(schemas, v)
		if !ok {
			t.Fatalf("no version below %d", v)
		}
		if diff := cmp.Diff(afterDown(schemas[prev], downLeaves[v]), schema(t, db)); diff != "" {
			t.Errorf("down from %d: schema is not version %d's (-want +got):\n%s", v, prev, diff)
		}
		v = prev
	}

	if _, err := p.Up(ctx); err != nil {
		t.Fatalf("up again: %v", err)
	}
	if diff := cmp.Diff(schemas[last], schema(t, db)); diff != "" {
		t.Errorf("up again: schema differs from the first time (-first +again):\n%s", diff)
	}
}

// downLeaves are the lines of the schema that a Down, as it is written,
// does not give back (missing) or leaves behind (extra), by version.
var downLeaves = map[int64]struct{ missing, extra []string }{
	// 00001 creates btree_gist if it is not there and leaves it: the
	// extension may serve more than this schema.
	1: {extra: []string{"extension btree_gist"}},
}

// afterDown is the schema a Down should leave: the version before's,
// changed as leaves says.
func afterDown(before []string, leaves struct{ missing, extra []string }) []string {
	after := slices.DeleteFunc(slices.Clone(before), func(l string) bool { return slices.Contains(leaves.missing, l) })
	after = append(after, leaves.extra...)
	slices.Sort(after)
	return after
}

// previous is the highest version below v in schemas.
func previous(schemas map[int64][]string, v int64) (int64, bool) {
	best, ok := int64(-1), false
	for w := range schemas {
		if w < v && w > best {
			best, ok = w, true
		}
	}
	return best, ok
}

// schema describes what the migrations make in the database, one item per
// relation, column, constraint, index, trigger, function and extension,
// sorted: two equal descriptions are the same schema.
func schema(t *testing.T, db *sql.DB) []string {
	t.Helper()
	rows, err := db.Query(`
SELECT 'relation ' || c.relname || ' kind ' || c.relkind::text || ' persistence ' || c.relpersistence::text
  FROM pg_class c WHERE c.relnamespace = 'public'::regnamespace AND c.relname NOT LIKE 'goose\_%'
UNION ALL
SELECT 'column ' || c.relname || '.' || a.attname || ' ' || format_type(a.atttypid, a.atttypmod)
       || CASE WHEN a.attnotnull THEN ' not null' ELSE '' END
       || coalesce(' default ' || pg_get_expr(d.adbin, d.adrelid), '')
  FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
  LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
 WHERE c.relnamespace = 'public'::regnamespace AND c.relname NOT LIKE 'goose\_%'
   AND a.attnum > 0 AND NOT a.attisdropped
UNION ALL
SELECT 'constraint ' || conrelid::regclass::text || ' ' || conname || ' ' || pg_get_constraintdef(oid)
  FROM pg_constraint WHERE connamespace = 'public'::regnamespace AND conrelid::regclass::text NOT LIKE 'goose\_%'
UNION ALL
SELECT 'index ' || indexdef FROM pg_indexes WHERE schemaname = 'public' AND tablename NOT LIKE 'goose\_%'
UNION ALL
SELECT 'trigger ' || pg_get_triggerdef(t.oid)
  FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
 WHERE c.relnamespace = 'public'::regnamespace AND NOT t.tgisinternal
UNION ALL
SELECT 'function ' || pg_get_functiondef(p.oid)
  FROM pg_proc p WHERE p.pronamespace = 'public'::regnamespace AND p.prokind = 'f'
   AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = p.oid AND d.deptype = 'e')
UNION ALL
SELECT 'extension ' || extname FROM pg_extension`)
	if err != nil {
		t.Fatalf("schema: %v", err)
	}
	defer rows.Close()
	var items []string
	for rows.Next() {
		var item string
		if err := rows.Scan(&item); err != nil {
			t.Fatalf("schema: %v", err)
		}
		items = append(items, item)
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("schema: %v", err)
	}
	slices.Sort(items)
	return items
}
