package pgtest

import (
	"encoding/json"
	"testing"

	"github.com/jackc/pgx/v5"
)

// Column is the one column of the rows sql answers on the package's
// database, in their order; a failed query or a value that does not scan
// into T fails the test.
func Column[T any](tb testing.TB, sql string, args ...any) []T {
	tb.Helper()
	rows, err := Pool(tb).Query(tb.Context(), sql, args...)
	if err != nil {
		tb.Fatal(err)
	}
	values, err := pgx.CollectRows(rows, pgx.RowTo[T])
	if err != nil {
		tb.Fatal(err)
	}
	return values
}

// EventData is the payloads of the outbox events of one type about
// subject, oldest first, each decoded into T.
func EventData[T any](tb testing.TB, subject, typ string) []T {
	tb.Helper()
	raws := Column[[]byte](tb, `SELECT data FROM outbox WHERE subject = $1 AND type = $2 ORDER BY time, id`, subject, typ)
	data := make([]T, len(raws))
	for i, raw := range raws {
		if err := json.Unmarshal(raw, &data[i]); err != nil {
			tb.Fatal(err)
		}
	}
	return data
}
