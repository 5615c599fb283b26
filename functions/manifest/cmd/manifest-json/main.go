// Command manifest-json prints the function manifest and the event catalog
// as JSON (manifest.Document), for what is not Go: the Helm chart embeds
// its output as charts/sportello/files/manifest.json (regenerate it with
// `go run ./functions/manifest/cmd/manifest-json > charts/sportello/files/manifest.json`,
// or from deploy/test with `GOWORK=off go run ./cmd/regen`).
//
// Durations are ISO 8601 (PT1S), as Knative's delivery spec writes them.
//
// Consumes: nothing. Emits: nothing.
package main

import (
	"fmt"
	"os"

	"github.com/sportello/sportello/functions/manifest"
)

func main() {
	b, err := manifest.NewDocument().JSON()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Stdout.Write(b)
}
