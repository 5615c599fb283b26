package services

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/sportello/sportello/local/pg"
	"github.com/sportello/sportello/local/tools"
)

// How long a server has to become ready, and to stop after SIGTERM before
// it is killed.
const (
	ReadyTimeout = 60 * time.Second
	StopGrace    = 10 * time.Second
)

// tailLines is how many of its last output lines a server keeps for the
// error that reports its failure.
const tailLines = 30

// tail is the io.Writer of a server's output: it passes everything on to w
// (nil: nowhere) and keeps the last lines.
type tail struct {
	w     io.Writer
	mu    sync.Mutex
	buf   []byte
	lines []string
}

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	t.buf = append(t.buf, p...)
	for {
		i := bytes.IndexByte(t.buf, '\n')
		if i < 0 {
			break
		}
		if len(t.lines) == tailLines {
			t.lines = t.lines[1:]
		}
		t.lines = append(t.lines, string(bytes.TrimRight(t.buf[:i], "\r")))
		t.buf = t.buf[i+1:]
	}
	t.mu.Unlock()
	if t.w != nil {
		_, _ = t.w.Write(p)
	}
	return len(p), nil
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return strings.Join(append(t.lines, string(t.buf)), "\n")
}

// command is how a server is started.
type command struct {
	name  string
	bin   string
	args  []string
	env   []string              // added to ours
	drop  func(key string) bool // our variables it must not see (its own, which would override its flags)
	log   io.Writer             // its output; nil discards it
	twice bool                  // it drains on a first SIGTERM and gives up on a second (see proc.stop)
}

// proc is one server running as a child process.
type proc struct {
	name  string
	cmd   *exec.Cmd
	out   *tail
	twice bool
	done  chan struct{} // closed when it has exited
	err   error         // its exit status, once done is closed
}

// start runs c.bin with c.args in our environment, without the variables
// c.drop names, plus c.env. The child gets its own process group (a Ctrl-C
// at the terminal is for our process to handle) and SIGTERM should we die
// first.
func start(c command) (*proc, error) {
	cmd := exec.Command(c.bin, c.args...)
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); c.drop == nil || !c.drop(k) {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, c.env...)
	out := &tail{w: c.log}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", c.name, err)
	}
	p := &proc{name: c.name, cmd: cmd, out: out, twice: c.twice, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// failed wraps err with the server's last output lines.
func (p *proc) failed(err error) error {
	return fmt.Errorf("%s: %w; its last output:\n%s", p.name, err, p.out.String())
}

// exited reports whether the process has ended.
func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop sends SIGTERM (again after a second, for servers that drain on the
// first and give up on the second), waits StopGrace, then kills the
// process group.
func (p *proc) stop() {
	if p == nil || p.exited() {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	grace := time.NewTimer(StopGrace)
	defer grace.Stop()
	if p.twice {
		select {
		case <-p.done:
			return
		case <-time.After(time.Second):
			_ = p.cmd.Process.Signal(syscall.SIGTERM)
		}
	}
	select {
	case <-p.done:
	case <-grace.C:
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		<-p.done
	}
}

// waitHTTP polls url until it answers 200, the process exits, ctx ends or
// ReadyTimeout passes.
func (p *proc) waitHTTP(ctx context.Context, url string) error {
	ctx, cancel := context.WithTimeout(ctx, ReadyTimeout)
	defer cancel()
	err := WaitReady(ctx, url, 50*time.Millisecond, p.done)
	switch {
	case errors.Is(err, ErrExited):
		return p.failed(fmt.Errorf("exited while starting (%v)", p.err))
	case errors.Is(err, context.DeadlineExceeded):
		return p.failed(fmt.Errorf("not ready within %s (%s)", ReadyTimeout, url))
	}
	return err
}

// ErrExited is what WaitReady answers when the process exited first.
var ErrExited = errors.New("exited while starting")

// WaitReady GETs url every interval until it answers 200 (nil), exited is
// closed (ErrExited) or ctx ends (ctx.Err()): how the local stack waits for
// a child process that serves HTTP to be ready.
func WaitReady(ctx context.Context, url string, interval time.Duration, exited <-chan struct{}) error {
	client := &http.Client{Timeout: 2 * time.Second}
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if resp, err := client.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-exited:
			return ErrExited
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}

// FreeUDPPort returns a UDP port on 127.0.0.1 that was free a moment ago.
func FreeUDPPort() (int, error) {
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port, nil
}

// withFreePorts runs start and, when it fails because a port picked free
// (zero in ports) was taken by another program before the server bound it —
// the race every pick-then-bind has — picks new ones and tries again, three
// times at most. Ports given explicitly are never changed.
func withFreePorts(ports []*int, start func() error) error {
	var auto []*int
	for _, p := range ports {
		if *p == 0 {
			auto = append(auto, p)
		}
	}
	for attempt := 1; ; attempt++ {
		err := start()
		if err == nil || len(auto) == 0 || attempt == 3 || !portTaken(err) {
			return err
		}
		for _, p := range auto {
			*p = 0
		}
	}
}

// portTaken reports whether a server failed because its address was in use.
func portTaken(err error) bool {
	s := strings.ToLower(err.Error())
	return strings.Contains(s, "already in use") || strings.Contains(s, "address in use")
}

// pickPorts replaces each zero port with a free TCP port and checks that
// each given one is free, so that a server cannot mistake another program
// on its port for itself.
func pickPorts(server string, ports ...*int) error {
	for _, p := range ports {
		if *p == 0 {
			free, err := pg.FreePort()
			if err != nil {
				return err
			}
			*p = free
			continue
		}
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(*p)))
		if err != nil {
			return fmt.Errorf("%s: port %d is taken (is another instance running? choose another port): %w", server, *p, err)
		}
		l.Close()
	}
	return nil
}

// binary is bin, or the pinned tool called tool.
func binary(bin, tool string) (string, error) {
	if bin != "" {
		return bin, nil
	}
	return tools.Ensure(tool)
}

// prepare finds the binary of tool (bin when given) and picks the server's
// ports, as every server's Start begins.
func prepare(server, bin, tool string, ports ...*int) (string, error) {
	path, err := binary(bin, tool)
	if err != nil {
		return "", err
	}
	return path, pickPorts(server, ports...)
}

// writeConfig writes a server's configuration file called name into dir,
// making dir first, and answers its path.
func writeConfig(dir, name, text string) (string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	path := filepath.Join(dir, name)
	return path, os.WriteFile(path, []byte(text), 0o600)
}

// prefix matches the variables whose names start with p.
func prefix(p string) func(string) bool {
	return func(k string) bool { return strings.HasPrefix(k, p) }
}
