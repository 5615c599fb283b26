package apitest

import (
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/sportello/sportello/functions/manifest"
)

// TestOpenAPIDocument checks that the document is a valid OpenAPI 3.1
// document whose problem answers all use the one Problem schema.
func TestOpenAPIDocument(t *testing.T) {
	a := OpenAPI(t)
	if !strings.HasPrefix(a.Doc.OpenAPI, "3.1.") {
		t.Errorf("openapi: %q, want 3.1.x", a.Doc.OpenAPI)
	}
	if err := a.Doc.Validate(t.Context()); err != nil {
		t.Fatalf("%s is not valid OpenAPI: %v", OpenAPIPath, err)
	}
	problem := a.Doc.Components.Schemas["Problem"]
	if problem == nil {
		t.Fatal("no Problem schema")
	}
	for path, item := range a.Doc.Paths.Map() {
		for method, op := range item.Operations() {
			for code, resp := range op.Responses.Map() {
				if code < "400" {
					continue
				}
				content := resp.Value.Content
				mt := content.Get("application/problem+json")
				if len(content) != 1 || mt == nil || mt.Schema == nil || mt.Schema.Value != problem.Value {
					t.Errorf("%s %s %s: a problem answer must be application/problem+json of the Problem schema", method, path, code)
				}
			}
		}
	}
}

// TestOpenAPIRoutes checks that the document and the functions have the
// same routes: every route prefix of functions/manifest has operations in
// the document and every documented path is under one, and every pattern
// a function's ServeMux registers ("METHOD /path") is an operation of the
// document and the other way round.
func TestOpenAPIRoutes(t *testing.T) {
	a := OpenAPI(t)
	documented := map[string]bool{} // "METHOD /path/{}"
	var paths []string
	for path, item := range a.Doc.Paths.Map() {
		paths = append(paths, path)
		for method := range item.Operations() {
			documented[method+" "+normalize(path)] = true
		}
		if _, ok := manifest.Route(path); !ok {
			t.Errorf("%s: no function of functions/manifest serves it", path)
		}
	}
	for _, f := range manifest.Functions {
		for _, prefix := range f.Routes {
			if !slices.ContainsFunc(paths, func(p string) bool { return p == prefix || strings.HasPrefix(p, prefix+"/") }) {
				t.Errorf("%s: the route %s of functions/manifest has no operation in %s", f.Name, prefix, OpenAPIPath)
			}
		}
	}

	served := patterns(t)
	if len(served) < 40 {
		t.Fatalf("found only %d routes in the functions' sources: is the search still right?", len(served))
	}
	for p, where := range served {
		if !documented[p] {
			t.Errorf("%s (%s) is not in %s", p, where, OpenAPIPath)
		}
	}
	for p := range documented {
		if _, ok := served[p]; !ok {
			t.Errorf("%s is in %s but no function serves it", p, OpenAPIPath)
		}
	}
}

var (
	// handleFunc is a ServeMux pattern with a method.
	handleFunc = regexp.MustCompile(`HandleFunc\("(GET|POST|PUT|PATCH|DELETE) (/api/[^"]*)"`)
	// adminAdd is one of the administration's routes, under its Prefix.
	adminAdd = regexp.MustCompile(`\badd\("(GET|POST|PUT|PATCH|DELETE) (/[^"]*)"`)
	param    = regexp.MustCompile(`\{[^}]*\}`)
)

// patterns reads the routes every function's sources register, "METHOD
// /path/{}", with the file that registers each.
func patterns(t *testing.T) map[string]string {
	t.Helper()
	functions := filepath.Join(RepoRoot(), "functions")
	files, err := filepath.Glob(filepath.Join(functions, "*", "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	found := map[string]string{}
	for _, file := range files {
		if strings.HasSuffix(file, "_test.go") {
			continue
		}
		src, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		rel, _ := filepath.Rel(functions, file)
		for _, m := range handleFunc.FindAllStringSubmatch(string(src), -1) {
			found[m[1]+" "+normalize(m[2])] = rel
		}
		if filepath.Base(filepath.Dir(file)) == "admin" {
			for _, m := range adminAdd.FindAllStringSubmatch(string(src), -1) {
				found[m[1]+" "+normalize("/api/operator/admin"+m[2])] = rel
			}
		}
	}
	return found
}

// normalize names every path parameter {}.
func normalize(path string) string { return param.ReplaceAllString(path, "{}") }

// TestValidatedRefuses checks that the validator does find disagreements.
func TestValidatedRefuses(t *testing.T) {
	a := OpenAPI(t)
	r, _ := http.NewRequest(http.MethodGet, "/api/offices", nil)
	header := http.Header{"Content-Type": {"application/json"}}
	if err := Conforms(t, r, true, http.StatusOK, header, []byte(`{"offices":[]}`+"\n")); err != nil {
		t.Errorf("a valid answer: %v", err)
	}
	for _, c := range []struct {
		name   string
		status int
		body   string
	}{
		{"a member too many", 200, `{"offices":[],"more":1}`},
		{"a member missing", 200, `{}`},
		{"an undocumented status", 201, `{"offices":[]}`},
	} {
		if err := Conforms(t, r, true, c.status, header, []byte(c.body)); err == nil {
			t.Errorf("%s: no error", c.name)
		}
	}
	r, _ = http.NewRequest(http.MethodGet, "/api/nowhere", nil)
	if err := Conforms(t, r, true, http.StatusOK, header, []byte(`{}`)); err == nil {
		t.Error("an undocumented route answered 200: no error")
	}
	if a.Doc.Components.Schemas["Problem"].Value.VisitJSON(map[string]any{"type": "x"}, openapi3.EnableJSONSchema2020()) == nil {
		t.Error("an incomplete problem passed the Problem schema")
	}
}
