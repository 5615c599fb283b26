// Command regen rewrites what is generated from the function manifest
// (functions/manifest): the chart's charts/sportello/files/manifest.json
// and skaffold.yaml's artifacts and setValueTemplates. Run it after adding
// or renaming a function, from deploy/test:
//
//	GOWORK=off go run ./cmd/regen
//
// The deploy tests fail, naming this command, until the files match.
package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"text/template"

	"github.com/sportello/sportello/functions/manifest"
)

const skaffold = `# Skaffold: builds every function of functions/manifest with ko into a
# static, non-root image (distroless static, uid 65532) and deploys the Helm
# chart with those images. One artifact per function, the migrations and the
# site (deploy/test checks that the list matches the manifest exactly).
#
#   skaffold dev -p dev                       # kind cluster: build, load, deploy, watch
#   skaffold run -p production --default-repo registry.comune.bari.it/sportello --platform=linux/amd64,linux/arm64
#
# See docs/deploy.md.
apiVersion: skaffold/v4beta11
kind: Config
metadata:
  name: sportello
build:
  tagPolicy:
    gitCommit:
      variant: AbbrevCommitSha
  artifacts:
{{- range .Names }}
    - image: sportello/{{ . }}
      ko:
        dir: .
        main: ./functions/{{ . }}
        fromImage: gcr.io/distroless/static-debian12:nonroot
        env: [CGO_ENABLED=0]
        flags: [-trimpath]
        ldflags: [-s, -w]
        dependencies:
          paths: [functions/{{ . }}/**, functions/internal/**, functions/manifest/**, events/**, functions/go.mod, functions/go.sum]
{{- end }}
    # The website: functions/site serves the built web/ that ` + "`make site`" + ` copies
    # into its kodata folder (ko packs it at $KO_DATA_PATH).
    - image: sportello/{{ .Site }}
      hooks:
        before:
          - command: [make, site]
      ko:
        dir: .
        main: ./functions/{{ .Site }}
        fromImage: gcr.io/distroless/static-debian12:nonroot
        env: [CGO_ENABLED=0]
        flags: [-trimpath]
        ldflags: [-s, -w]
        dependencies:
          paths: [functions/{{ .Site }}/**, functions/sitehttp/**, web/src/**, web/build.mjs, web/openapi-page.mjs, web/package.json, web/package-lock.json]
deploy:
  helm:
    releases:
      - name: sportello
        chartPath: charts/sportello
        namespace: sportello
        createNamespace: true
        wait: true
        valuesFiles:
          - charts/sportello/values.yaml
        setValueTemplates:
{{- range .Functions }}
          functions.{{ . }}.image: "{{ "{{" }}.IMAGE_FULLY_QUALIFIED_sportello_{{ sanitize . }}{{ "}}" }}"
{{- end }}
          migrations.image: "{{ "{{" }}.IMAGE_FULLY_QUALIFIED_sportello_{{ sanitize .Migrate }}{{ "}}" }}"
          site.image: "{{ "{{" }}.IMAGE_FULLY_QUALIFIED_sportello_{{ sanitize .Site }}{{ "}}" }}"
profiles:
  # A local kind cluster (infra/kind): images are loaded into the nodes, not
  # pushed; the demo offices and operators are loaded.
  - name: dev
    activation:
      - kubeContext: kind-sportello
    build:
      local:
        push: false
        concurrency: 2
    patches:
      - op: add
        path: /deploy/helm/releases/0/setValues
        value:
          migrations.demo: true
          config.LOG_LEVEL: debug
  # A municipality's cluster: images pushed to --default-repo (add
  # --platform=linux/amd64,linux/arm64 for both), deployed by digest with the
  # production values.
  - name: production
    build:
      local:
        push: true
        concurrency: 2
    patches:
      - op: add
        path: /deploy/helm/releases/0/valuesFiles/-
        value: charts/sportello/values-production.yaml
`

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "regen:", err)
		os.Exit(1)
	}
}

func run() error {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		return err
	}
	files, err := render()
	if err != nil {
		return err
	}
	for path, data := range files {
		if err := os.WriteFile(filepath.Join(root, path), data, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// render answers what regen writes: each file's path from the
// repository's root, and its content.
func render() (map[string][]byte, error) {
	m := manifest.NewDocument()
	out, err := m.JSON()
	if err != nil {
		return nil, err
	}
	data := struct {
		Migrate   string
		Site      string
		Functions []string
		Names     []string
	}{Migrate: m.Migrate, Site: m.Site}
	for _, f := range m.Functions {
		data.Functions = append(data.Functions, f.Name)
	}
	data.Names = append(append([]string{}, data.Functions...), m.Migrate)
	t, err := template.New("skaffold").Funcs(template.FuncMap{
		"sanitize": strings.NewReplacer("/", "_", "-", "_", ".", "_").Replace,
	}).Parse(skaffold)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := t.Execute(&buf, data); err != nil {
		return nil, err
	}
	return map[string][]byte{
		filepath.Join("charts", "sportello", "files", "manifest.json"): out,
		"skaffold.yaml": buf.Bytes(),
	}, nil
}
