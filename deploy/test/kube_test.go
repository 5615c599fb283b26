package deploy

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sportello/sportello/functions/manifest"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	k8syaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/dynamic"
	eventingv1beta2 "knative.dev/eventing/pkg/apis/eventing/v1beta2"
)

// FieldManager is the field manager of every apply, as Helm's own.
const FieldManager = "helm"

// CRDSource is where the CRDs of one project are: a folder of a Go
// module's zip, at the version this module requires (the release
// infra/knative/install.sh installs) or at Version.
type CRDSource struct {
	Module string
	Dir    string
	// Version, for a module this one does not require; empty: go.mod's.
	Version string
	// Files is the glob of the CRD files in Dir; empty: *.yaml.
	Files string
}

// CRDSources are the CRDs installed in the API server: Knative Serving's
// and Eventing's core resources, Gateway API's standard channel, and the
// Prometheus Operator's ServiceMonitor, PodMonitor and PrometheusRule
// (the chart's monitoring; the operator's module is not required here, its
// zip carries the CRDs).
var CRDSources = []CRDSource{
	{Module: "knative.dev/serving", Dir: "config/core/300-resources"},
	{Module: "knative.dev/eventing", Dir: "config/core/resources"},
	{Module: "sigs.k8s.io/gateway-api", Dir: "config/crd/standard"},
	{Module: "github.com/prometheus-operator/prometheus-operator", Dir: "example/prometheus-operator-crd",
		Version: PrometheusOperatorVersion, Files: "monitoring.coreos.com_{servicemonitors,podmonitors,prometheusrules}.yaml"},
}

// PrometheusOperatorVersion is the Prometheus Operator whose CRDs the
// chart's monitoring objects are applied against.
const PrometheusOperatorVersion = "v0.85.0"

// moduleDirs downloads (or finds in the module cache) the modules (path or
// path@version) and returns their folder and version by path.
func moduleDirs(t *testing.T, paths ...string) map[string][2]string {
	t.Helper()
	cmd := exec.Command("go", append([]string{"mod", "download", "-json"}, paths...)...)
	cmd.Env = append(workspaceEnv(), "GOWORK=off")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go mod download: %v\n%s", err, stderr.String())
	}
	dirs := map[string][2]string{}
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var m struct{ Path, Version, Dir string }
		if err := dec.Decode(&m); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		dirs[m.Path] = [2]string{m.Dir, m.Version}
	}
	return dirs
}

// installCRDs applies the CRDs of CRDSources and waits until every one is
// established; it returns the modules' versions.
func (k *Kube) installCRDs(t *testing.T) map[string]string {
	t.Helper()
	var paths []string
	for _, s := range CRDSources {
		if s.Version != "" {
			paths = append(paths, s.Module+"@"+s.Version)
		} else {
			paths = append(paths, s.Module)
		}
	}
	mods := moduleDirs(t, paths...)
	versions := map[string]string{}
	var names []string
	ctx := context.Background()
	for _, s := range CRDSources {
		versions[s.Module] = mods[s.Module][1]
		files, err := crdFiles(filepath.Join(mods[s.Module][0], s.Dir), s.Files)
		if err != nil || len(files) == 0 {
			t.Fatalf("%s: no CRDs in %s (%v)", s.Module, s.Dir, err)
		}
		for _, f := range files {
			docs, err := readYAMLFile(f)
			if err != nil {
				t.Fatal(err)
			}
			for _, d := range docs {
				if d.GetKind() != "CustomResourceDefinition" {
					continue
				}
				if err := k.Apply(ctx, d, ""); err != nil {
					t.Fatalf("%s: %v", f, err)
				}
				names = append(names, d.GetName())
			}
		}
	}
	crd := schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}
	for _, n := range names {
		k.waitFor(t, "CRD "+n, func() error {
			u, err := k.Dynamic.Resource(crd).Get(ctx, n, metav1.GetOptions{})
			if err != nil {
				return err
			}
			conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
			for _, c := range conds {
				c, _ := c.(map[string]any)
				if c["type"] == "Established" && c["status"] == "True" {
					return nil
				}
			}
			return errors.New("not established")
		})
	}
	k.Mapper.Reset()
	return versions
}

// crdFiles lists the files of dir matching glob (*.yaml when empty), which
// may hold one {a,b,c} alternative.
func crdFiles(dir, glob string) ([]string, error) {
	if glob == "" {
		glob = "*.yaml"
	}
	pre, rest, ok := strings.Cut(glob, "{")
	if !ok {
		return filepath.Glob(filepath.Join(dir, glob))
	}
	alts, post, _ := strings.Cut(rest, "}")
	var out []string
	for _, a := range strings.Split(alts, ",") {
		m, err := filepath.Glob(filepath.Join(dir, pre+a+post))
		if err != nil {
			return nil, err
		}
		out = append(out, m...)
	}
	return out, nil
}

// readYAMLFile decodes every document of a YAML file.
func readYAMLFile(path string) ([]*unstructured.Unstructured, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	dec := k8syaml.NewYAMLOrJSONDecoder(bytes.NewReader(b), 4096)
	var out []*unstructured.Unstructured
	for {
		var doc map[string]any
		if err := dec.Decode(&doc); errors.Is(err, io.EOF) {
			return out, nil
		} else if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		if doc != nil {
			out = append(out, &unstructured.Unstructured{Object: doc})
		}
	}
}

// Apply creates or updates u by server-side apply with strict field
// validation (an unknown or duplicated field is refused); a warning from
// the server is an error too. A namespaced object without a namespace goes
// to ns.
func (k *Kube) Apply(ctx context.Context, u *unstructured.Unstructured, ns string) error {
	gvr, namespaced, err := k.Resource(u.GroupVersionKind())
	if err != nil {
		return err
	}
	if namespaced && u.GetNamespace() == "" {
		u.SetNamespace(ns)
	}
	body, err := json.Marshal(u.Object)
	if err != nil {
		return err
	}
	k.Warnings.Take()
	force := true
	_, err = k.client(gvr, u.GetNamespace()).Patch(ctx, u.GetName(), types.ApplyPatchType, body,
		metav1.PatchOptions{FieldManager: FieldManager, Force: &force, FieldValidation: "Strict"})
	if w := k.Warnings.Take(); err == nil && len(w) > 0 {
		err = fmt.Errorf("warnings: %s", strings.Join(w, "; "))
	}
	return err
}

// Get reads u's live version.
func (k *Kube) Get(ctx context.Context, u *unstructured.Unstructured) (*unstructured.Unstructured, error) {
	gvr, _, err := k.Resource(u.GroupVersionKind())
	if err != nil {
		return nil, err
	}
	return k.client(gvr, u.GetNamespace()).Get(ctx, u.GetName(), metav1.GetOptions{})
}

// Delete deletes u and waits until it is gone.
func (k *Kube) Delete(ctx context.Context, u *unstructured.Unstructured) error {
	gvr, _, err := k.Resource(u.GroupVersionKind())
	if err != nil {
		return err
	}
	c := k.client(gvr, u.GetNamespace())
	// Background: the default for a Job is to orphan its Pods, which holds
	// the Job with a finalizer until a garbage collector (not run here) is
	// done.
	background := metav1.DeletePropagationBackground
	if err := c.Delete(ctx, u.GetName(), metav1.DeleteOptions{PropagationPolicy: &background}); err != nil && !apierrors.IsNotFound(err) {
		return err
	}
	// As kubectl delete --wait: a finalizer (SinkBinding's, which
	// Eventing's webhook removes once the binding is undone) holds it a
	// moment.
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		live, err := c.Get(ctx, u.GetName(), metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		if err != nil {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("still there 30s after deletion, held by the finalizers %v", live.GetFinalizers())
		}
	}
}

func (k *Kube) client(gvr schema.GroupVersionResource, ns string) dynamic.ResourceInterface {
	if ns == "" {
		return k.Dynamic.Resource(gvr)
	}
	return k.Dynamic.Resource(gvr).Namespace(ns)
}

// CreateNamespace creates ns if it is not there.
func (k *Kube) CreateNamespace(ctx context.Context, ns string) error {
	u := &unstructured.Unstructured{}
	u.SetAPIVersion("v1")
	u.SetKind("Namespace")
	u.SetName(ns)
	return k.Apply(ctx, u, "")
}

// Release is what of a rendering is applied, as Helm would: its hooks
// first (by weight), then the rest.
type Release struct {
	Hooks, Objects []*unstructured.Unstructured
}

// newRelease sorts a rendering into hooks and objects.
func newRelease(t *testing.T, objs []Object) Release {
	t.Helper()
	var r Release
	for _, o := range objs {
		u := &unstructured.Unstructured{}
		if err := json.Unmarshal(o.Raw, &u.Object); err != nil {
			t.Fatal(err)
		}
		if u.GetNamespace() == "" {
			u.SetNamespace(Namespace)
		}
		if u.GetAnnotations()["helm.sh/hook"] != "" {
			r.Hooks = append(r.Hooks, u)
		} else {
			r.Objects = append(r.Objects, u)
		}
	}
	weight := func(u *unstructured.Unstructured) int {
		w, _ := strconv.Atoi(u.GetAnnotations()["helm.sh/hook-weight"])
		return w
	}
	sort.SliceStable(r.Hooks, func(i, j int) bool { return weight(r.Hooks[i]) < weight(r.Hooks[j]) })
	return r
}

// All is the hooks and the objects.
func (r Release) All() []*unstructured.Unstructured {
	return append(append([]*unstructured.Unstructured{}, r.Hooks...), r.Objects...)
}

// Namespaces are the namespaces the release's objects go to.
func (r Release) Namespaces() []string {
	seen := map[string]bool{}
	var out []string
	for _, u := range r.All() {
		if ns := u.GetNamespace(); ns != "" && !seen[ns] {
			seen[ns] = true
			out = append(out, ns)
		}
	}
	sort.Strings(out)
	return out
}

func key(u *unstructured.Unstructured) string {
	return u.GetAPIVersion() + " " + u.GetKind() + " " + u.GetNamespace() + "/" + u.GetName()
}

// install applies the release as helm upgrade --install does over prev
// (nil: a first install): namespaces created, hooks with
// before-hook-creation deleted and created again, then every object
// applied, and what prev had and the release has no more deleted. It
// returns a line for each object accepted.
func (k *Kube) install(ctx context.Context, r Release, prev *Release) ([]string, error) {
	var log []string
	for _, ns := range r.Namespaces() {
		if err := k.CreateNamespace(ctx, ns); err != nil {
			return log, fmt.Errorf("namespace %s: %w", ns, err)
		}
	}
	for _, h := range r.Hooks {
		if strings.Contains(h.GetAnnotations()["helm.sh/hook-delete-policy"], "before-hook-creation") {
			if err := k.Delete(ctx, h); err != nil {
				return log, fmt.Errorf("%s: %w", key(h), err)
			}
		}
	}
	for _, u := range r.All() {
		if err := k.Apply(ctx, u.DeepCopy(), Namespace); err != nil {
			return log, fmt.Errorf("%s: %w", key(u), err)
		}
		log = append(log, key(u))
	}
	if prev != nil {
		keep := map[string]bool{}
		for _, u := range r.All() {
			keep[key(u)] = true
		}
		for _, u := range prev.Objects {
			if !keep[key(u)] {
				if err := k.Delete(ctx, u); err != nil {
					return log, fmt.Errorf("pruning %s: %w", key(u), err)
				}
				log = append(log, "pruned "+key(u))
			}
		}
	}
	return log, nil
}

// uninstall deletes the release's objects and hooks.
func (k *Kube) uninstall(ctx context.Context, r Release) error {
	for _, u := range r.All() {
		if err := k.Delete(ctx, u); err != nil {
			return fmt.Errorf("%s: %w", key(u), err)
		}
	}
	return nil
}

// checkLive reads every object of the release back and reports each value
// the chart set that the server (or a webhook) stored differently.
func (k *Kube) checkLive(t *testing.T, ctx context.Context, r Release) {
	t.Helper()
	for _, u := range r.All() {
		live, err := k.Get(ctx, u)
		if err != nil {
			t.Errorf("%s: %v", key(u), err)
			continue
		}
		for _, d := range subsetDiff("", asStored(u).Object, live.Object) {
			t.Errorf("%s: %s", key(u), d)
		}
	}
}

// asStored is u as the API server stores it: a Secret's stringData is
// written into its data, base64-encoded.
func asStored(u *unstructured.Unstructured) *unstructured.Unstructured {
	sd, ok, _ := unstructured.NestedStringMap(u.Object, "stringData")
	if u.GetKind() != "Secret" || !ok {
		return u
	}
	u = u.DeepCopy()
	data, _, _ := unstructured.NestedMap(u.Object, "data")
	if data == nil {
		data = map[string]any{}
	}
	for k, v := range sd {
		data[k] = base64.StdEncoding.EncodeToString([]byte(v))
	}
	unstructured.RemoveNestedField(u.Object, "stringData")
	unstructured.SetNestedMap(u.Object, data, "data")
	return u
}

// subsetDiff lists where want (what the chart rendered) is not in got (the
// live object): a value changed or dropped. Fields got has beyond want
// (the server's and the webhooks' defaults) are not reported.
func subsetDiff(path string, want, got any) []string {
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return []string{fmt.Sprintf("%s: %v, want an object", path, got)}
		}
		var out []string
		for _, k := range slices.Sorted(maps.Keys(w)) {
			gv, ok := g[k]
			if !ok {
				if isEmpty(w[k]) {
					continue // an empty value the server does not store
				}
				out = append(out, fmt.Sprintf("%s.%s: dropped (rendered %v)", path, k, w[k]))
				continue
			}
			out = append(out, subsetDiff(path+"."+k, w[k], gv)...)
		}
		return out
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			return []string{fmt.Sprintf("%s: %v, rendered %v", path, got, want)}
		}
		var out []string
		for i := range w {
			out = append(out, subsetDiff(fmt.Sprintf("%s[%d]", path, i), w[i], g[i])...)
		}
		return out
	default:
		if fmt.Sprint(want) != fmt.Sprint(got) {
			return []string{fmt.Sprintf("%s: %v, rendered %v", path, got, want)}
		}
		return nil
	}
}

func isEmpty(v any) bool {
	switch v := v.(type) {
	case nil:
		return true
	case map[string]any:
		return len(v) == 0
	case []any:
		return len(v) == 0
	case string:
		return v == ""
	}
	return false
}

// integratorTrigger is the Trigger example of docs/deploy.md's section for
// integrators.
func integratorTrigger(t *testing.T) *unstructured.Unstructured {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root(t), "docs", "deploy.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, after, ok := strings.Cut(string(b), "## Integrators")
	if !ok {
		t.Fatal("docs/deploy.md: no section for integrators")
	}
	m := regexp.MustCompile("(?s)```yaml\n(.*?)```").FindStringSubmatch(after)
	if m == nil {
		t.Fatal("docs/deploy.md: no YAML in the section for integrators")
	}
	u := &unstructured.Unstructured{}
	if err := k8syaml.NewYAMLOrJSONDecoder(bufio.NewReader(strings.NewReader(m[1])), 4096).Decode(&u.Object); err != nil {
		t.Fatal(err)
	}
	if u.GetKind() != "Trigger" {
		t.Fatalf("docs/deploy.md's example is a %s, want a Trigger", u.GetKind())
	}
	return u
}

// knativeReleases reads the Knative and Gateway API releases that
// infra/knative/install.sh installs.
func knativeReleases(t *testing.T) map[string]string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root(t), "infra", "knative", "install.sh"))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, m := range regexp.MustCompile(`(?m)^(SERVING|EVENTING|GATEWAY_API)=(\S+)`).FindAllStringSubmatch(string(b), -1) {
		out[m[1]] = m[2]
	}
	return out
}

// moduleOfRelease is the Go module version of a Knative release:
// knative-v1.15.2 is v0.42.2.
func moduleOfRelease(release string) string {
	var major, minor, patch int
	if _, err := fmt.Sscanf(release, "knative-v%d.%d.%d", &major, &minor, &patch); err != nil || major != 1 {
		return "?" + release
	}
	return fmt.Sprintf("v0.%d.%d", minor+27, patch)
}

// TestKube applies the chart to a real kube-apiserver with the Knative and
// Gateway API CRDs of the release infra/ installs: every profile installed
// (namespaces created, server-side apply with strict field validation,
// failing on a warning), read back and compared with the rendering,
// uninstalled; an upgrade through several value sets; the integrators'
// Trigger of docs/deploy.md.
func TestKube(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and starts kube-apiserver and etcd")
	}
	k := startKube(t)
	start := time.Now()
	versions := k.installCRDs(t)
	t.Logf("CRDs established in %s: knative.dev/serving %s, knative.dev/eventing %s, sigs.k8s.io/gateway-api %s, prometheus-operator %s",
		time.Since(start).Round(10*time.Millisecond), versions["knative.dev/serving"], versions["knative.dev/eventing"], versions["sigs.k8s.io/gateway-api"],
		versions["github.com/prometheus-operator/prometheus-operator"])
	rel := knativeReleases(t)
	for name, want := range map[string][2]string{
		"knative.dev/serving":     {rel["SERVING"], moduleOfRelease(rel["SERVING"])},
		"knative.dev/eventing":    {rel["EVENTING"], moduleOfRelease(rel["EVENTING"])},
		"sigs.k8s.io/gateway-api": {rel["GATEWAY_API"], rel["GATEWAY_API"]},
	} {
		if versions[name] != want[1] {
			t.Errorf("%s %s is not the release infra/knative/install.sh installs (%s, module %s)", name, versions[name], want[0], want[1])
		}
	}
	ctx := context.Background()
	webhooks := false
	if why := k.startKnativeWebhooks(t); why != "" {
		if os.Getenv("SPORTELLO_REQUIRE_KUBE") != "" {
			t.Fatalf("Knative's webhooks: %s", why)
		}
		t.Logf("WITHOUT Knative's webhooks: %s", why)
	} else {
		webhooks = true
		t.Logf("Knative's webhooks answering %s after the API server", time.Since(start).Round(10*time.Millisecond))
		t.Run("webhooks refuse", func(t *testing.T) { knativeRefusals(t, k, Namespace) })
	}

	t.Run("strict", func(t *testing.T) {
		// A misspelt field is refused, not dropped.
		u := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "serving.knative.dev/v1", "kind": "Service",
			"metadata": map[string]any{"name": "misspelt", "namespace": Namespace},
			"spec": map[string]any{"template": map[string]any{"spec": map[string]any{
				"containerConcurency": int64(10),
				"containers":          []any{map[string]any{"image": "registry.example.org/sportello/probe:1"}},
			}}},
		}}
		if err := k.CreateNamespace(ctx, Namespace); err != nil {
			t.Fatal(err)
		}
		err := k.Apply(ctx, u, Namespace)
		if err == nil || !strings.Contains(err.Error(), "containerConcurency") {
			t.Fatalf("a misspelt field: %v, want a refusal naming it", err)
		}
		t.Logf("misspelt field refused: %v", err)

		// A warning fails an apply: a deprecated seccomp annotation.
		job := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "batch/v1", "kind": "Job",
			"metadata": map[string]any{"name": "warned", "namespace": Namespace},
			"spec": map[string]any{"template": map[string]any{
				"metadata": map[string]any{"annotations": map[string]any{"seccomp.security.alpha.kubernetes.io/pod": "runtime/default"}},
				"spec": map[string]any{"restartPolicy": "Never", "containers": []any{
					map[string]any{"name": "probe", "image": "registry.example.org/sportello/probe:1"}}},
			}},
		}}
		err = k.Apply(ctx, job, Namespace)
		if err == nil || !strings.Contains(err.Error(), "warnings") {
			t.Fatalf("an object the API server warns about: %v, want an error", err)
		}
		t.Logf("warning turned into a failure: %v", err)
		if err := k.Delete(ctx, job); err != nil {
			t.Fatal(err)
		}

		// The Prometheus Operator's CRDs are as strict: a misspelt field
		// of a rule is refused.
		rule := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "monitoring.coreos.com/v1", "kind": "PrometheusRule",
			"metadata": map[string]any{"name": "misspelt", "namespace": Namespace},
			"spec": map[string]any{"groups": []any{map[string]any{"name": "g", "rules": []any{
				map[string]any{"alert": "A", "expresion": "up == 0"}}}}},
		}}
		err = k.Apply(ctx, rule, Namespace)
		if err == nil || !strings.Contains(err.Error(), "expresion") {
			t.Fatalf("a PrometheusRule with a misspelt field: %v, want a refusal naming it", err)
		}
		t.Logf("misspelt PrometheusRule field refused: %v", err)
	})

	t.Run("profiles", func(t *testing.T) {
		profiles := kubeProfiles(t)
		names := make([]string, 0, len(profiles))
		for n := range profiles {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, name := range names {
			t.Run(name, func(t *testing.T) {
				objs, err := helmTemplate(t, profiles[name]...)
				if err != nil {
					t.Fatal(err)
				}
				r := newRelease(t, objs)
				accepted, err := k.install(ctx, r, nil)
				t.Logf("%s: %d objects accepted by %s:\n  %s", name, len(accepted), k.Version, strings.Join(accepted, "\n  "))
				if err != nil {
					t.Fatal(err)
				}
				k.checkLive(t, ctx, r)
				if webhooks {
					checkDefaulted(t, ctx, k, r)
				}
				if err := k.uninstall(ctx, r); err != nil {
					t.Fatal(err)
				}
			})
		}
	})

	t.Run("upgrade", func(t *testing.T) {
		steps := kubeUpgrade(t)
		var prev *Release
		for i, s := range steps {
			objs, err := helmTemplate(t, s.args...)
			if err != nil {
				t.Fatal(err)
			}
			r := newRelease(t, objs)
			log, err := k.install(ctx, r, prev)
			t.Logf("step %d, %s: %d objects applied", i+1, s.name, len(log))
			if err != nil {
				t.Fatalf("%s: %v", s.name, err)
			}
			k.checkLive(t, ctx, r)
			checkAnnotationsExactly(t, ctx, k, r)
			checkEventTypesLive(t, ctx, k, r, webhooks)
			prev = &r
		}
		// A new Broker name is no upgrade: Eventing's webhook keeps a
		// Trigger's broker immutable.
		if webhooks {
			objs, err := helmTemplate(t, append(append([]string{}, steps[len(steps)-1].args...), "--set", "broker.name=counter")...)
			if err != nil {
				t.Fatal(err)
			}
			renamed := newRelease(t, objs)
			_, err = k.install(ctx, renamed, prev)
			if err == nil || !strings.Contains(err.Error(), "Immutable") {
				t.Errorf("an upgrade renaming the Broker: %v, want a refusal (immutable)", err)
			} else {
				t.Logf("an upgrade renaming the Broker is refused: %v", err)
			}
			if err := k.uninstall(ctx, renamed); err != nil {
				t.Fatal(err)
			}
			if _, err := k.install(ctx, *prev, nil); err != nil {
				t.Fatal(err)
			}
		}
		tr := integratorTrigger(t)
		if err := k.Apply(ctx, tr, Namespace); err != nil {
			t.Fatalf("docs/deploy.md's Trigger: %v", err)
		}
		t.Logf("docs/deploy.md's Trigger %s accepted", key(tr))
		if err := k.Delete(ctx, tr); err != nil {
			t.Fatal(err)
		}
		if err := k.uninstall(ctx, *prev); err != nil {
			t.Fatal(err)
		}
	})
}

// checkEventTypesLive reads the release's EventTypes back from the API
// server and compares them with the event catalog; with the webhooks, as
// v1beta3 too.
func checkEventTypesLive(t *testing.T, ctx context.Context, k *Kube, r Release, webhooks bool) {
	t.Helper()
	m := manifest.NewDocument()
	broker := ""
	for _, u := range r.Objects {
		if u.GetKind() == "Broker" {
			broker = u.GetName()
		}
	}
	gvr := schema.GroupVersionResource{Group: "eventing.knative.dev", Version: "v1beta2", Resource: "eventtypes"}
	list, err := k.Dynamic.Resource(gvr).Namespace(Namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]*eventingv1beta2.EventType{}
	for _, u := range list.Items {
		et := &eventingv1beta2.EventType{}
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, et); err != nil {
			t.Fatal(err)
		}
		got[et.Name] = et
	}
	checkEventTypes(t, m, broker, got)
	t.Logf("%d EventTypes read back match the event catalog (%d types)", len(got), len(m.Events))
	if webhooks {
		checkEventTypesV1beta3(t, ctx, k, got)
	}
}

// checkEventTypesV1beta3 reads the EventTypes as v1beta3 too, which the API
// server converts through Eventing's conversion webhook: the type, source
// and schema are there as attributes.
func checkEventTypesV1beta3(t *testing.T, ctx context.Context, k *Kube, stored map[string]*eventingv1beta2.EventType) {
	t.Helper()
	gvr := schema.GroupVersionResource{Group: "eventing.knative.dev", Version: "v1beta3", Resource: "eventtypes"}
	list, err := k.Dynamic.Resource(gvr).Namespace(Namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatalf("EventTypes as v1beta3 (Eventing's conversion webhook): %v", err)
	}
	if len(list.Items) != len(stored) {
		t.Errorf("%d EventTypes as v1beta3, %d as v1beta2", len(list.Items), len(stored))
	}
	for _, u := range list.Items {
		et, ok := stored[u.GetName()]
		if !ok {
			t.Errorf("EventType %s as v1beta3 only", u.GetName())
			continue
		}
		attrs, _, _ := unstructured.NestedSlice(u.Object, "spec", "attributes")
		got := map[string]any{}
		for _, a := range attrs {
			a, _ := a.(map[string]any)
			got[fmt.Sprint(a["name"])] = a["value"]
		}
		want := map[string]any{"type": et.Spec.Type, "source": et.Spec.Source.String(), "schemadata": et.Spec.Schema.String()}
		for name, v := range want {
			if got[name] != v {
				t.Errorf("EventType %s as v1beta3: attribute %s = %v, want %v", u.GetName(), name, got[name], v)
			}
		}
	}
	t.Logf("%d EventTypes read as v1beta3 through Eventing's conversion webhook", len(list.Items))
}

// checkDefaulted: Knative's webhooks defaulted the Knative Services (the
// creator annotation is theirs), and what they added is logged for one
// function; checkLive has already compared every value the chart set.
func checkDefaulted(t *testing.T, ctx context.Context, k *Kube, r Release) {
	t.Helper()
	logged := false
	eachLiveService(t, ctx, k, r, func(u, live *unstructured.Unstructured) {
		if live.GetAnnotations()["serving.knative.dev/creator"] == "" {
			t.Errorf("%s: not defaulted by Serving's webhook (no creator annotation)", key(u))
		}
		if !logged && u.GetName() == "reserve" {
			logged = true
			want, _, _ := unstructured.NestedFieldNoCopy(u.Object, "spec")
			got, _, _ := unstructured.NestedFieldNoCopy(live.Object, "spec")
			t.Logf("Serving's webhook added to %s (the chart's own values unchanged):\n  %s", key(u), strings.Join(addedPaths("spec", want, got), "\n  "))
		}
	})
}

// eachLiveService calls f with each Knative Service of the release and its
// live version.
func eachLiveService(t *testing.T, ctx context.Context, k *Kube, r Release, f func(u, live *unstructured.Unstructured)) {
	t.Helper()
	for _, u := range r.Objects {
		if u.GetKind() != "Service" || u.GetAPIVersion() != "serving.knative.dev/v1" {
			continue
		}
		live, err := k.Get(ctx, u)
		if err != nil {
			t.Error(err)
			continue
		}
		f(u, live)
	}
}

// addedPaths lists the fields got has and want does not, with their values.
func addedPaths(path string, want, got any) []string {
	switch g := got.(type) {
	case map[string]any:
		w, _ := want.(map[string]any)
		var out []string
		for _, k := range slices.Sorted(maps.Keys(g)) {
			if wv, ok := w[k]; ok {
				out = append(out, addedPaths(path+"."+k, wv, g[k])...)
			} else {
				b, _ := json.Marshal(g[k])
				out = append(out, path+"."+k+": "+string(b))
			}
		}
		return out
	case []any:
		w, _ := want.([]any)
		var out []string
		for i := range g {
			if i < len(w) {
				out = append(out, addedPaths(fmt.Sprintf("%s[%d]", path, i), w[i], g[i])...)
			}
		}
		return out
	}
	return nil
}

// checkAnnotationsExactly: after an upgrade a Knative Service's revision
// template has exactly the annotations of the last rendering (server-side
// apply removes what the chart no longer sets).
func checkAnnotationsExactly(t *testing.T, ctx context.Context, k *Kube, r Release) {
	t.Helper()
	eachLiveService(t, ctx, k, r, func(u, live *unstructured.Unstructured) {
		want, _, _ := unstructured.NestedStringMap(u.Object, "spec", "template", "metadata", "annotations")
		got, _, _ := unstructured.NestedStringMap(live.Object, "spec", "template", "metadata", "annotations")
		if fmt.Sprint(want) != fmt.Sprint(got) {
			t.Errorf("%s: template annotations %v, want %v", key(u), got, want)
		}
	})
}

// kubeProfiles are the value sets applied: the chart tests' renderings and
// the documented variants.
func kubeProfiles(t *testing.T) map[string][]string {
	t.Helper()
	p := renderings(t)
	production := p["production"]
	p["public route off"] = []string{"--set", "publicRoute.enabled=false"}
	p["production, public route off"] = append(append([]string{}, production...), "--set", "publicRoute.enabled=false")
	p["production, OIDC"] = append(append([]string{}, production...),
		"--set", "config.OIDC_ISSUER=https://login.comune.bari.it/realms/sportello")
	p["production, autoscaling overrides"] = append(append([]string{}, production...), autoscalingOverrides...)
	return p
}

// autoscalingOverrides change a few functions' scale bounds, targets,
// concurrency and timeouts.
var autoscalingOverrides = []string{
	"--set", "functions.reserve.autoscaling.minScale=4",
	"--set", "functions.reserve.autoscaling.maxScale=60",
	"--set", "functions.query-slots.autoscaling.target=80",
	"--set", "functions.send-email.containerConcurrency=4",
	"--set", "functions.send-email.timeoutSeconds=90",
	"--set", "functions.admin.autoscaling.class=hpa.autoscaling.knative.dev",
	"--set", "functions.admin.autoscaling.metric=cpu",
	"--set", "functions.admin.autoscaling.target=70",
}

type upgradeStep struct {
	name string
	args []string
}

// kubeUpgrade is the upgrade path: installed with the defaults, upgraded to
// production, then with overrides and a new image tag (the migration hook
// is re-created), then without the public route and with domain mappings.
func kubeUpgrade(t *testing.T) []upgradeStep {
	t.Helper()
	production := []string{"-f", filepath.Join(root(t), "charts", "sportello", "values-production.yaml")}
	return []upgradeStep{
		{"default", nil},
		{"production", production},
		{"production, overrides, tag 0.1.1", append(append(append([]string{}, production...), autoscalingOverrides...), "--set", "image.tag=0.1.1")},
		{"production, no public route, domain mappings", append(append([]string{}, production...),
			"--set", "publicRoute.enabled=false",
			"--set", "domainMappings[0].domain=sportello.comune.bari.it", "--set", "domainMappings[0].service=site")},
	}
}
