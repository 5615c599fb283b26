package postgres

// Migrator is the goose provider Migrate uses, for the test that runs every
// migration down and up again.
var Migrator = migrator

// ConfirmStatements answers how many statements s's confirmations went in,
// and how many confirmations those carried.
func ConfirmStatements(s *Store) (statements, confirmations int) {
	s.confirmations.mu.Lock()
	defer s.confirmations.mu.Unlock()
	return s.confirmations.statements, s.confirmations.sent
}
