package postgres

import (
	"context"

	"github.com/google/uuid"

	"github.com/sportello/sportello/events"
	"github.com/sportello/sportello/functions/internal/domain/secret"
	"github.com/sportello/sportello/functions/internal/store/outbox"
)

// Migrator is the goose provider Migrate uses, for the test that runs every
// migration down and up again.
var Migrator = migrator

// ConfirmStatements answers how many statements s's confirmations went in,
// and how many confirmations those carried.
func ConfirmStatements(s *Store) (statements, confirmations int) {
	s.Confirmations.mu.Lock()
	defer s.Confirmations.mu.Unlock()
	return s.Confirmations.statements, s.Confirmations.sent
}

// ConfirmTogether sends the confirmations of the holds (id and secret)
// as one statement, as Confirmations does with those waiting together,
// each with its locale as given (no validation: the database's CHECK is
// the judge), and answers each one's error and whether it was confirmed.
func ConfirmTogether(ctx context.Context, s *Store, ids, secrets, locales []string) ([]error, []bool) {
	var batch []*confirmation
	for i := range ids {
		ev, err := outbox.Prepare(outbox.Event{Type: events.BookingConfirmed, Subject: ids[i], Data: events.BookingConfirmedData{}})
		if err != nil {
			panic(err)
		}
		_, tokenHash := secret.New()
		batch = append(batch, &confirmation{id: [16]byte(uuid.MustParse(ids[i])), secretHash: secret.Hash(secrets[i]), tokenHash: tokenHash,
			at: s.Clock.Now(), locale: locales[i], applicant: [6]string{"Maria", "Rossi", "Via Sparano 1, Bari", "maria.rossi@example.it"},
			event: ev, done: make(chan struct{})})
	}
	s.confirmLive(ctx, batch)
	errs, confirmed := make([]error, len(batch)), make([]bool, len(batch))
	for i, c := range batch {
		errs[i], confirmed[i] = c.err, c.confirmed
	}
	return errs, confirmed
}
