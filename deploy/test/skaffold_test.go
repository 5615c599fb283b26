package deploy

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/sportello/sportello/functions/manifest"
	"sigs.k8s.io/yaml"
)

type skaffoldConfig struct {
	APIVersion string `json:"apiVersion"`
	Build      struct {
		Artifacts []struct {
			Image string `json:"image"`
			Ko    *struct {
				Dir       string   `json:"dir"`
				Main      string   `json:"main"`
				FromImage string   `json:"fromImage"`
				Env       []string `json:"env"`
			} `json:"ko"`
		} `json:"artifacts"`
	} `json:"build"`
	Deploy struct {
		Helm struct {
			Releases []struct {
				Name              string            `json:"name"`
				ChartPath         string            `json:"chartPath"`
				SetValueTemplates map[string]string `json:"setValueTemplates"`
			} `json:"releases"`
		} `json:"helm"`
	} `json:"deploy"`
	Profiles []struct {
		Name string `json:"name"`
	} `json:"profiles"`
}

// staticNonRoot are the base images accepted: static (no libc), non-root.
var staticNonRoot = []string{"gcr.io/distroless/static-debian12:nonroot", "gcr.io/distroless/static:nonroot", "cgr.dev/chainguard/static"}

// TestSkaffold: one ko artifact per function of the manifest (and the
// migrations and the site), nothing else, each on a static non-root base and set into
// the chart by setValueTemplates; dev and production profiles.
func TestSkaffold(t *testing.T) {
	m := manifest.NewDocument()
	b, err := os.ReadFile(filepath.Join(root(t), "skaffold.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var cfg skaffoldConfig
	if err := yaml.Unmarshal(b, &cfg); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(cfg.APIVersion, "skaffold/v4") {
		t.Errorf("apiVersion %q, want skaffold/v4…", cfg.APIVersion)
	}
	names := []string{m.Migrate, m.Site}
	for _, f := range m.Functions {
		names = append(names, f.Name)
	}
	sort.Strings(names)
	var got []string
	for _, a := range cfg.Build.Artifacts {
		name := strings.TrimPrefix(a.Image, "sportello/")
		got = append(got, name)
		if a.Ko == nil {
			t.Errorf("artifact %s: not built with ko", a.Image)
			continue
		}
		if a.Ko.Main != "./functions/"+name {
			t.Errorf("artifact %s: main %q, want ./functions/%s", a.Image, a.Ko.Main, name)
		}
		ok := false
		for _, base := range staticNonRoot {
			ok = ok || strings.HasPrefix(a.Ko.FromImage, base)
		}
		if !ok {
			t.Errorf("artifact %s: base image %q is not a static non-root one %v", a.Image, a.Ko.FromImage, staticNonRoot)
		}
		if !contains(a.Ko.Env, "CGO_ENABLED=0") {
			t.Errorf("artifact %s: env %v lacks CGO_ENABLED=0", a.Image, a.Ko.Env)
		}
	}
	sort.Strings(got)
	if diff := cmp.Diff(names, got); diff != "" {
		t.Errorf("skaffold.yaml's artifacts differ from the manifest (-manifest +skaffold); regenerate it:\n"+
			"  cd deploy/test && GOWORK=off go run ./cmd/regen\n%s", diff)
	}

	if len(cfg.Deploy.Helm.Releases) != 1 || cfg.Deploy.Helm.Releases[0].ChartPath != "charts/sportello" {
		t.Fatalf("deploy.helm.releases: want one release of charts/sportello")
	}
	want := map[string]string{
		"migrations.image": "{{.IMAGE_FULLY_QUALIFIED_sportello_" + sanitize(m.Migrate) + "}}",
		"site.image":       "{{.IMAGE_FULLY_QUALIFIED_sportello_" + sanitize(m.Site) + "}}",
	}
	for _, f := range m.Functions {
		want["functions."+f.Name+".image"] = "{{.IMAGE_FULLY_QUALIFIED_sportello_" + sanitize(f.Name) + "}}"
	}
	if diff := cmp.Diff(want, cfg.Deploy.Helm.Releases[0].SetValueTemplates); diff != "" {
		t.Errorf("setValueTemplates (-want +skaffold); cd deploy/test && GOWORK=off go run ./cmd/regen:\n%s", diff)
	}
	var profiles []string
	for _, p := range cfg.Profiles {
		profiles = append(profiles, p.Name)
	}
	if diff := cmp.Diff([]string{"dev", "production"}, profiles); diff != "" {
		t.Errorf("profiles (-want +got):\n%s", diff)
	}
}

// sanitize is skaffold's: "/" and "-" become "_" in template names.
func sanitize(s string) string { return strings.NewReplacer("/", "_", "-", "_", ".", "_").Replace(s) }

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
