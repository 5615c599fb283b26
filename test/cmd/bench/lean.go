package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/sportello/sportello/functions/manifest"
)

// distroless is the size of the base image the functions ship on
// (gcr.io/distroless/static-debian12:nonroot, compressed), added to each
// binary for the image's size.
const distroless = 2 << 20

// lean starts every function with no work to do and reports its binary,
// its image, its idle memory and its start-to-ready time.
func lean(c config, root, bins, tmp string) error {
	db, err := startPostgres(filepath.Join(tmp, "lean"))
	if err != nil {
		return err
	}
	defer db.Stop()
	url, err := db.fresh(bins, "lean")
	if err != nil {
		return err
	}
	fmt.Printf("\n## Lean functions\n\nEach function as it ships (static, stripped: `CGO_ENABLED=0 go build -trimpath -ldflags='-s -w'`), started with no work to do; " +
		"the image is the binary on distroless/static (about 2 MiB).\n\n")
	env := []string{"DATABASE_URL=" + url, "LIVEKIT_URL=ws://127.0.0.1:1", "LIVEKIT_API_KEY=k", "LIVEKIT_API_SECRET=s",
		"S3_ENDPOINT=http://127.0.0.1:1", "S3_ACCESS_KEY=k", "S3_SECRET_KEY=s", "S3_BUCKET=b", "SMTP_HOST=127.0.0.1", "SMTP_PORT=1",
		"MAIL_FROM=Sportello <noreply@example.it>", "PUBLIC_URL=http://127.0.0.1", "COOKIE_SECURE=false",
		"CLIENT_KEY=" + strings.Repeat("bench-client-key-", 2)}
	// The floor is measured before and after the functions: the machine's
	// speed drifts within a run.
	exit0, floor0, err := floors(bins, env)
	if err != nil {
		return err
	}
	type row struct {
		name        string
		binary, rss int64
		ready       time.Duration
	}
	var rows []row
	for _, f := range manifest.Functions {
		st, err := os.Stat(filepath.Join(bins, f.Name))
		if err != nil {
			return err
		}
		var ready time.Duration
		var rss int64
		for i := 0; i < 3; i++ { // the best of three: the first pays for the page cache
			p, err := start(bins, f.Name, env...)
			if err != nil {
				return err
			}
			time.Sleep(300 * time.Millisecond)
			if r := p.rss(); rss == 0 || r < rss {
				rss = r
			}
			if ready == 0 || p.ready < ready {
				ready = p.ready
			}
			p.stop()
		}
		rows = append(rows, row{f.Name, st.Size(), rss, ready})
	}
	exit1, floor1, err := floors(bins, env)
	if err != nil {
		return err
	}
	floor := min(floor0, floor1)
	fmt.Printf("The floor, measured the same way before and after the functions (`functions/internal/cmd/bare-ready`, the best of three each time): "+
		"a Go program with net/http and pgx that serves readiness once PostgreSQL has answered a ping, **%s and %s** from exec to a 200 on readiness; "+
		"the same program exiting as main begins (exec, the Go runtime, the packages' init), %s and %s from exec to exit. "+
		"A function's start to ready above the lower of the two floors is what it adds: its configuration, telemetry, relay and handler.\n\n",
		ms(floor0), ms(floor1), ms(exit0), ms(exit1))
	fmt.Println("| function | binary | image | idle RSS | start to ready | over the floor |")
	fmt.Println("|---|---:|---:|---:|---:|---:|")
	for _, r := range rows {
		fmt.Printf("| %s | %s | %s | %s | %s | %+.1f ms |\n", r.name, mib(r.binary), mib(r.binary+distroless), mib(r.rss), ms(r.ready),
			float64((r.ready-floor).Microseconds())/1000)
	}
	return nil
}

// floors measures bare-ready as the functions are measured, the best of
// three: from exec to exit when it exits as main begins, and from exec to
// a 200 on readiness once PostgreSQL has answered its ping.
func floors(bins string, env []string) (exit, ready time.Duration, err error) {
	for i := 0; i < 3; i++ {
		cmd := exec.Command(filepath.Join(bins, "bare-ready"))
		cmd.Env = append(os.Environ(), "BARE_READY_EXIT=1")
		t0 := time.Now()
		if err := cmd.Run(); err != nil {
			return 0, 0, fmt.Errorf("bare-ready: %w", err)
		}
		if d := time.Since(t0); exit == 0 || d < exit {
			exit = d
		}
		p, err := start(bins, "bare-ready", env...)
		if err != nil {
			return 0, 0, err
		}
		if ready == 0 || p.ready < ready {
			ready = p.ready
		}
		p.stop()
	}
	return exit, ready, nil
}
