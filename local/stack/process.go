// This file holds one function running as a child process (start, ready,
// signal, wait) and the one-shot commands the stack runs (go build,
// migrate).

package stack

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/sportello/sportello/local/services"
)

// process is one function running as a child process.
type process struct {
	name        string
	port        int
	metricsPort int // where it serves GET /metrics
	cmd         *exec.Cmd
	out         *LineWriter

	stopping atomic.Bool
	done     chan struct{} // closed when the process has exited
	err      error         // its exit status, once done is closed
}

// startProcess starts bin with env (appended to ours, so that it wins) in
// its own process group, so that a Ctrl-C at the terminal reaches only the
// stack. exited receives the process if it ends before stop is called.
func startProcess(name, bin string, port int, env []string, out *LineWriter, exited chan<- *process) (*process, error) {
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = out, out
	// Setpgid: Ctrl-C is the stack's to handle. Pdeathsig: should the stack
	// itself be killed, the function still gets SIGTERM and drains.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &process{name: name, port: port, cmd: cmd, out: out, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		out.Flush()
		close(p.done)
		if !p.stopping.Load() {
			exited <- p
		}
	}()
	return p, nil
}

// url is where the process serves HTTP.
func (p *process) url() string { return fmt.Sprintf("http://127.0.0.1:%d", p.port) }

// exitStatus describes how the process ended.
func (p *process) exitStatus() string {
	if p.err == nil {
		return "exit status 0"
	}
	return p.err.Error()
}

// signal asks the process to stop (SIGTERM: drain and exit).
func (p *process) signal() {
	p.stopping.Store(true)
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
}

// wait waits for the process to exit after signal, killing its process
// group after grace or when kill is closed. It reports whether it had to
// kill.
func (p *process) wait(grace time.Duration, kill <-chan struct{}) bool {
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-p.done:
		return false
	case <-t.C:
	case <-kill:
	}
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	<-p.done
	return true
}

// waitReady polls the process's /health/readiness until it answers 200, the
// process exits, ctx ends or timeout passes.
func (p *process) waitReady(ctx context.Context, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	err := services.WaitReady(ctx, p.url()+"/health/readiness", 100*time.Millisecond, p.done)
	switch {
	case errors.Is(err, services.ErrExited):
		return fmt.Errorf("%s exited while starting (%s)", p.name, p.exitStatus())
	case errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("%s was not ready within %s", p.name, timeout)
	}
	return err
}

// runLogged runs a one-shot command with its output on the console under
// name. When ctx ends the command's process group gets SIGINT.
func runLogged(ctx context.Context, out *LineWriter, dir string, env []string, name string, args ...string) error {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGINT) }
	cmd.WaitDelay = 10 * time.Second
	err := cmd.Run()
	out.Flush()
	if err != nil {
		out.Tail()
		return fmt.Errorf("%s %s: %w", name, strings.Join(args, " "), err)
	}
	return nil
}
