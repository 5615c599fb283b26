// Package pg runs a private PostgreSQL server for the local stack and the
// tests: it finds (or, as root on Debian, installs) the server binaries,
// initialises a data folder, starts the server on a loopback port and stops
// it. PostgreSQL refuses to run as root, so as root the server runs as the
// unprivileged "postgres" user that Debian's package creates.
package pg

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// Server is one PostgreSQL server with its own data folder.
type Server struct {
	DataDir string    // the cluster; created by Init when missing
	Port    int       // TCP port on 127.0.0.1
	Fast    bool      // fsync off: for throwaway test servers only
	Log     io.Writer // server output; nil discards it
	// Settings are more of the server's settings, each "name=value"
	// (postgres -c).
	Settings []string

	bin  string
	cred *syscall.Credential
	cmd  *exec.Cmd
	done chan error
}

// URL is the connection string of database db on this server.
func (s *Server) URL(db string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", s.Port, db)
}

// FindBinaries returns the folder holding initdb and postgres: PATH first,
// then Debian's /usr/lib/postgresql/<version>/bin (the newest).
func FindBinaries() (string, error) {
	if p, err := exec.LookPath("initdb"); err == nil {
		if _, err := exec.LookPath("postgres"); err == nil {
			return filepath.Dir(p), nil
		}
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return version(dirs[i]) > version(dirs[j]) })
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			return d, nil
		}
	}
	return "", errors.New("PostgreSQL server binaries (initdb, postgres) not found")
}

func version(binDir string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return v
}

// EnsureBinaries finds the server binaries and, when they are missing and we
// are root on a Debian-like system, installs Debian's postgresql package.
func EnsureBinaries(log io.Writer) (string, error) {
	dir, err := FindBinaries()
	if err == nil {
		return dir, nil
	}
	if os.Geteuid() != 0 {
		return "", fmt.Errorf("%w: install them (Debian: sudo apt-get install postgresql) and retry", err)
	}
	if _, lerr := exec.LookPath("apt-get"); lerr != nil {
		return "", fmt.Errorf("%w and apt-get is not available: install PostgreSQL 15 or newer", err)
	}
	fmt.Fprintln(log, "PostgreSQL server not found: installing Debian's postgresql package…")
	for _, args := range [][]string{{"update"}, {"install", "-y", "--no-install-recommends", "postgresql", "postgresql-contrib"}} {
		cmd := exec.Command("apt-get", args...)
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		cmd.Stdout, cmd.Stderr = log, log
		if err := cmd.Run(); err != nil && args[0] == "install" {
			return "", fmt.Errorf("apt-get install postgresql: %w", err)
		}
	}
	return FindBinaries()
}

// RunAs returns who the server runs as: nil (ourselves) when we are not
// root, else the postgres user.
func RunAs() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, errors.New(`running as root, and there is no "postgres" user to run PostgreSQL as (Debian's postgresql package creates it)`)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

// Init prepares the server: binaries, run-as user, and the data folder
// (initdb when it holds no cluster yet).
func (s *Server) Init(log io.Writer) error {
	bin, err := EnsureBinaries(log)
	if err != nil {
		return err
	}
	s.bin = bin
	if s.cred, err = RunAs(); err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(s.DataDir, "PG_VERSION")); err == nil {
		return s.own(s.DataDir)
	}
	if err := os.MkdirAll(s.DataDir, 0o700); err != nil {
		return err
	}
	if err := s.own(s.DataDir); err != nil {
		return err
	}
	cmd := exec.Command(filepath.Join(bin, "initdb"), "-D", s.DataDir, "-U", "postgres",
		"--auth=trust", "--encoding=UTF8", "--no-locale", "--no-sync")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: s.cred}
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("initdb %s: %w\n%s", s.DataDir, err, out)
	}
	return nil
}

// own gives dir to the run-as user and checks that user can reach it.
func (s *Server) own(dir string) error {
	if s.cred == nil {
		return nil
	}
	if err := os.Chown(dir, int(s.cred.Uid), int(s.cred.Gid)); err != nil {
		return err
	}
	probe := exec.Command("test", "-w", dir)
	probe.SysProcAttr = &syscall.SysProcAttr{Credential: s.cred}
	if probe.Run() != nil {
		return fmt.Errorf("the postgres user cannot reach %s: a folder above it is private to root; put the data under /var/lib or /tmp (make run does this by itself)", dir)
	}
	return nil
}

// TempDir makes a new temporary folder (os.MkdirTemp, prefix as there)
// that PostgreSQL can reach when it runs as the postgres user: MkdirTemp
// makes it private to us, t.TempDir's too.
func TempDir(prefix string) (string, error) {
	dir, err := os.MkdirTemp("", prefix)
	if err != nil {
		return "", err
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		os.RemoveAll(dir)
		return "", err
	}
	return dir, nil
}

// Start launches the server and waits until it accepts connections.
//
// With no Port it takes a free one; the port is free when FreePort looks,
// but another process (another test package's server) may take it before
// the server binds it. Then the server exits at once and Start tries again
// on another port, three times in all. Start only counts as ready a server
// whose data folder is DataDir, so a server of someone else's that answers
// on the port is never taken for this one.
func (s *Server) Start(ctx context.Context) error {
	chosen := s.Port == 0
	for attempt := 1; ; attempt++ {
		if chosen {
			p, err := FreePort()
			if err != nil {
				return err
			}
			s.Port = p
		}
		err := s.start(ctx)
		if err == nil || !chosen || attempt == 3 || !errors.Is(err, errExited) {
			return err
		}
	}
}

// errExited is a server that exited during its start-up.
var errExited = errors.New("postgres exited during start-up")

// start launches the server on s.Port and waits until it accepts
// connections.
func (s *Server) start(ctx context.Context) error {
	args := []string{"-D", s.DataDir, "-p", strconv.Itoa(s.Port), "-c", "listen_addresses=127.0.0.1",
		"-c", "unix_socket_directories=", "-c", "max_connections=300", "-c", "shared_buffers=128MB"}
	for _, kv := range s.Settings {
		args = append(args, "-c", kv)
	}
	if s.Fast {
		args = append(args, "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off")
	}
	s.cmd = exec.Command(filepath.Join(s.bin, "postgres"), args...)
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Credential: s.cred, Setpgid: true}
	if s.Log != nil {
		s.cmd.Stdout, s.cmd.Stderr = s.Log, s.Log
	}
	if err := s.cmd.Start(); err != nil {
		return fmt.Errorf("start postgres: %w", err)
	}
	s.done = make(chan error, 1)
	go func() { s.done <- s.cmd.Wait() }()
	deadline := time.Now().Add(60 * time.Second)
	for {
		err := s.ours(ctx)
		if err == nil {
			return nil
		}
		select {
		case werr := <-s.done:
			s.cmd = nil // already gone: Stop has nothing to wait for
			return fmt.Errorf("%w (%v) on port %d; its log says why: %w", errExited, werr, s.Port, err)
		default:
		}
		if time.Now().After(deadline) {
			s.Stop()
			return fmt.Errorf("postgres did not accept connections within 60s: %w", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// ours connects to the port and checks that the server answering is this
// one: its data folder is DataDir.
func (s *Server) ours(ctx context.Context) error {
	conn, err := pgx.Connect(ctx, s.URL("postgres"))
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	var dir string
	if err := conn.QueryRow(ctx, `SELECT current_setting('data_directory')`).Scan(&dir); err != nil {
		return err
	}
	theirs, err1 := os.Stat(dir)
	mine, err2 := os.Stat(s.DataDir)
	if err1 != nil || err2 != nil || !os.SameFile(theirs, mine) {
		return fmt.Errorf("port %d answers with another server (data folder %s, not %s)", s.Port, dir, s.DataDir)
	}
	return nil
}

// Stop shuts the server down (fast mode: open sessions are rolled back).
func (s *Server) Stop() error {
	if s.cmd == nil || s.cmd.Process == nil {
		return nil
	}
	_ = s.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-s.done:
	case <-time.After(30 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
	}
	s.cmd = nil
	return nil
}

// CreateDatabase creates db when it does not exist.
func (s *Server) CreateDatabase(ctx context.Context, db string) error {
	return CreateDatabase(ctx, s.URL("postgres"), db)
}

// CreateDatabase creates db on the server of adminURL when it does not exist.
func CreateDatabase(ctx context.Context, adminURL, db string) error {
	conn, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	var exists bool
	if err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`, db).Scan(&exists); err != nil {
		return err
	}
	if exists {
		return nil
	}
	_, err = conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{db}.Sanitize())
	if err != nil && !strings.Contains(err.Error(), "already exists") {
		return err
	}
	return nil
}
