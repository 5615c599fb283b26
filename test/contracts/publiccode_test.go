package contracts

import (
	"errors"
	"path/filepath"
	"testing"

	publiccode "github.com/italia/publiccode-parser-go/v5"
)

// TestPubliccodeYml checks publiccode.yml with the standard's own parser,
// the one the Developers Italia catalogue runs: every field's type and
// rule (required fields, lengths of the descriptions, categories and scopes
// from the standard's lists, SPDX licence, BCP 47 languages, the IT
// section). The network checks are off, so the test runs offline: that the
// URLs answer and that url is a reachable repository are left to the
// catalogue's crawler. Any warning fails too.
func TestPubliccodeYml(t *testing.T) {
	root := repoRoot(t)
	p, err := publiccode.NewParser(publiccode.ParserConfig{DisableNetwork: true, BaseURL: root})
	if err != nil {
		t.Fatal(err)
	}
	pc, err := p.Parse(filepath.Join(root, "publiccode.yml"))
	var results publiccode.ValidationResults
	if errors.As(err, &results) {
		for _, r := range results {
			t.Errorf("publiccode.yml: %s", r)
		}
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	v0, ok := pc.(publiccode.PublicCodeV0)
	if !ok {
		t.Fatalf("parsed as %T, want the current standard (v0)", pc)
	}
	for _, lang := range []string{"it", "en"} {
		if d, ok := v0.Description[lang]; !ok || d.Features == nil || len(*d.Features) == 0 {
			t.Errorf("no %s description with features", lang)
		}
	}
}
