// Package deploy holds the deployment tests of Sportello (no cluster with
// nodes needed): the Helm chart in charts/sportello rendered by a pinned Helm,
// every object decoded into its Knative, Gateway API or Kubernetes Go type
// and validated as the cluster's webhooks would; the Triggers, Knative
// Services, SinkBindings, HTTPRoutes and PingSource compared with the
// function manifest (functions/manifest); the chart's values checked
// against values.schema.json; skaffold.yaml's artifacts compared with the
// manifest; and every function built with CGO_ENABLED=0, its size reported.
//
// TestKube applies the chart to a real kube-apiserver (etcd behind it) with
// the CRDs of the Knative and Gateway API releases infra/knative installs
// (and the Prometheus Operator's ServiceMonitor, PodMonitor and
// PrometheusRule, for the chart's monitoring) and Knative Serving's and Eventing's admission webhooks running out of
// cluster: every profile installed by server-side apply with strict field
// validation (a warning fails it), read back, uninstalled; an upgrade
// through several value sets; the EventTypes compared with the event
// catalog; docs/deploy.md's Trigger. kube-apiserver and etcd are pinned by
// the wrapper modules in tools/, the webhooks by this module's go.mod (tool
// directives); all are built once into the tool cache.
//
// This module is outside the go.work workspace (its Knative and Kubernetes
// dependencies must not move the functions' versions): run it with
//
//	cd deploy/test && GOWORK=off go test ./...
//
// It imports package manifest from the functions module (a replace to
// ../../functions, as local and test do), so the functions' versions of
// the dependencies they share with Knative apply here too: after changing
// functions/go.mod, run `GOWORK=off go mod tidy` here as well.
//
// The alerts' and dashboards' PromQL is parsed by tools/promql, a module of
// its own pinning Prometheus's parser (its dependencies would move this
// module's Kubernetes versions), and checked against the one list of
// metrics in metrics_test.go.
//
// It takes the manifest from package manifest (manifest.Document, which
// the chart embeds as files/manifest.json), and builds Helm once into the
// tool cache ($XDG_CACHE_HOME/sportello/tools/helm-<version>/helm).
package deploy
