package postgres

// Migrator is the goose provider Migrate uses, for the test that runs every
// migration down and up again.
var Migrator = migrator
