package deploy

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// KnativeWebhook is one of Knative's admission webhooks, built from the
// module this module requires (the release infra/knative installs) and run
// out of cluster against the test's API server, as its Deployment runs it.
type KnativeWebhook struct {
	Name      string // the binary's name in the tool cache
	Module    string
	Package   string // its main package
	Namespace string // Knative's system namespace
	Service   string // WEBHOOK_NAME: the Service the webhook configurations call
	Metrics   string // METRICS_DOMAIN
}

// KnativeWebhooks are Serving's and Eventing's webhooks.
var KnativeWebhooks = []KnativeWebhook{
	{"knative-serving-webhook", "knative.dev/serving", "knative.dev/serving/cmd/webhook", "knative-serving", "webhook", "knative.dev/internal/serving"},
	{"knative-eventing-webhook", "knative.dev/eventing", "knative.dev/eventing/cmd/webhook", "knative-eventing", "eventing-webhook", "knative.dev/eventing"},
}

// startKnativeWebhooks installs what Knative's webhooks need (their
// namespace, ConfigMaps, certificate Secret and webhook configurations from
// the release's config/core), builds and starts them, routes their Service
// to them and waits until the API server calls them. The API server
// resolves a webhook's Service through its EndpointSlice
// (--enable-aggregator-routing), which may not hold a loopback address: the
// webhooks listen on the machine's first non-loopback IPv4 address. It
// returns why the webhooks cannot run here, or "" once they answer.
func (k *Kube) startKnativeWebhooks(t *testing.T) string {
	t.Helper()
	ip, err := hostIPv4()
	if err != nil {
		return err.Error()
	}
	var paths []string
	for _, w := range KnativeWebhooks {
		paths = append(paths, w.Module)
	}
	mods := moduleDirs(t, paths...)
	kubeconfig := k.writeKubeconfig(t)
	ctx := context.Background()
	for _, w := range KnativeWebhooks {
		dir, version := mods[w.Module][0], mods[w.Module][1]
		bin, err := ensureTool(w.Name, version, func(out string) error {
			return goBuild(filepath.Join(root(t), "deploy", "test"), filepath.Join(out, w.Name), w.Package)
		})
		if err != nil {
			return err.Error()
		}
		if err := k.CreateNamespace(ctx, w.Namespace); err != nil {
			t.Fatal(err)
		}
		// The ConfigMaps first: the webhooks validate them once registered.
		for _, sub := range []string{"configmaps", "webhooks"} {
			files, _ := filepath.Glob(filepath.Join(dir, "config", "core", sub, "*.yaml"))
			for _, f := range files {
				docs, err := readYAMLFile(f)
				if err != nil {
					t.Fatal(err)
				}
				for _, d := range docs {
					if err := k.Apply(ctx, d, w.Namespace); err != nil {
						t.Fatalf("%s: %s: %v", f, key(d), err)
					}
				}
			}
		}
		port := freePort(t)
		for _, o := range webhookRoute(w, ip, port) {
			if err := k.Apply(ctx, o, w.Namespace); err != nil {
				t.Fatalf("%s: %v", key(o), err)
			}
		}
		// Killed at the end: a webhook drains for longer than a test
		// waits, and keeps nothing.
		k.runEnv(t, w.Name, bin, syscall.SIGKILL, []string{
			"KUBECONFIG=" + kubeconfig,
			"SYSTEM_NAMESPACE=" + w.Namespace,
			"POD_NAME=" + w.Name + "-0",
			"WEBHOOK_NAME=" + w.Service,
			fmt.Sprintf("WEBHOOK_PORT=%d", port),
			fmt.Sprintf("PROFILING_PORT=%d", freePort(t)),
			fmt.Sprintf("METRICS_PROMETHEUS_PORT=%d", freePort(t)),
			"METRICS_DOMAIN=" + w.Metrics,
			"CONFIG_LOGGING_NAME=config-logging",
			"CONFIG_OBSERVABILITY_NAME=config-observability",
		})
		t.Logf("%s %s on https://%s:%d", w.Module, version, ip, port)
	}
	k.waitFor(t, "Knative's webhook configurations", k.webhooksConfigured)
	// Registered is not yet answering: wait until a Knative Service without
	// an image is refused by Serving's webhook.
	k.waitFor(t, "Serving's webhook", func() error {
		err := k.dryRunCreate(ctx, imagelessService())
		if err != nil && strings.Contains(err.Error(), "admission webhook") && strings.Contains(err.Error(), "image") {
			return nil
		}
		return fmt.Errorf("a Service without an image: %v", err)
	})
	return ""
}

// webhookRoute is the webhook's Service and an EndpointSlice that sends it
// to ip:port.
func webhookRoute(w KnativeWebhook, ip string, port int) []*unstructured.Unstructured {
	svc := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "Service",
		"metadata": map[string]any{"name": w.Service, "namespace": w.Namespace},
		"spec": map[string]any{"ports": []any{
			map[string]any{"name": "https-webhook", "port": int64(443), "targetPort": int64(port)},
		}},
	}}
	slice := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
		"metadata": map[string]any{"name": w.Service + "-out-of-cluster", "namespace": w.Namespace,
			"labels": map[string]any{"kubernetes.io/service-name": w.Service}},
		"addressType": "IPv4",
		"endpoints":   []any{map[string]any{"addresses": []any{ip}, "conditions": map[string]any{"ready": true}}},
		"ports":       []any{map[string]any{"name": "https-webhook", "port": int64(port), "protocol": "TCP"}},
	}}
	return []*unstructured.Unstructured{svc, slice}
}

// webhooksConfigured: every webhook of the Knative webhook configurations
// has its CA bundle, and the resource webhooks their rules (the webhooks
// fill both in when they start).
func (k *Kube) webhooksConfigured() error {
	ctx := context.Background()
	for _, kind := range []string{"mutatingwebhookconfigurations", "validatingwebhookconfigurations"} {
		gvr := schema.GroupVersionResource{Group: "admissionregistration.k8s.io", Version: "v1", Resource: kind}
		list, err := k.Dynamic.Resource(gvr).List(ctx, metav1.ListOptions{})
		if err != nil {
			return err
		}
		for _, c := range list.Items {
			hooks, _, _ := unstructured.NestedSlice(c.Object, "webhooks")
			for _, h := range hooks {
				h, _ := h.(map[string]any)
				ca, _, _ := unstructured.NestedString(h, "clientConfig", "caBundle")
				if ca == "" {
					return fmt.Errorf("%s %s: no CA bundle yet", kind, c.GetName())
				}
				// The resource webhooks; the config webhooks have a fixed
				// rule, and SinkBindings' gets its rules from the bindings.
				resources := strings.HasPrefix(c.GetName(), "webhook.") || strings.HasPrefix(c.GetName(), "validation.")
				if rules, _, _ := unstructured.NestedSlice(h, "rules"); len(rules) == 0 && resources {
					return fmt.Errorf("%s %s: no rules yet", kind, c.GetName())
				}
			}
		}
	}
	return nil
}

// dryRunCreate creates u with dryRun=All: admission runs, nothing is
// stored.
func (k *Kube) dryRunCreate(ctx context.Context, u *unstructured.Unstructured) error {
	gvr, _, err := k.Resource(u.GroupVersionKind())
	if err != nil {
		return err
	}
	_, err = k.client(gvr, u.GetNamespace()).Create(ctx, u, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}, FieldValidation: "Strict"})
	return err
}

// imagelessService is a Knative Service without an image.
func imagelessService() *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "serving.knative.dev/v1", "kind": "Service",
		"metadata": map[string]any{"name": "no-image", "namespace": "knative-serving"},
		"spec": map[string]any{"template": map[string]any{"spec": map[string]any{
			"containers": []any{map[string]any{"name": "user-container"}},
		}}},
	}}
}

// hostIPv4 is the first non-loopback IPv4 address of an interface that is
// up.
func hostIPv4() (string, error) {
	ifaces, err := net.Interfaces()
	if err != nil {
		return "", err
	}
	for _, i := range ifaces {
		if i.Flags&net.FlagUp == 0 || i.Flags&net.FlagLoopback != 0 {
			continue
		}
		addrs, _ := i.Addrs()
		for _, a := range addrs {
			if n, ok := a.(*net.IPNet); ok && n.IP.To4() != nil && !n.IP.IsLoopback() && !n.IP.IsLinkLocalUnicast() {
				return n.IP.String(), nil
			}
		}
	}
	return "", errors.New("no non-loopback IPv4 address for the API server to reach Knative's webhooks at (an EndpointSlice may not point at loopback)")
}

// writeKubeconfig writes a kubeconfig for the admin token, for the
// webhooks.
func (k *Kube) writeKubeconfig(t *testing.T) string {
	t.Helper()
	ca := base64.StdEncoding.EncodeToString(k.Config.TLSClientConfig.CAData)
	doc := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: test
  cluster: {server: %q, certificate-authority-data: %q}
users:
- name: admin
  user: {token: %q}
contexts:
- name: test
  context: {cluster: test, user: admin}
current-context: test
`, k.Config.Host, ca, k.Config.BearerToken)
	p := filepath.Join(k.dir, "kubeconfig")
	if err := os.WriteFile(p, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// knativeRefusals: what Knative's webhooks refuse in a cluster is refused
// here.
func knativeRefusals(t *testing.T, k *Kube, ns string) {
	ctx := context.Background()
	if err := k.CreateNamespace(ctx, ns); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		obj  map[string]any
		want string
	}{
		{"Service without an image", imagelessService().Object, "image"},
		{"Trigger without a subscriber", map[string]any{
			"apiVersion": "eventing.knative.dev/v1", "kind": "Trigger",
			"metadata": map[string]any{"name": "no-subscriber", "namespace": ns},
			"spec":     map[string]any{"broker": "sportello"},
		}, "subscriber"},
		{"Service with a negative timeout", map[string]any{
			"apiVersion": "serving.knative.dev/v1", "kind": "Service",
			"metadata": map[string]any{"name": "bad-timeout", "namespace": ns},
			"spec": map[string]any{"template": map[string]any{"spec": map[string]any{
				"timeoutSeconds": int64(-1),
				"containers":     []any{map[string]any{"image": "registry.example.org/sportello/probe:1"}},
			}}},
		}, "timeoutSeconds"},
		{"min-scale above max-scale", map[string]any{
			"apiVersion": "serving.knative.dev/v1", "kind": "Service",
			"metadata": map[string]any{"name": "bad-scale", "namespace": ns},
			"spec": map[string]any{"template": map[string]any{
				"metadata": map[string]any{"annotations": map[string]any{
					"autoscaling.knative.dev/min-scale": "5", "autoscaling.knative.dev/max-scale": "2"}},
				"spec": map[string]any{"containers": []any{map[string]any{"image": "registry.example.org/sportello/probe:1"}}},
			}},
		}, "max-scale"},
	}
	for _, c := range cases {
		err := k.dryRunCreate(ctx, &unstructured.Unstructured{Object: c.obj})
		switch {
		case err == nil:
			t.Errorf("%s: accepted", c.name)
		case !strings.Contains(err.Error(), "admission webhook") || !strings.Contains(err.Error(), c.want):
			t.Errorf("%s: refused with %q, want a webhook's refusal naming %s", c.name, err, c.want)
		default:
			t.Logf("%s: refused: %v", c.name, err)
		}
	}
}
