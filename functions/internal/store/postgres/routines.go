package postgres

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/pressly/goose/v3"
)

// routineMigrations are the migrations that give a stored function a new
// version. They are Go migrations, so that each version's body is written
// once, in migrations/routines/<function>_v<N>.sql, and run both by the
// migration that makes it (Up) and by the one that replaces it (Down); the
// other statements of a migration are in migrations/parts. Each runs its
// files in order in one transaction, as goose runs an SQL migration.
var routineMigrations = []struct {
	version  int64
	name     string
	up, down []string
}{
	{10, "00010_click_day",
		[]string{"parts/00010_click_day_up.sql", "routines/hold_slot_v1.sql", "routines/confirm_hold_v1.sql"},
		[]string{"parts/00010_click_day_down.sql"}},
	{12, "00012_confirm_by_key",
		[]string{"routines/confirm_hold_v2.sql"},
		[]string{"routines/confirm_hold_v1.sql"}},
	{14, "00014_one_hold_each",
		[]string{"parts/00014_one_hold_each_up.sql", "routines/hold_slot_v2.sql"},
		[]string{"parts/00014_one_hold_each_down.sql", "routines/hold_slot_v1.sql"}},
	{16, "00016_one_count_a_hold",
		[]string{"routines/hold_slot_v3.sql"},
		[]string{"routines/hold_slot_v2.sql"}},
	{17, "00017_count_holds_won",
		[]string{"routines/hold_slot_v4.sql"},
		[]string{"routines/hold_slot_v3.sql"}},
	{20, "00020_lapsed_on_refusal",
		[]string{"routines/hold_slot_v5.sql"},
		[]string{"routines/hold_slot_v4.sql"}},
}

// goMigrations are routineMigrations as goose runs them.
func goMigrations() []*goose.Migration {
	var ms []*goose.Migration
	for _, m := range routineMigrations {
		ms = append(ms, goose.NewGoMigration(m.version,
			&goose.GoFunc{RunTx: runFiles(m.name, m.up)},
			&goose.GoFunc{RunTx: runFiles(m.name, m.down)}))
	}
	return ms
}

// runFiles executes the files of migration name in order. A file may hold
// several statements: without arguments, pgx sends it as one simple query.
func runFiles(name string, files []string) func(context.Context, *sql.Tx) error {
	return func(ctx context.Context, tx *sql.Tx) error {
		for _, f := range files {
			text, err := migrations.ReadFile("migrations/" + f)
			if err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
			if _, err := tx.ExecContext(ctx, string(text)); err != nil {
				return fmt.Errorf("%s: %s: %w", name, f, err)
			}
		}
		return nil
	}
}

// migrationName is the name of the migration of a goose result: its file,
// or for a routine migration its name.
func migrationName(source *goose.Source) string {
	if source.Path != "" {
		return source.Path
	}
	for _, m := range routineMigrations {
		if m.version == source.Version {
			return m.name
		}
	}
	return fmt.Sprint(source.Version)
}
