package postgres

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
