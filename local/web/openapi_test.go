package web

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestAPIReference: the site serves the OpenAPI document at
// /sviluppatori/openapi.yaml as it is in the repository, and the page
// /sviluppatori/ renders every one of its operations.
func TestAPIReference(t *testing.T) {
	needNode(t)
	root := repoRoot(t)
	site, _, _ := buildFresh(t, root)
	src, err := os.ReadFile(filepath.Join(root, "web", "src", "sviluppatori", "openapi.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	served, err := os.ReadFile(filepath.Join(site, "sviluppatori", "openapi.yaml"))
	if err != nil || string(served) != string(src) {
		t.Errorf("the site's /sviluppatori/openapi.yaml is not the repository's (%v)", err)
	}
	page, err := os.ReadFile(filepath.Join(site, "sviluppatori", "index.html"))
	if err != nil {
		t.Fatal(err)
	}
	ids := regexp.MustCompile(`(?m)^\s+operationId: (\S+)$`).FindAllStringSubmatch(string(src), -1)
	if len(ids) < 40 {
		t.Fatalf("only %d operations in openapi.yaml", len(ids))
	}
	for _, m := range ids {
		if !strings.Contains(string(page), `id="op-`+m[1]+`"`) {
			t.Errorf("the page /sviluppatori/ lacks the operation %s", m[1])
		}
	}
	if strings.Contains(string(page), "<!--#openapi-->") {
		t.Error("the page still holds its <!--#openapi--> marker")
	}
}
