package deploy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	k8syaml "k8s.io/apimachinery/pkg/util/yaml"
)

// HelmVersion is the pinned Helm the chart is rendered with.
const HelmVersion = "v3.22.0"

// KubeVersion is the Kubernetes version helm template renders for (Knative
// 1.15 needs 1.28 or later).
const KubeVersion = "1.30.0"

// Namespace is the release's namespace in the tests.
const Namespace = "sportello"

func root(t testing.TB) string {
	t.Helper()
	r, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// workspaceEnv is the environment for go commands run in the workspace:
// this module runs with GOWORK=off, they must not.
func workspaceEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "GOWORK=") || strings.HasPrefix(kv, "GOFLAGS=") {
			continue
		}
		env = append(env, kv)
	}
	return append(append(env, "GOFLAGS=-buildvcs=false"), extra...)
}

func cacheDir() (string, error) {
	if d := os.Getenv("XDG_CACHE_HOME"); d != "" {
		return filepath.Join(d, "sportello"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(home, ".cache", "sportello"), nil
}

var (
	helmOnce sync.Once
	helmPath string
	helmErr  error
)

// helm returns the pinned Helm binary, built once with go install into
// the tool cache (the layout of local/tools), under a lock so that
// parallel test binaries build it once.
func helm(t testing.TB) string {
	t.Helper()
	helmOnce.Do(func() { helmPath, helmErr = ensureHelm() })
	if helmErr != nil {
		t.Fatal(helmErr)
	}
	return helmPath
}

func ensureHelm() (string, error) {
	if p := os.Getenv("SPORTELLO_HELM"); p != "" {
		return p, nil
	}
	return ensureTool("helm", HelmVersion, func(dir string) error {
		cmd := exec.Command("go", "install", "helm.sh/helm/v3/cmd/helm@"+HelmVersion)
		cmd.Dir = dir
		cmd.Env = append(workspaceEnv(), "GOWORK=off", "GOBIN="+dir, "CGO_ENABLED=0")
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		return cmd.Run()
	})
}

// ensureTool returns the path of the binary name at version in the tool
// cache ($XDG_CACHE_HOME/sportello/tools/<name>-<version>/<name>). When it
// is not there, build writes it into dir (a scratch folder in the cache)
// as dir/<name>, once, under a lock so that parallel test binaries build it
// once.
func ensureTool(name, version string, build func(dir string) error) (string, error) {
	cache, err := cacheDir()
	if err != nil {
		return "", err
	}
	dir := filepath.Join(cache, "tools")
	path := filepath.Join(dir, name+"-"+version, name)
	if fi, err := os.Stat(path); err == nil && fi.Mode()&0o111 != 0 {
		return path, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	lf, err := os.OpenFile(filepath.Join(dir, name+"-"+version+".lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return "", err
	}
	defer lf.Close()
	for {
		err = syscall.Flock(int(lf.Fd()), syscall.LOCK_EX)
		if !errors.Is(err, syscall.EINTR) {
			break
		}
	}
	if err != nil {
		return "", err
	}
	defer syscall.Flock(int(lf.Fd()), syscall.LOCK_UN)
	if _, err := os.Stat(path); err == nil {
		return path, nil
	}
	scratch, err := os.MkdirTemp(dir, ".build-"+name+"-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(scratch)
	fmt.Fprintf(os.Stderr, "deploy: building %s %s once into %s…\n", name, version, filepath.Dir(path))
	start := time.Now()
	if err := build(scratch); err != nil {
		return "", fmt.Errorf("building %s %s: %w", name, version, err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return "", err
	}
	if err := os.Rename(filepath.Join(scratch, name), path); err != nil {
		return "", err
	}
	fmt.Fprintf(os.Stderr, "deploy: built %s %s in %s\n", name, version, time.Since(start).Round(time.Second))
	return path, nil
}

// Object is one rendered document.
type Object struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		Name        string            `json:"name"`
		Namespace   string            `json:"namespace"`
		Annotations map[string]string `json:"annotations"`
	} `json:"metadata"`
	Raw []byte `json:"-"` // the document as JSON
}

func (o Object) String() string { return o.Kind + "/" + o.Metadata.Name }

// helmTemplate renders the chart with args (-f, --set ...) and returns
// the objects, or helm's error output.
func helmTemplate(t testing.TB, args ...string) ([]Object, error) {
	t.Helper()
	r := root(t)
	all := append([]string{"template", "sportello", filepath.Join(r, "charts", "sportello"),
		"--namespace", Namespace, "--kube-version", KubeVersion}, args...)
	cmd := exec.Command(helm(t), all...)
	cmd.Dir = r
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("helm %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	dec := k8syaml.NewYAMLOrJSONDecoder(&stdout, 4096)
	var out []Object
	for {
		var doc map[string]any
		if err := dec.Decode(&doc); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return nil, fmt.Errorf("decoding helm's output: %w", err)
		}
		if doc == nil {
			continue
		}
		raw, err := json.Marshal(doc)
		if err != nil {
			return nil, err
		}
		var o Object
		if err := json.Unmarshal(raw, &o); err != nil {
			return nil, err
		}
		o.Raw = raw
		out = append(out, o)
	}
	return out, nil
}

// strictDecode decodes o into v, refusing fields v's type does not have
// (a misspelt field would be silently dropped by the API server).
func strictDecode(o Object, v any) error {
	dec := json.NewDecoder(bytes.NewReader(o.Raw))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}
