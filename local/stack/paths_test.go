package stack

import (
	"os"
	"path/filepath"
	"testing"
)

func TestRepoRoot(t *testing.T) {
	root := t.TempDir()
	deep := filepath.Join(root, "a", "b")
	if err := os.MkdirAll(deep, 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := RepoRoot(deep); err == nil {
		t.Error("RepoRoot found a go.work that does not exist")
	}
	if err := os.WriteFile(filepath.Join(root, "go.work"), []byte("go 1.26\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got, err := RepoRoot(deep); err != nil || got != root {
		t.Errorf("RepoRoot = %q, %v; want %q", got, err, root)
	}
}

func TestDefaultDataDir(t *testing.T) {
	t.Setenv("SPORTELLO_DATA", "")
	if got := DefaultDataDir("/repo"); got != "/repo/.run" {
		t.Errorf("DefaultDataDir = %q", got)
	}
	t.Setenv("SPORTELLO_DATA", "/srv/sportello")
	if got := DefaultDataDir("/repo"); got != "/srv/sportello" {
		t.Errorf("DefaultDataDir with SPORTELLO_DATA = %q", got)
	}
}

func TestFallbackDir(t *testing.T) {
	a, _ := FallbackDir("/root/sportello/.run")
	b, _ := FallbackDir("/root/sportello/.run/")
	c, _ := FallbackDir("/root/other/.run")
	if a != b || a == c || filepath.Dir(a) != FallbackRoot || len(filepath.Base(a)) != 12 {
		t.Errorf("FallbackDir: %q %q %q", a, b, c)
	}
}

func TestPGDataDirReachable(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	if err := os.Chmod(filepath.Dir(data), 0o755); err != nil {
		t.Fatal(err)
	}
	// The test folder's parent may be private to root; only check the
	// answer when the data folder is reachable.
	dir, fallback, err := PGDataDir(data)
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(data); err != nil || !fi.IsDir() {
		t.Fatalf("data folder not created: %v", err)
	}
	if !fallback && dir != filepath.Join(data, "pgdata") {
		t.Errorf("PGDataDir = %q", dir)
	}
	if fallback {
		fb, _ := FallbackDir(data)
		if dir != filepath.Join(fb, "pgdata") {
			t.Errorf("fallback PGDataDir = %q, want under %q", dir, fb)
		}
		os.RemoveAll(fb)
	}
}

func TestCleanRefusesRepositories(t *testing.T) {
	repo := t.TempDir()
	if err := os.WriteFile(filepath.Join(repo, "go.work"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Clean(repo); err == nil {
		t.Error("Clean removed a folder holding go.work")
	}
	if _, err := os.Stat(filepath.Join(repo, "go.work")); err != nil {
		t.Error("go.work is gone")
	}
	if _, err := Clean("/"); err == nil {
		t.Error("Clean accepted /")
	}

	data := filepath.Join(t.TempDir(), ".run")
	if err := os.MkdirAll(filepath.Join(data, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	removed, err := Clean(data)
	if err != nil || len(removed) != 1 || removed[0] != data {
		t.Errorf("Clean = %v, %v", removed, err)
	}
	if _, err := os.Stat(data); !os.IsNotExist(err) {
		t.Error("data folder still there")
	}
	if removed, err := Clean(data); err != nil || len(removed) != 0 {
		t.Errorf("second Clean = %v, %v", removed, err)
	}
}
