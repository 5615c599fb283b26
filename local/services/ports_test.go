package services

import (
	"errors"
	"testing"
)

// TestWithFreePorts: a start that lost its picked port to another program
// is retried with new ports; a port given explicitly, or another failure,
// is not retried.
func TestWithFreePorts(t *testing.T) {
	taken := errors.New("minio: exited while starting; its last output: FATAL Specified port is already in use")
	for _, c := range []struct {
		name     string
		port     int
		failures int   // how many starts fail with taken before one succeeds
		other    error // a failure that is not a taken port
		calls    int
		ok       bool
	}{
		{"free at once", 0, 0, nil, 1, true},
		{"taken once", 0, 1, nil, 2, true},
		{"taken twice", 0, 2, nil, 3, true},
		{"taken three times", 0, 3, nil, 3, false},
		{"explicit port taken", 9000, 1, nil, 1, false},
		{"another failure", 0, 0, errors.New("minio: bad credentials"), 1, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			port, calls, seen := c.port, 0, map[int]bool{}
			err := withFreePorts([]*int{&port}, func() error {
				calls++
				if port == 0 {
					port = 40000 + calls // what pickPorts would do
				}
				if c.port == 0 && seen[port] {
					t.Errorf("port %d picked again", port)
				}
				seen[port] = true
				if c.other != nil {
					return c.other
				}
				if calls <= c.failures {
					return taken
				}
				return nil
			})
			if calls != c.calls || (err == nil) != c.ok {
				t.Errorf("%d starts, err %v; want %d starts, ok %v", calls, err, c.calls, c.ok)
			}
			if c.port != 0 && port != c.port {
				t.Errorf("the explicit port became %d", port)
			}
		})
	}
}
