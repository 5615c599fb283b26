package pg

import (
	"errors"
	"net"
	"sync"
)

// handedOut are the ports FreePort has answered in this process.
var handedOut = struct {
	sync.Mutex
	ports map[int]bool
}{ports: map[int]bool{}}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago and
// that it has not returned before in this process. Once the probe's socket
// is closed the kernel may give the same port to the next probe: two
// servers started together (the stack starts its functions in parallel)
// were told the same port, one of them could not bind it, and the other
// answered its readiness check for it. Another program can still take a
// port before its server binds it; the callers start the server again on
// another one when it says the address is in use.
func FreePort() (int, error) {
	handedOut.Lock()
	defer handedOut.Unlock()
	for range 1000 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, err
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		if !handedOut.ports[port] {
			handedOut.ports[port] = true
			return port, nil
		}
	}
	return 0, errors.New("pg: the kernel gave only ports already handed out")
}
