package events_test

import (
	"encoding/json"
	"io/fs"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/sportello/sportello/events"
)

type schema struct {
	Title                string                     `json:"title"`
	Type                 string                     `json:"type"`
	AdditionalProperties *bool                      `json:"additionalProperties"`
	Required             []string                   `json:"required"`
	Properties           map[string]json.RawMessage `json:"properties"`
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// TestSchemasMatchPayloads: every catalogued type has a schema whose
// properties and required fields are exactly the JSON fields of its Go
// payload, so the two cannot drift apart.
func TestSchemasMatchPayloads(t *testing.T) {
	for _, typ := range events.Catalog {
		t.Run(typ.Name, func(t *testing.T) {
			raw, err := fs.ReadFile(events.Schemas, "schemas/"+typ.SchemaFile)
			if err != nil {
				t.Fatal(err)
			}
			var s schema
			if err := json.Unmarshal(raw, &s); err != nil {
				t.Fatalf("schema is not JSON: %v", err)
			}
			if s.Title != typ.Name || s.Type != "object" || s.AdditionalProperties == nil || *s.AdditionalProperties {
				t.Fatalf("schema header: title %q type %q additionalProperties %v", s.Title, s.Type, s.AdditionalProperties)
			}
			payload, err := json.Marshal(typ.Example)
			if err != nil {
				t.Fatal(err)
			}
			var fields map[string]any
			if err := json.Unmarshal(payload, &fields); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(keys(fields), keys(s.Properties)); diff != "" {
				t.Errorf("payload fields vs schema properties (-go +schema):\n%s", diff)
			}
			req := append([]string(nil), s.Required...)
			sort.Strings(req)
			if diff := cmp.Diff(keys(fields), req); diff != "" {
				t.Errorf("payload fields vs required (-go +schema):\n%s", diff)
			}
			if !strings.HasSuffix(typ.DataSchema(), "/"+typ.SchemaFile) {
				t.Errorf("dataschema %q does not name %s", typ.DataSchema(), typ.SchemaFile)
			}
		})
	}
}

// TestTypesAreVersionedReverseDNS: io.github.sportello.<entity>.<verb>.v<N>.
func TestTypesAreVersionedReverseDNS(t *testing.T) {
	seen := map[string]bool{}
	for _, typ := range events.Catalog {
		parts := strings.Split(typ.Name, ".")
		if len(parts) != 6 || strings.Join(parts[:3], ".") != "io.github.sportello" || !strings.HasPrefix(parts[5], "v") {
			t.Errorf("type %q is not io.github.sportello.<entity>.<verb>.v<N>", typ.Name)
		}
		if seen[typ.Name] {
			t.Errorf("type %q listed twice", typ.Name)
		}
		seen[typ.Name] = true
		if got, ok := events.Lookup(typ.Name); !ok || got.SchemaFile != typ.SchemaFile {
			t.Errorf("Lookup(%q) = %v, %v", typ.Name, got, ok)
		}
	}
	if _, ok := events.Lookup("io.github.sportello.unknown.v1"); ok {
		t.Error("Lookup found an unknown type")
	}
}

// TestEverySchemaIsCatalogued: no orphan schema files.
func TestEverySchemaIsCatalogued(t *testing.T) {
	files, err := fs.Glob(events.Schemas, "schemas/*.json")
	if err != nil {
		t.Fatal(err)
	}
	catalogued := map[string]bool{}
	for _, typ := range events.Catalog {
		catalogued["schemas/"+typ.SchemaFile] = true
	}
	for _, f := range files {
		if !catalogued[f] {
			t.Errorf("%s is not in the catalog", f)
		}
	}
}
