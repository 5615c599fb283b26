package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestFilesAreRegenerated: the chart's manifest.json and skaffold.yaml, as
// committed, are what regen writes — a hand edit to either, or to regen's
// template without the files, fails here.
func TestFilesAreRegenerated(t *testing.T) {
	files, err := render()
	if err != nil {
		t.Fatal(err)
	}
	for path, want := range files {
		got, err := os.ReadFile(filepath.Join("..", "..", "..", "..", path))
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(string(want), string(got)); diff != "" {
			t.Errorf("%s is not what regen writes (run GOWORK=off go run ./cmd/regen in deploy/test) (-regen +committed):\n%s", path, diff)
		}
	}
}
