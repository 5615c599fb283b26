package deploy

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/sportello/sportello/functions/manifest"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	eventingv1 "knative.dev/eventing/pkg/apis/eventing/v1"
	eventingv1beta2 "knative.dev/eventing/pkg/apis/eventing/v1beta2"
	"knative.dev/eventing/pkg/apis/feature"
	sourcesv1 "knative.dev/eventing/pkg/apis/sources/v1"
	"knative.dev/pkg/apis"
	servingv1 "knative.dev/serving/pkg/apis/serving/v1"
	servingv1beta1 "knative.dev/serving/pkg/apis/serving/v1beta1"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
	gatewayvalidation "sigs.k8s.io/gateway-api/apis/v1/validation"
	gatewayv1beta1 "sigs.k8s.io/gateway-api/apis/v1beta1"
)

// renderings are the value sets every chart test runs with.
func renderings(t *testing.T) map[string][]string {
	m := manifest.NewDocument()
	// As skaffold does: every image set by setValueTemplates.
	opts, err := filepath.Abs(filepath.Join("testdata", "options.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	skaffold := []string{"-f", opts}
	for _, f := range m.Functions {
		skaffold = append(skaffold, "--set", fmt.Sprintf("functions.%s.image=registry.example.org/sportello/%s:abc@sha256:%064x", f.Name, f.Name, len(f.Name)))
	}
	skaffold = append(skaffold, "--set", "migrations.image=registry.example.org/sportello/migrate:abc")
	monitoring, err := filepath.Abs(filepath.Join("testdata", "monitoring.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	production := []string{"-f", filepath.Join(root(t), "charts", "sportello", "values-production.yaml")}
	return map[string][]string{
		"default":                nil,
		"production":             production,
		"options":                skaffold,
		"production, monitoring": append(append([]string{}, production...), "-f", monitoring),
	}
}

// Rendered is a rendering decoded into Go types, by name.
type Rendered struct {
	Services        map[string]*servingv1.Service
	DomainMappings  map[string]*servingv1beta1.DomainMapping
	Brokers         map[string]*eventingv1.Broker
	Triggers        map[string]*eventingv1.Trigger
	SinkBindings    map[string]*sourcesv1.SinkBinding
	PingSources     map[string]*sourcesv1.PingSource
	HTTPRoutes      map[string]*gatewayv1.HTTPRoute
	ReferenceGrants map[string]*gatewayv1beta1.ReferenceGrant
	ConfigMaps      map[string]*corev1.ConfigMap
	Secrets         map[string]*corev1.Secret
	Jobs            map[string]*batchv1.Job
	EventTypes      map[string]*eventingv1beta2.EventType
	// Kubernetes Services (the metrics Service), by name.
	KubeServices map[string]*corev1.Service
	// The Prometheus Operator's objects, by kind and name.
	Monitors map[string]Object
}

// validationContext is what the Knative webhooks validate a creation in:
// the default configuration of Serving and Eventing 1.15 (config-features
// as installed, so delivery timeouts are on).
func validationContext(t *testing.T) context.Context {
	flags, err := feature.NewFlagsConfigFromMap(map[string]string{})
	if err != nil {
		t.Fatal(err)
	}
	return apis.WithinCreate(feature.ToContext(context.Background(), flags))
}

// decodeAll decodes and validates every object of a rendering.
func decodeAll(t *testing.T, objs []Object) *Rendered {
	t.Helper()
	ctx := validationContext(t)
	r := &Rendered{
		Services: map[string]*servingv1.Service{}, DomainMappings: map[string]*servingv1beta1.DomainMapping{},
		Brokers: map[string]*eventingv1.Broker{}, Triggers: map[string]*eventingv1.Trigger{},
		SinkBindings: map[string]*sourcesv1.SinkBinding{}, PingSources: map[string]*sourcesv1.PingSource{},
		HTTPRoutes: map[string]*gatewayv1.HTTPRoute{}, ReferenceGrants: map[string]*gatewayv1beta1.ReferenceGrant{},
		ConfigMaps: map[string]*corev1.ConfigMap{}, Secrets: map[string]*corev1.Secret{}, Jobs: map[string]*batchv1.Job{},
		EventTypes:   map[string]*eventingv1beta2.EventType{},
		KubeServices: map[string]*corev1.Service{}, Monitors: map[string]Object{},
	}
	seen := map[string]bool{}
	for _, o := range objs {
		key := o.APIVersion + " " + o.String()
		if seen[key] {
			t.Errorf("%s rendered twice", key)
		}
		seen[key] = true
		for _, msg := range validation.IsDNS1123Subdomain(o.Metadata.Name) {
			t.Errorf("%s: name: %s", o, msg)
		}
		var err error
		switch o.APIVersion + "/" + o.Kind {
		case "serving.knative.dev/v1/Service":
			err = decodeKnative(ctx, o, r.Services)
		case "serving.knative.dev/v1beta1/DomainMapping":
			err = decodeKnative(ctx, o, r.DomainMappings)
		case "eventing.knative.dev/v1/Broker":
			err = decodeKnative(ctx, o, r.Brokers)
		case "eventing.knative.dev/v1/Trigger":
			err = decodeKnative(ctx, o, r.Triggers)
		case "sources.knative.dev/v1/SinkBinding":
			err = decodeKnative(ctx, o, r.SinkBindings)
		case "sources.knative.dev/v1/PingSource":
			err = decodeKnative(ctx, o, r.PingSources)
		case "eventing.knative.dev/v1beta2/EventType":
			err = decodeKnative(ctx, o, r.EventTypes)
		case "gateway.networking.k8s.io/v1/HTTPRoute":
			v := &gatewayv1.HTTPRoute{}
			if err = strictDecode(o, v); err == nil {
				if v.Namespace == "" {
					v.Namespace = Namespace
				}
				if errs := gatewayvalidation.ValidateHTTPRoute(v); len(errs) > 0 {
					err = errs.ToAggregate()
				}
				r.HTTPRoutes[v.Name] = v
			}
		case "gateway.networking.k8s.io/v1beta1/ReferenceGrant":
			v := &gatewayv1beta1.ReferenceGrant{}
			if err = strictDecode(o, v); err == nil {
				if len(v.Spec.From) == 0 || len(v.Spec.To) == 0 {
					err = fmt.Errorf("a ReferenceGrant needs from and to")
				}
				r.ReferenceGrants[v.Name] = v
			}
		case "v1/ConfigMap":
			v := &corev1.ConfigMap{}
			if err = strictDecode(o, v); err == nil {
				checkKeys(t, o, v.Data)
				r.ConfigMaps[v.Name] = v
			}
		case "v1/Secret":
			v := &corev1.Secret{}
			if err = strictDecode(o, v); err == nil {
				checkKeys(t, o, v.StringData)
				r.Secrets[v.Name] = v
			}
		case "v1/Service":
			v := &corev1.Service{}
			if err = strictDecode(o, v); err == nil {
				r.KubeServices[v.Name] = v
			}
		case "monitoring.coreos.com/v1/ServiceMonitor", "monitoring.coreos.com/v1/PodMonitor", "monitoring.coreos.com/v1/PrometheusRule":
			// Checked by TestChartMonitoring, and against the Prometheus
			// Operator's CRDs by TestKube.
			r.Monitors[o.String()] = o
		case "batch/v1/Job":
			v := &batchv1.Job{}
			if err = strictDecode(o, v); err == nil {
				r.Jobs[v.Name] = v
			}
		default:
			err = fmt.Errorf("unexpected kind %s %s", o.APIVersion, o.Kind)
		}
		if err != nil {
			t.Errorf("%s: %v", o, err)
		}
	}
	return r
}

// knativeObject is what the Knative types of a rendering have in common.
type knativeObject interface {
	apis.Defaultable
	apis.Validatable
	GetName() string
	GetNamespace() string
	SetNamespace(string)
}

// decodeKnative decodes o into a new T, defaults and validates it as the
// Knative webhooks do on creation, and files it in into by name.
func decodeKnative[T any, P interface {
	*T
	knativeObject
}](ctx context.Context, o Object, into map[string]P) error {
	v := P(new(T))
	if err := strictDecode(o, v); err != nil {
		return err
	}
	if v.GetNamespace() == "" {
		v.SetNamespace(Namespace)
	}
	v.SetDefaults(ctx)
	into[v.GetName()] = v
	return fieldErr(v.Validate(ctx))
}

// checkKeys reports the keys of a ConfigMap's or a Secret's data that are
// not valid keys.
func checkKeys(t *testing.T, o Object, data map[string]string) {
	t.Helper()
	for k := range data {
		for _, msg := range validation.IsConfigMapKey(k) {
			t.Errorf("%s: key %q: %s", o, k, msg)
		}
	}
}

// TestChart renders the chart with each value set, decodes every object
// into its Go type, validates it as the webhooks would, and checks it
// against the function manifest.
func TestChart(t *testing.T) {
	m := manifest.NewDocument()
	for name, args := range renderings(t) {
		t.Run(name, func(t *testing.T) {
			objs, err := helmTemplate(t, args...)
			if err != nil {
				t.Fatal(err)
			}
			r := decodeAll(t, objs)
			kinds := map[string]int{}
			for _, o := range objs {
				kinds[o.Kind]++
			}
			t.Logf("%d objects: %v", len(objs), kinds)
			checkTriggers(t, m, r)
			checkServices(t, m, r)
			checkSinkBindings(t, m, r)
			checkRoutes(t, m, r)
			checkPing(t, m, r)
			checkMigrations(t, m, r)
			checkReferences(t, r)
			checkEventTypes(t, m, brokerName(r), r.EventTypes)
		})
	}
}

func brokerName(r *Rendered) string {
	for n := range r.Brokers {
		return n
	}
	return ""
}

// checkTriggers: the rendered Triggers are exactly the manifest's, with
// their filters and delivery policies: no consumer without a trigger, no
// trigger without a consumer.
func checkTriggers(t *testing.T, m manifest.Document, r *Rendered) {
	t.Helper()
	if len(r.Brokers) != 1 {
		t.Fatalf("%d brokers, want 1", len(r.Brokers))
	}
	type row struct {
		Name, Broker, Subscriber string
		Filter                   map[string]string
		Retry                    int
		BackoffPolicy            string
		BackoffDelay, Timeout    string
		DeadLetters              bool
	}
	var want, got []row
	for _, f := range m.Functions {
		for _, tr := range f.Consumes {
			want = append(want, row{tr.Name, brokerName(r), f.Name, tr.Filter, tr.Delivery.Retry,
				tr.Delivery.BackoffPolicy, manifest.ISO8601(tr.Delivery.BackoffDelay), manifest.ISO8601(tr.Delivery.Timeout), true})
		}
	}
	for _, tr := range r.Triggers {
		g := row{Name: tr.Name, Broker: tr.Spec.Broker}
		if ref := tr.Spec.Subscriber.Ref; ref != nil && ref.Kind == "Service" && ref.APIVersion == "serving.knative.dev/v1" {
			g.Subscriber = ref.Name
		}
		if tr.Spec.Filter != nil {
			g.Filter = map[string]string(tr.Spec.Filter.Attributes)
		}
		if d := tr.Spec.Delivery; d != nil {
			if d.Retry != nil {
				g.Retry = int(*d.Retry)
			}
			if d.BackoffPolicy != nil {
				g.BackoffPolicy = string(*d.BackoffPolicy)
			}
			if d.BackoffDelay != nil {
				g.BackoffDelay = *d.BackoffDelay
			}
			if d.Timeout != nil {
				g.Timeout = *d.Timeout
			}
			g.DeadLetters = d.DeadLetterSink != nil
		}
		got = append(got, g)
	}
	byName := cmpopts.SortSlices(func(a, b row) bool { return a.Name < b.Name })
	if diff := cmp.Diff(want, got, byName); diff != "" {
		t.Errorf("Triggers differ from the manifest (-manifest +chart):\n%s", diff)
	}
}

// checkServices: one Knative Service per function, non-root with a
// read-only root file system, probes on the health endpoints, autoscaling
// annotations, cluster-local.
func checkServices(t *testing.T, m manifest.Document, r *Rendered) {
	t.Helper()
	known := map[string]bool{}
	for _, f := range m.Functions {
		known[f.Name] = true
		s, ok := r.Services[f.Name]
		if !ok {
			t.Errorf("function %s: no Knative Service", f.Name)
			continue
		}
		spec := s.Spec.Template.Spec
		if len(spec.Containers) != 1 {
			t.Errorf("%s: %d containers", f.Name, len(spec.Containers))
			continue
		}
		c := spec.Containers[0]
		if c.ReadinessProbe == nil || c.ReadinessProbe.HTTPGet == nil || c.ReadinessProbe.HTTPGet.Path != "/health/readiness" {
			t.Errorf("%s: readiness probe %+v, want GET /health/readiness", f.Name, c.ReadinessProbe)
		}
		// Knative probes aggressively (every 50 ms while a pod starts)
		// only with periodSeconds 0, and refuses a failureThreshold or a
		// timeoutSeconds beside it.
		if rp := c.ReadinessProbe; rp != nil && (rp.PeriodSeconds != 0 || rp.FailureThreshold != 0 || rp.TimeoutSeconds != 0) {
			t.Errorf("%s: readiness probe period %ds, failureThreshold %d, timeout %ds; want Knative's aggressive probing (all 0) by default",
				f.Name, rp.PeriodSeconds, rp.FailureThreshold, rp.TimeoutSeconds)
		}
		if c.LivenessProbe == nil || c.LivenessProbe.HTTPGet == nil || c.LivenessProbe.HTTPGet.Path != "/health/liveness" {
			t.Errorf("%s: liveness probe %+v, want GET /health/liveness", f.Name, c.LivenessProbe)
		}
		sc := c.SecurityContext
		if sc == nil || sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem ||
			sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
			t.Errorf("%s: securityContext %+v, want non-root, read-only root, no privilege escalation", f.Name, sc)
		}
		if !strings.Contains(c.Image, "/"+f.Name) {
			t.Errorf("%s: image %q is not the function's", f.Name, c.Image)
		}
		env := map[string]bool{}
		for _, e := range c.Env {
			env[e.Name] = true
		}
		if !env["DATABASE_URL"] {
			t.Errorf("%s: no DATABASE_URL", f.Name)
		}
		if len(c.EnvFrom) == 0 {
			t.Errorf("%s: no ConfigMap in envFrom", f.Name)
		}
		for _, a := range []string{"autoscaling.knative.dev/min-scale", "autoscaling.knative.dev/max-scale", "autoscaling.knative.dev/target", "autoscaling.knative.dev/class"} {
			if _, ok := s.Spec.Template.Annotations[a]; !ok {
				t.Errorf("%s: no %s annotation", f.Name, a)
			}
		}
		if s.Labels["networking.knative.dev/visibility"] != "cluster-local" {
			t.Errorf("%s: not cluster-local", f.Name)
		}
		if spec.TimeoutSeconds == nil || *spec.TimeoutSeconds <= 0 {
			t.Errorf("%s: no timeoutSeconds", f.Name)
		}
		// A Trigger's per-attempt timeout must fit in the revision's.
		for _, tr := range f.Consumes {
			if spec.TimeoutSeconds == nil || tr.Delivery.Timeout.Seconds() > float64(*spec.TimeoutSeconds) {
				t.Errorf("%s: trigger %s timeout %v exceeds timeoutSeconds %v", f.Name, tr.Name, tr.Delivery.Timeout, spec.TimeoutSeconds)
			}
		}
	}
	for name, s := range r.Services {
		if !known[name] && s.Labels["app.kubernetes.io/component"] != "site" && s.Labels["app.kubernetes.io/component"] != "dead-letters" {
			t.Errorf("Knative Service %s is no function of the manifest", name)
		}
	}
}

// checkSinkBindings: exactly the functions that emit events have K_SINK
// bound to the Broker.
func checkSinkBindings(t *testing.T, m manifest.Document, r *Rendered) {
	t.Helper()
	var want, got []string
	for _, f := range m.Functions {
		if len(f.Emits) > 0 {
			want = append(want, f.Name)
		}
	}
	for _, sb := range r.SinkBindings {
		got = append(got, sb.Spec.Subject.Name)
		if ref := sb.Spec.Sink.Ref; ref == nil || ref.Kind != "Broker" || ref.Name != brokerName(r) {
			t.Errorf("SinkBinding %s: sink %+v, want the Broker %s", sb.Name, sb.Spec.Sink, brokerName(r))
		}
		if sb.Spec.Subject.Kind != "Service" || sb.Spec.Subject.APIVersion != "serving.knative.dev/v1" {
			t.Errorf("SinkBinding %s: subject %+v, want a Knative Service", sb.Name, sb.Spec.Subject)
		}
	}
	if diff := cmp.Diff(want, got, cmpopts.SortSlices(func(a, b string) bool { return a < b })); diff != "" {
		t.Errorf("SinkBindings differ from the emitting functions (-manifest +chart):\n%s", diff)
	}
}

// checkRoutes: every route of the manifest is a PathPrefix of one
// HTTPRoute on the public host, rewritten to its function's cluster-local
// host; the site has "/".
func checkRoutes(t *testing.T, m manifest.Document, r *Rendered) {
	t.Helper()
	want := map[string]string{}
	for _, f := range m.Functions {
		for _, p := range f.Routes {
			want[p] = f.Name
		}
	}
	got := map[string]string{}
	for _, hr := range r.HTTPRoutes {
		for _, rule := range hr.Spec.Rules {
			host := ""
			for _, fl := range rule.Filters {
				if fl.URLRewrite != nil && fl.URLRewrite.Hostname != nil {
					host = string(*fl.URLRewrite.Hostname)
				}
			}
			fn, _, _ := strings.Cut(host, ".")
			if want := fmt.Sprintf("%s.%s.svc.cluster.local", fn, Namespace); host != want {
				t.Errorf("HTTPRoute %s: Host rewritten to %q, want %q", hr.Name, host, want)
			}
			if _, ok := r.Services[fn]; !ok {
				t.Errorf("HTTPRoute %s: no Knative Service %s", hr.Name, fn)
			}
			for _, mt := range rule.Matches {
				if mt.Path == nil || mt.Path.Type == nil || *mt.Path.Type != gatewayv1.PathMatchPathPrefix {
					t.Errorf("HTTPRoute %s: match %+v is not a PathPrefix", hr.Name, mt)
					continue
				}
				if *mt.Path.Value == "/" {
					continue
				}
				got[*mt.Path.Value] = fn
			}
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("public routes differ from the manifest (-manifest +chart):\n%s", diff)
	}
}

// checkPing: a PingSource to the Broker exactly when a Trigger listens to
// pings.
func checkPing(t *testing.T, m manifest.Document, r *Rendered) {
	t.Helper()
	want := 0
	for _, f := range m.Functions {
		for _, tr := range f.Consumes {
			if tr.Filter["type"] == "dev.knative.sources.ping" {
				want = 1
			}
		}
	}
	if len(r.PingSources) != want {
		t.Fatalf("%d PingSources, want %d", len(r.PingSources), want)
	}
	for _, p := range r.PingSources {
		if ref := p.Spec.Sink.Ref; ref == nil || ref.Kind != "Broker" || ref.Name != brokerName(r) {
			t.Errorf("PingSource %s: sink %+v, want the Broker", p.Name, p.Spec.Sink)
		}
	}
}

// checkMigrations: the migration Job is a pre-install/pre-upgrade hook,
// non-root, and the Secret it reads (when the chart makes it) is a hook made
// before it.
func checkMigrations(t *testing.T, m manifest.Document, r *Rendered) {
	t.Helper()
	if len(r.Jobs) != 1 {
		t.Fatalf("%d Jobs, want the migration Job", len(r.Jobs))
	}
	for _, j := range r.Jobs {
		if h := j.Annotations["helm.sh/hook"]; h != "pre-install,pre-upgrade" {
			t.Errorf("Job %s: hook %q", j.Name, h)
		}
		c := j.Spec.Template.Spec.Containers[0]
		if !strings.Contains(c.Image, "/"+m.Migrate) {
			t.Errorf("Job %s: image %q", j.Name, c.Image)
		}
		if sc := c.SecurityContext; sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem || sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot {
			t.Errorf("Job %s: securityContext %+v", j.Name, sc)
		}
		for _, e := range c.Env {
			if e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil {
				continue
			}
			if s, ok := r.Secrets[e.ValueFrom.SecretKeyRef.Name]; ok && s.Annotations["helm.sh/hook"] == "" {
				t.Errorf("Secret %s is read by the migration hook but is no hook itself", s.Name)
			}
		}
	}
}

// checkReferences: what Triggers, SinkBindings, DomainMappings and
// dead-letter sinks point at is in the rendering.
func checkReferences(t *testing.T, r *Rendered) {
	t.Helper()
	svc := func(where, name string) {
		if _, ok := r.Services[name]; !ok {
			t.Errorf("%s: no Knative Service %s in the chart", where, name)
		}
	}
	for _, tr := range r.Triggers {
		svc("Trigger "+tr.Name, tr.Spec.Subscriber.Ref.Name)
		if tr.Spec.Broker != brokerName(r) {
			t.Errorf("Trigger %s: broker %s", tr.Name, tr.Spec.Broker)
		}
		if d := tr.Spec.Delivery.DeadLetterSink; d != nil && d.Ref != nil {
			svc("Trigger "+tr.Name+" dead letters", d.Ref.Name)
		}
	}
	for _, b := range r.Brokers {
		if b.Spec.Delivery == nil || b.Spec.Delivery.DeadLetterSink == nil {
			t.Errorf("Broker %s: no dead-letter sink", b.Name)
		} else if ref := b.Spec.Delivery.DeadLetterSink.Ref; ref != nil {
			svc("Broker dead letters", ref.Name)
		}
	}
	for _, sb := range r.SinkBindings {
		svc("SinkBinding "+sb.Name, sb.Spec.Subject.Name)
	}
	for _, dm := range r.DomainMappings {
		svc("DomainMapping "+dm.Name, dm.Spec.Ref.Name)
	}
	for _, s := range r.Services {
		for _, c := range s.Spec.Template.Spec.Containers {
			for _, e := range c.EnvFrom {
				if e.ConfigMapRef != nil {
					if _, ok := r.ConfigMaps[e.ConfigMapRef.Name]; !ok {
						t.Errorf("Service %s: no ConfigMap %s", s.Name, e.ConfigMapRef.Name)
					}
				}
			}
		}
	}
}

// checkEventTypes: the EventTypes are the event registry of the catalog:
// one for each event type a function emits and each function emitting it,
// with the catalog's description and schema, on the Broker.
func checkEventTypes(t *testing.T, m manifest.Document, broker string, got map[string]*eventingv1beta2.EventType) {
	t.Helper()
	type row struct{ Type, Source, Schema, Description, Broker string }
	catalog := map[string]manifest.Event{}
	for _, e := range m.Events {
		catalog[e.Name] = e
	}
	var want, have []row
	for _, f := range m.Functions {
		for _, typ := range f.Emits {
			e, ok := catalog[typ]
			if !ok {
				t.Errorf("%s emits %s, not in the event catalog", f.Name, typ)
			}
			want = append(want, row{typ, "/sportello/" + f.Name, e.DataSchema(), e.Description, broker})
		}
	}
	for _, et := range got {
		r := row{Type: et.Spec.Type, Description: et.Spec.Description}
		if et.Spec.Source != nil {
			r.Source = et.Spec.Source.String()
		}
		if et.Spec.Schema != nil {
			r.Schema = et.Spec.Schema.String()
		}
		if ref := et.Spec.Reference; ref != nil && ref.Kind == "Broker" && ref.APIVersion == "eventing.knative.dev/v1" {
			r.Broker = ref.Name
		}
		have = append(have, r)
	}
	less := func(a, b row) bool { return a.Type+" "+a.Source < b.Type+" "+b.Source }
	if diff := cmp.Diff(want, have, cmpopts.SortSlices(less)); diff != "" {
		t.Errorf("EventTypes differ from the event catalog and the emitters (-manifest +EventTypes):\n%s", diff)
	}
}

// TestChartRefuses: values the chart must not render.
func TestChartRefuses(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"unknown function", []string{"--set", "functions.nope.enabled=true"}, "no function called nope"},
		{"unknown secrets group", []string{"--set", "functions.reserve.secrets={database,vault}"}, "no secrets group called vault"},
		{"negative scale", []string{"--set", "functions.reserve.autoscaling.minScale=-1"}, "minScale"},
		{"Knative's own variable", []string{"--set", "config.PORT=9090"}, "PORT"},
		{"bad delivery duration", []string{"--set", "broker.delivery.backoffDelay=1s"}, "backoffDelay"},
		{"unknown key", []string{"--set", "functionDefaults.replicas=3"}, "replicas"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := helmTemplate(t, tc.args...)
			if err == nil {
				t.Fatalf("rendered with %v", tc.args)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not mention %q", err, tc.want)
			}
		})
	}
}

// fieldErr turns a nil *apis.FieldError into a nil error.
func fieldErr(fe *apis.FieldError) error {
	if fe == nil {
		return nil
	}
	return fe
}
