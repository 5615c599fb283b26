package deploy

import (
	"debug/elf"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sportello/sportello/functions/manifest"
)

// TestBuildStatic builds every function (and migrate) as skaffold's ko
// builder does — CGO_ENABLED=0, -trimpath, -ldflags "-s -w" — checks each
// binary is statically linked (it runs on a static base image without
// libc) and reports the sizes.
func TestBuildStatic(t *testing.T) {
	if testing.Short() {
		t.Skip("builds every function")
	}
	m := manifest.NewDocument()
	names := []string{}
	for _, f := range m.Functions {
		names = append(names, f.Name)
	}
	names = append(names, m.Migrate)
	out := t.TempDir()
	args := []string{"build", "-trimpath", "-ldflags=-s -w", "-o", out + "/"}
	for _, n := range names {
		args = append(args, "./functions/"+n)
	}
	cmd := exec.Command("go", args...)
	cmd.Dir = root(t)
	cmd.Env = workspaceEnv("CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, b)
	}
	var total int64
	var table strings.Builder
	fmt.Fprintf(&table, "\n| function | size (MiB) |\n|---|---:|\n")
	for _, n := range names {
		path := filepath.Join(out, n)
		fi, err := os.Stat(path)
		if err != nil {
			t.Errorf("%s: %v", n, err)
			continue
		}
		f, err := elf.Open(path)
		if err != nil {
			t.Errorf("%s: %v", n, err)
			continue
		}
		for _, p := range f.Progs {
			if p.Type == elf.PT_INTERP {
				t.Errorf("%s is dynamically linked (has an ELF interpreter)", n)
			}
		}
		f.Close()
		total += fi.Size()
		fmt.Fprintf(&table, "| %s | %.1f |\n", n, float64(fi.Size())/(1<<20))
	}
	fmt.Fprintf(&table, "| total | %.1f |", float64(total)/(1<<20))
	t.Log(table.String())
}
