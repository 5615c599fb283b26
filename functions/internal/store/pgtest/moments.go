package pgtest

import "time"

// Rome is the municipality's time zone, Europe/Rome.
var Rome = func() *time.Location {
	loc, err := time.LoadLocation("Europe/Rome")
	if err != nil {
		panic(err)
	}
	return loc
}()

// Monday is 2027-03-01 08:00 in Rome, an ordinary Monday.
var Monday = time.Date(2027, 3, 1, 8, 0, 0, 0, Rome)

// At is the moment hhmm ("09:30") of day ("2027-03-02") in Rome; it panics
// on a malformed day or time.
func At(day, hhmm string) time.Time {
	t, err := time.ParseInLocation("2006-01-02 15:04", day+" "+hhmm, Rome)
	if err != nil {
		panic(err)
	}
	return t
}
