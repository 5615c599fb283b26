// This file holds what the stack builds before it starts the functions:
// the site (package web) and the functions' binaries (go build).

package stack

import (
	"context"
	"os"
	"path/filepath"
	"time"

	"github.com/sportello/sportello/functions/manifest"
	"github.com/sportello/sportello/local/web"
)

// buildSite builds the static site of <root>/web (package web: npm ci once
// into the cache, then build.mjs, reused while the sources do not change)
// and has the gateway serve it. A failure is logged and the gateway keeps
// its index page: the API works without the site.
func (s *Stack) buildSite(ctx context.Context, root string) {
	if SiteDir(root) == "" {
		return
	}
	cache, err := web.CacheDir()
	if err == nil {
		var dir string
		start := time.Now()
		dir, err = web.Build(ctx, root, cache, s.output("web"))
		if err == nil {
			s.gw.SetSite(dir)
			s.log.Info("site ready", "dir", dir, "seconds", time.Since(start).Round(100*time.Millisecond).Seconds())
			return
		}
	}
	if ctx.Err() == nil {
		s.log.Error("the site could not be built: the gateway serves the API index instead", "err", err)
	}
}

// build compiles every function and migrate in one go build.
func (s *Stack) build(ctx context.Context, root, bin string) error {
	if err := os.MkdirAll(bin, 0o755); err != nil {
		return err
	}
	args := []string{"build", "-o", bin + string(filepath.Separator)}
	for _, f := range s.functions {
		args = append(args, "./functions/"+f.Name)
	}
	args = append(args, "./functions/"+manifest.Migrate)
	s.log.Info("building the functions", "bin", bin)
	start := time.Now()
	if err := runLogged(ctx, s.output("build"), root, nil, "go", args...); err != nil {
		return err
	}
	s.log.Info("built", "seconds", time.Since(start).Round(100*time.Millisecond).Seconds())
	return nil
}
