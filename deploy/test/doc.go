// Package deploy holds the deployment tests of Sportello (no cluster
// needed): the Helm chart in charts/sportello rendered by a pinned Helm,
// every object decoded into its Knative, Gateway API or Kubernetes Go type
// and validated as the cluster's webhooks would; the Triggers, Knative
// Services, SinkBindings, HTTPRoutes and PingSource compared with the
// function manifest (functions/manifest); the chart's values checked
// against values.schema.json; skaffold.yaml's artifacts compared with the
// manifest; and every function built with CGO_ENABLED=0, its size reported.
//
// This module is outside the go.work workspace (its Knative and Kubernetes
// dependencies must not move the functions' versions): run it with
//
//	cd deploy/test && GOWORK=off go test ./...
//
// It reads the manifest by running functions/manifest/cmd/manifest-json in
// the workspace, and builds Helm once into the tool cache
// ($XDG_CACHE_HOME/sportello/tools/helm-<version>/helm).
package deploy
