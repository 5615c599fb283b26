package pg

import (
	"net"
	"strconv"
	"sync"
	"testing"
)

// TestFreePortNeverTwice asks for ports from many goroutines at once, as
// the stack does when it starts its functions, and finds each port once
// and free.
func TestFreePortNeverTwice(t *testing.T) {
	const n = 400
	ports := make([]int, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { ports[i], errs[i] = FreePort() })
	}
	wg.Wait()
	seen := map[int]int{}
	for i, p := range ports {
		if errs[i] != nil {
			t.Fatalf("FreePort: %v", errs[i])
		}
		if j, ok := seen[p]; ok {
			t.Fatalf("port %d answered twice (calls %d and %d)", p, j, i)
		}
		seen[p] = i
	}
	for _, p := range ports[:20] {
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
		if err != nil {
			t.Errorf("port %d is not free: %v", p, err)
			continue
		}
		l.Close()
	}
}
