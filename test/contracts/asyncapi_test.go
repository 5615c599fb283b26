package contracts

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/sportello/sportello/events"
	"github.com/sportello/sportello/local/stack"
	"github.com/sportello/sportello/local/syncbuf"
	"github.com/sportello/sportello/local/web"
)

// repoRoot is the repository holding this package (test/contracts).
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := stack.RepoRoot(".")
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// TestAsyncAPIDocumentParses runs the AsyncAPI project's parser
// (@asyncapi/parser, pinned in asyncapi/package-lock.json and installed like
// the site's packages) on events/asyncapi.json: no error and no warning, and
// the parsed document has a channel for every catalogued event type.
// functions/manifest/cmd/asyncapi's own test checks that the document is the
// generator's current output.
func TestAsyncAPIDocumentParses(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node is not on PATH")
	}
	if _, err := exec.LookPath("npm"); err != nil {
		t.Skip("npm is not on PATH")
	}
	root := repoRoot(t)
	cache, err := web.CacheDir()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	var log syncbuf.Buffer
	modules, err := web.NodeModulesOf(ctx, filepath.Join(root, "test", "contracts", "asyncapi"), cache, &log)
	if err != nil {
		t.Fatalf("installing @asyncapi/parser: %v\n%s", err, log.String())
	}
	cmd := exec.CommandContext(ctx, node, filepath.Join("asyncapi", "validate.mjs"), filepath.Join(root, "events", "asyncapi.json"))
	cmd.Env = append(os.Environ(), "SPORTELLO_NODE_MODULES="+modules, "NO_COLOR=1")
	cmd.Stderr = &log
	out, err := cmd.Output()
	var got struct {
		Error, Warning, Information, Hint []string
		Channels, Operations, Messages    []string
	}
	if jerr := json.Unmarshal(out, &got); jerr != nil {
		t.Fatalf("node asyncapi/validate.mjs: %v, %v\n%s\n%s", err, jerr, out, log.String())
	}
	if err != nil || len(got.Error)+len(got.Warning) > 0 {
		t.Fatalf("the AsyncAPI parser finds fault with events/asyncapi.json (%v):\nerrors:\n%s\nwarnings:\n%s",
			err, cmp.Diff(nil, got.Error), cmp.Diff(nil, got.Warning))
	}
	for _, d := range append(got.Information, got.Hint...) {
		t.Logf("parser: %s", d)
	}

	want := []string{events.Ping}
	for _, typ := range events.Catalog {
		want = append(want, typ.Name)
	}
	sort.Strings(want)
	if diff := cmp.Diff(want, got.Channels); diff != "" {
		t.Errorf("channels of the parsed document (-catalog +document):\n%s", diff)
	}
	if len(got.Messages) != 2*len(events.Catalog)+1 {
		t.Errorf("%d messages, want a binary and a structured one per type and the ping: %v", len(got.Messages), got.Messages)
	}
	t.Logf("%d channels, %d operations, %d messages", len(got.Channels), len(got.Operations), len(got.Messages))
}
