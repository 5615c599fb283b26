package stack

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Console is the terminal shared by the stack and its children: every line
// goes out whole, prefixed with the name of whoever wrote it.
type Console struct {
	mu    sync.Mutex
	w     io.Writer
	width int // of the name column
}

// NewConsole writes to w with a name column of the given width.
func NewConsole(w io.Writer, width int) *Console { return &Console{w: w, width: width} }

// Println writes one unprefixed line.
func (c *Console) Println(s string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	fmt.Fprintln(c.w, s)
}

func (c *Console) line(name string, b []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	fmt.Fprintf(c.w, "%-*s | %s\n", c.width, name, b)
}

// tailLines is how many of its last lines a quiet writer keeps, to show
// them when its process fails.
const tailLines = 40

// LineWriter is the io.Writer of one process: it cuts what it receives into
// lines and writes each to the console with the process's name. It keeps
// the last lines; when Quiet, it writes nothing until Tail.
type LineWriter struct {
	Console *Console
	Name    string
	Quiet   bool

	mu   sync.Mutex
	buf  []byte
	tail []string
}

func (w *LineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, p...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			break
		}
		w.emit(bytes.TrimRight(w.buf[:i], "\r"))
		w.buf = w.buf[i+1:]
	}
	return len(p), nil
}

// Flush writes what is left of an unfinished line.
func (w *LineWriter) Flush() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.buf) > 0 {
		w.emit(w.buf)
		w.buf = nil
	}
}

func (w *LineWriter) emit(line []byte) {
	if len(w.tail) == tailLines {
		w.tail = w.tail[1:]
	}
	w.tail = append(w.tail, string(line))
	if !w.Quiet {
		w.Console.line(w.Name, line)
	}
}

// Tail writes the lines a quiet writer kept to the console (a writer that
// is not quiet has written them already).
func (w *LineWriter) Tail() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.Quiet {
		for _, l := range w.tail {
			w.Console.line(w.Name, []byte(l))
		}
	}
	w.tail = nil
}

// Contains reports whether one of the last lines holds s.
func (w *LineWriter) Contains(s string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, l := range w.tail {
		if strings.Contains(l, s) {
			return true
		}
	}
	return false
}

// process is one function running as a child process.
type process struct {
	name string
	port int
	cmd  *exec.Cmd
	out  *LineWriter

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
	client := &http.Client{Timeout: 2 * time.Second}
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, p.url()+"/health/readiness", nil)
		if resp, err := client.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-p.done:
			return fmt.Errorf("%s exited while starting (%s)", p.name, p.exitStatus())
		case <-ctx.Done():
			if ctx.Err() == context.DeadlineExceeded {
				return fmt.Errorf("%s was not ready within %s", p.name, timeout)
			}
			return ctx.Err()
		case <-tick.C:
		}
	}
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
