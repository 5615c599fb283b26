// This file holds the start of every function as its own process on a
// free port, the hand-over of each to the gateway and the broker, and the
// file that lists their metrics addresses for VictoriaMetrics.

package stack

import (
	"context"
	"errors"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"sync"

	"github.com/sportello/sportello/local/pg"
	"github.com/sportello/sportello/local/services"
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

// startFunction starts the i-th function and waits until it is ready. Its
// ports (HTTP and metrics) come from pg.FreePort, so another program can
// take one before the function binds it: then the function is started
// again on other ports. Once ready, the gateway routes to it, the broker
// delivers to it and VictoriaMetrics scrapes it.
func (s *Stack) startFunction(ctx context.Context, i int, name, bin string, env []string) error {
	for attempt := 1; ; attempt++ {
		port, err := pg.FreePort()
		if err != nil {
			return err
		}
		metricsPort, err := pg.FreePort()
		if err != nil {
			return err
		}
		out := s.output(name)
		p, err := startProcess(name, filepath.Join(bin, name), port, append(functionEnv(name, port, metricsPort, s.cfg.Profiles), env...), out, s.exited)
		if err != nil {
			return err
		}
		p.metricsPort = metricsPort
		s.mu.Lock()
		s.procs[i] = p
		s.mu.Unlock()
		u, _ := url.Parse(p.url())
		s.gw.SetUpstream(name, u)
		err = p.waitReady(ctx, ReadyTimeout)
		if err == nil {
			if err := s.writeTargets(); err != nil {
				s.log.Warn("VictoriaMetrics will not scrape the functions", "err", err)
			}
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

// targetsName is the name of the stack's file in VictoriaMetrics' targets
// folder.
const targetsName = "functions"

// targets lists the metrics address of every function started, labelled
// job=<function>, and the broker's (its dead letters), job=broker.
func (s *Stack) targets() []services.TargetGroup {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []services.TargetGroup{{Targets: []string{"127.0.0.1:" + strconv.Itoa(s.cfg.BrokerPort)}, Labels: map[string]string{"job": "broker"}}}
	for _, p := range s.procs {
		if p != nil {
			out = append(out, services.TargetGroup{Targets: []string{"127.0.0.1:" + strconv.Itoa(p.metricsPort)},
				Labels: map[string]string{"job": p.name}})
		}
	}
	return out
}

// writeTargets writes the functions' metrics addresses into
// VictoriaMetrics' targets folder, where it finds them within a second.
func (s *Stack) writeTargets() error {
	s.targetsMu.Lock()
	defer s.targetsMu.Unlock()
	return services.WriteTargets(s.metrics.TargetsDir(), targetsName, s.targets())
}

// removeTargets removes the stack's file from the targets folder.
func (s *Stack) removeTargets() {
	s.targetsMu.Lock()
	defer s.targetsMu.Unlock()
	if err := os.Remove(services.TargetsFile(s.metrics.TargetsDir(), targetsName)); err != nil && !errors.Is(err, os.ErrNotExist) {
		s.log.Warn("the functions' metrics targets are left behind", "err", err)
	}
}
