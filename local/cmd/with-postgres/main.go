// Command with-postgres runs a command against a throwaway PostgreSQL server:
// it starts a fresh server in a temporary folder, runs the command with
// DATABASE_URL pointing at it, then stops the server and removes the folder.
// When DATABASE_URL is already set it just runs the command.
//
//	with-postgres go test ./...
package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"syscall"

	"github.com/sportello/sportello/local/pg"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: with-postgres COMMAND [ARG...]")
		os.Exit(2)
	}
	os.Exit(run(os.Args[1:]))
}

func run(argv []string) int {
	env := os.Environ()
	if os.Getenv("DATABASE_URL") == "" {
		dir, err := os.MkdirTemp("", "sportello-pg-")
		if err != nil {
			fmt.Fprintln(os.Stderr, "with-postgres:", err)
			return 1
		}
		defer os.RemoveAll(dir)
		srv := &pg.Server{DataDir: dir + "/data", Fast: true}
		if err := os.Chmod(dir, 0o755); err != nil {
			fmt.Fprintln(os.Stderr, "with-postgres:", err)
			return 1
		}
		if err := srv.Init(os.Stderr); err != nil {
			fmt.Fprintln(os.Stderr, "with-postgres:", err)
			return 1
		}
		if err := srv.Start(context.Background()); err != nil {
			fmt.Fprintln(os.Stderr, "with-postgres:", err)
			return 1
		}
		defer srv.Stop()
		fmt.Fprintf(os.Stderr, "with-postgres: throwaway PostgreSQL on 127.0.0.1:%d\n", srv.Port)
		env = append(env, "DATABASE_URL="+srv.URL("postgres"))
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = env
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	// Ctrl-C reaches the child through the terminal; we only wait for it.
	signal.Ignore(syscall.SIGINT)
	if err := cmd.Run(); err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			return ee.ExitCode()
		}
		fmt.Fprintln(os.Stderr, "with-postgres:", err)
		return 1
	}
	return 0
}
