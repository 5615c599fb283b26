// This file holds the start of every function as its own process on a
// free port, and the hand-over of each to the gateway and the broker.

package stack

import (
	"context"
	"errors"
	"net/url"
	"path/filepath"
	"strconv"
	"sync"

	"github.com/sportello/sportello/local/pg"
)

// startAttempts is how many times a function is started when the free port
// it was given is taken before it binds it.
const startAttempts = 3

// startFunctions starts every function on a free loopback port, with env
// (the database, the broker, the servers) and its PORT, and waits until
// each is ready.
func (s *Stack) startFunctions(ctx context.Context, bin string, env []string) error {
	s.procs = make([]*process, len(s.functions))
	errs := make([]error, len(s.functions))
	var wg sync.WaitGroup
	for i, f := range s.functions {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = s.startFunction(ctx, i, f.Name, bin, env)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	for _, p := range s.procs {
		s.log.Info("ready", "function", p.name, "url", p.url())
	}
	return nil
}

// startFunction starts the i-th function and waits until it is ready. The
// port comes from pg.FreePort, so another program can take it before the
// function binds it: then the function is started again on another port.
// Once ready, the gateway routes to it and the broker delivers to it.
func (s *Stack) startFunction(ctx context.Context, i int, name, bin string, env []string) error {
	for attempt := 1; ; attempt++ {
		port, err := pg.FreePort()
		if err != nil {
			return err
		}
		out := s.output(name)
		p, err := startProcess(name, filepath.Join(bin, name), port, append([]string{"PORT=" + strconv.Itoa(port)}, env...), out, s.exited)
		if err != nil {
			return err
		}
		s.mu.Lock()
		s.procs[i] = p
		s.mu.Unlock()
		u, _ := url.Parse(p.url())
		s.gw.SetUpstream(name, u)
		err = p.waitReady(ctx, ReadyTimeout)
		if err == nil {
			return s.broker.SetSubscriber(name, p.url()+"/")
		}
		select {
		case <-p.done:
			if attempt < startAttempts && out.Contains("address already in use") {
				s.log.Warn("port taken: starting again on another", "function", name, "port", port)
				continue
			}
		default:
		}
		out.Tail()
		return err
	}
}
