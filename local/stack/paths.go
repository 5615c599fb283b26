// This file holds where the stack keeps its data: the repository root,
// the data folder, PostgreSQL's cluster (elsewhere when the postgres user
// cannot reach the data folder), and -clean.

package stack

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"

	"github.com/sportello/sportello/local/pg"
)

// FallbackRoot holds the PostgreSQL data of the stacks whose data folder the
// postgres user cannot reach (as root, a repository under /root).
const FallbackRoot = "/var/lib/sportello"

// RepoRoot walks up from dir (".": the working folder) to the folder that
// holds go.work.
func RepoRoot(dir string) (string, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.work")); err == nil {
			return d, nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("no go.work in %s or above it: run from inside the Sportello repository", dir)
		}
	}
}

// DefaultDataDir is $SPORTELLO_DATA, else <root>/.run.
func DefaultDataDir(root string) string {
	if d := os.Getenv("SPORTELLO_DATA"); d != "" {
		return d
	}
	return filepath.Join(root, ".run")
}

// FallbackDir is the folder under FallbackRoot that stands in for the data
// folder data: named by the first 12 hex digits of the SHA-256 of its
// absolute path, so that every data folder gets its own.
func FallbackDir(data string) (string, error) {
	abs, err := filepath.Abs(data)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256([]byte(abs))
	return filepath.Join(FallbackRoot, hex.EncodeToString(sum[:])[:12]), nil
}

// reachable reports whether the user of cred can enter dir (every folder
// above it must be searchable by that user).
func reachable(dir string, cred *syscall.Credential) bool {
	if cred == nil {
		return true
	}
	probe := exec.Command("test", "-x", dir)
	probe.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	return probe.Run() == nil
}

// PGDataDir creates the data folder and returns where the PostgreSQL
// cluster lives: <data>/pgdata, or, when PostgreSQL runs as the postgres
// user and that user cannot reach data, <FallbackDir(data)>/pgdata
// (fallback is then true).
func PGDataDir(data string) (dir string, fallback bool, err error) {
	if err := os.MkdirAll(data, 0o755); err != nil {
		return "", false, err
	}
	cred, err := pg.RunAs()
	if err != nil {
		return "", false, err
	}
	if reachable(data, cred) {
		return filepath.Join(data, "pgdata"), false, nil
	}
	fb, err := FallbackDir(data)
	if err != nil {
		return "", false, err
	}
	// Created by root: the postgres user must be able to enter both levels.
	for _, d := range []string{FallbackRoot, fb} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return "", false, err
		}
		if err := os.Chmod(d, 0o755); err != nil {
			return "", false, err
		}
	}
	return filepath.Join(fb, "pgdata"), true, nil
}

// Clean removes the data folder and its fallback under FallbackRoot, and
// returns the folders it removed. It refuses a folder that holds go.work or
// .git, so that a wrong -data cannot wipe a repository.
func Clean(data string) ([]string, error) {
	abs, err := filepath.Abs(data)
	if err != nil {
		return nil, err
	}
	if abs == filepath.Dir(abs) {
		return nil, fmt.Errorf("refusing to remove %s", abs)
	}
	for _, marker := range []string{"go.work", ".git"} {
		if _, err := os.Stat(filepath.Join(abs, marker)); err == nil {
			return nil, fmt.Errorf("refusing to remove %s: it holds %s", abs, marker)
		}
	}
	fb, err := FallbackDir(abs)
	if err != nil {
		return nil, err
	}
	var removed []string
	for _, d := range []string{abs, fb} {
		if _, err := os.Lstat(d); errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err := os.RemoveAll(d); err != nil {
			return removed, err
		}
		removed = append(removed, d)
	}
	return removed, nil
}
