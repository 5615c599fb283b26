package services

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// DefaultScrapeInterval is how often the local VictoriaMetrics scrapes its
// targets.
const DefaultScrapeInterval = 2 * time.Second

// VictoriaMetrics is a VictoriaMetrics single-node server on 127.0.0.1: a
// metrics store with the Prometheus query API (/api/v1/query) and a UI
// (/vmui) that scrapes the targets listed in the file_sd files of its
// targets folder (TargetsDir), re-read every second.
type VictoriaMetrics struct {
	Port           int           // the HTTP API and UI; 0: a free port
	Dir            string        // its data, scrape configuration and targets folder (required)
	ScrapeInterval time.Duration // DefaultScrapeInterval when 0
	Retention      string        // how long samples are kept (-retentionPeriod); "7d" when ""
	Bin            string        // the victoria-metrics binary; the pinned build when ""
	Log            io.Writer     // its output; nil discards it

	base
}

// TargetsDir is the folder of file_sd target files (*.json) it scrapes.
func (v *VictoriaMetrics) TargetsDir() string { return filepath.Join(v.Dir, "targets") }

// ScrapeConfig is the Prometheus-style scrape configuration Start writes.
func (v *VictoriaMetrics) ScrapeConfig() string {
	interval := v.ScrapeInterval
	if interval <= 0 {
		interval = DefaultScrapeInterval
	}
	return fmt.Sprintf(`# Written by the Sportello local stack: scrape every target listed in the targets folder.
global:
  scrape_interval: %s
scrape_configs:
  - job_name: sportello
    file_sd_configs:
      - files: [%q]
`, interval, filepath.Join(v.TargetsDir(), "*.json"))
}

// Start writes the scrape configuration, starts VictoriaMetrics and waits
// until it answers /health.
func (v *VictoriaMetrics) Start(ctx context.Context) error {
	return withFreePorts([]*int{&v.Port}, func() error { return v.start(ctx) })
}

func (v *VictoriaMetrics) start(ctx context.Context) error {
	if v.Dir == "" {
		return errors.New("victoria-metrics: no data folder")
	}
	bin, err := prepare("victoria-metrics", v.Bin, "victoria-metrics", &v.Port)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(v.TargetsDir(), 0o755); err != nil {
		return err
	}
	conf, err := writeConfig(v.Dir, "scrape.yaml", v.ScrapeConfig())
	if err != nil {
		return err
	}
	retention := v.Retention
	if retention == "" {
		retention = "7d"
	}
	args := []string{
		"-httpListenAddr=127.0.0.1:" + strconv.Itoa(v.Port),
		"-storageDataPath=" + filepath.Join(v.Dir, "data"),
		"-retentionPeriod=" + retention,
		"-promscrape.config=" + conf,
		"-promscrape.fileSDCheckInterval=1s",
		// A sample is visible to queries at once, not 30s later: locally
		// one wants to see the booking just made.
		"-search.latencyOffset=0s",
		"-loggerLevel=WARN",
	}
	return v.launch(ctx, command{name: "victoria-metrics", bin: bin, args: args, log: v.Log}, v.URL()+"/health")
}

// URL is the HTTP API's address: the Prometheus query API at /api/v1/query,
// the UI at /vmui.
func (v *VictoriaMetrics) URL() string { return "http://127.0.0.1:" + strconv.Itoa(v.Port) }

// Env is METRICS_URL and METRICS_TARGETS_DIR.
func (v *VictoriaMetrics) Env() []string {
	return []string{"METRICS_URL=" + v.URL(), "METRICS_TARGETS_DIR=" + v.TargetsDir()}
}

// TargetGroup is one entry of a file_sd target file: the addresses
// (host:port, scraped at /metrics) and the labels their series get.
type TargetGroup struct {
	Targets []string          `json:"targets"`
	Labels  map[string]string `json:"labels,omitempty"`
}

// WriteTargets writes groups to <dir>/<name>.json, replacing it at once (a
// rename), so that the scraper never reads half a file.
func WriteTargets(dir, name string, groups []TargetGroup) error {
	if groups == nil {
		groups = []TargetGroup{}
	}
	data, err := json.MarshalIndent(groups, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, "."+name+"-*.tmp")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(append(data, '\n')); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), TargetsFile(dir, name))
}

// TargetsFile is the file WriteTargets writes for name.
func TargetsFile(dir, name string) string { return filepath.Join(dir, name+".json") }
