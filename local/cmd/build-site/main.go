// Command build-site builds the website (web/) and copies it into a folder:
// `make site` puts it into functions/site/kodata, where ko packs it into the
// site's image (functions/site serves it from $KO_DATA_PATH). The build
// itself is local/web's: npm ci at the lock's pinned versions into the
// cache, then web/build.mjs; an unchanged site is not rebuilt.
//
//	go run ./local/cmd/build-site -out functions/site/kodata
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/sportello/sportello/local/stack"
	"github.com/sportello/sportello/local/web"
)

func main() {
	out := flag.String("out", "functions/site/kodata", "the folder to fill with the built site (its old content is replaced)")
	flag.Parse()
	if err := run(*out); err != nil {
		fmt.Fprintln(os.Stderr, "build-site:", err)
		os.Exit(1)
	}
}

func run(out string) error {
	root, err := stack.RepoRoot(".")
	if err != nil {
		return err
	}
	cache, err := web.CacheDir()
	if err != nil {
		return err
	}
	site, err := web.Build(context.Background(), root, cache, os.Stderr)
	if err != nil {
		return err
	}
	if err := os.RemoveAll(out); err != nil {
		return err
	}
	n := 0
	err = filepath.WalkDir(site, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(site, p)
		if err != nil {
			return err
		}
		target := filepath.Join(out, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		n++
		return copyFile(p, target)
	})
	if err != nil {
		return err
	}
	fmt.Printf("build-site: %d files from %s into %s\n", n, site, out)
	return nil
}

func copyFile(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	o, err := os.Create(to)
	if err != nil {
		return err
	}
	if _, err := io.Copy(o, in); err != nil {
		o.Close()
		return err
	}
	return o.Close()
}
