package apitest

import (
	"net"
	"testing"
)

// FreePort is a loopback TCP port free at the moment of asking, for a test
// that starts a server of its own on it.
func FreePort(tb testing.TB) int {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
