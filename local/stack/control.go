// This file holds the control the fault tests drive: stopping and starting
// one server (PostgreSQL, Mailpit, LiveKit, MinIO) while the stack runs,
// and starting again a function that exits by itself (Config.Restart).

package stack

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"slices"

	"github.com/sportello/sportello/local/httpjson"
	"github.com/sportello/sportello/local/services"
)

// Servers are the names StopServer and StartServer know.
var Servers = []string{"postgres", "mailpit", "livekit", "minio"}

// StopServer stops the server called name as an outage would, on purpose:
// the stack keeps running (the functions answer as they do without it)
// until StartServer starts it again on the same ports with the same data.
// PostgreSQL is stopped in fast mode: its sessions are cut.
func (s *Stack) StopServer(name string) error {
	s.ctl.Lock()
	defer s.ctl.Unlock()
	if !slices.Contains(Servers, name) {
		return fmt.Errorf("no server %q: one of %v", name, Servers)
	}
	if s.stopped[name] {
		return nil
	}
	s.stopped[name] = true
	s.log.Warn("stopping a server on purpose", "server", name)
	if name == "postgres" {
		return s.pg.Stop()
	}
	return s.named(name).Stop()
}

// StartServer starts again the server StopServer stopped and waits until it
// is ready.
func (s *Stack) StartServer(ctx context.Context, name string) error {
	s.ctl.Lock()
	defer s.ctl.Unlock()
	if !slices.Contains(Servers, name) {
		return fmt.Errorf("no server %q: one of %v", name, Servers)
	}
	if !s.stopped[name] {
		return nil
	}
	s.log.Info("starting a server again", "server", name)
	if name == "postgres" {
		// As at the first start: not ctx, or an interrupt would make it
		// poll in vain until its own deadline.
		if err := s.pg.Start(context.Background()); err != nil {
			return err
		}
	} else {
		srv := s.named(name)
		if err := srv.Start(ctx); err != nil {
			return err
		}
		go s.watch(name, srv)
	}
	delete(s.stopped, name)
	return nil
}

// named is the server of the services package called name.
func (s *Stack) named(name string) services.Server {
	return map[string]services.Server{"mailpit": s.mailpit, "livekit": s.livekit, "minio": s.minio,
		"jaeger": s.jaeger, "victoria-metrics": s.metrics}[name]
}

// watch reports the server called name on svcExited when it exits by
// itself: not when the stack stops, nor when StopServer stopped it.
func (s *Stack) watch(name string, srv services.Server) {
	select {
	case <-srv.Exited():
	case <-s.stopping:
		return
	}
	s.ctl.Lock()
	onPurpose := s.stopped[name]
	s.ctl.Unlock()
	select {
	case <-s.stopping:
	default:
		if !onPurpose {
			s.console.Println(srv.Tail())
			s.svcExited <- name
		}
	}
}

// serveServers answers POST /_local/servers/{name}/stop and
// /_local/servers/{name}/start with 204 once done.
func (s *Stack) serveServers(w http.ResponseWriter, r *http.Request) {
	name, action := r.PathValue("name"), r.PathValue("action")
	if !slices.Contains(Servers, name) {
		httpjson.WriteProblem(w, http.StatusNotFound, "not_found", fmt.Sprintf("no server %q: one of %v", name, Servers))
		return
	}
	var err error
	switch action {
	case "stop":
		err = s.StopServer(name)
	case "start":
		err = s.StartServer(r.Context(), name)
	default:
		httpjson.WriteProblem(w, http.StatusNotFound, "not_found", "the actions are stop and start")
		return
	}
	if err != nil {
		httpjson.WriteProblem(w, http.StatusInternalServerError, "failed", err.Error())
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// restart starts again the function p, which exited by itself, on a new
// port, as Kubernetes starts a crashed container again; the gateway and
// the broker follow it. A function that cannot start again stops the
// stack.
func (s *Stack) restart(ctx context.Context, p *process) {
	s.mu.Lock()
	i := slices.Index(s.procs, p)
	env := s.env
	s.mu.Unlock()
	if i < 0 {
		return
	}
	bin, err := filepath.Abs(s.cfg.Bin)
	if err == nil {
		err = s.startFunction(ctx, i, p.name, bin, env)
	}
	if err != nil {
		s.log.Error("the function did not start again", "function", p.name, "err", err)
		s.svcExited <- p.name
		return
	}
	s.log.Info("started again", "function", p.name)
}
