package deploy

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"sigs.k8s.io/yaml"
)

// compileSchema compiles the chart's values.schema.json.
func compileSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root(t), "charts", "sportello", "values.schema.json"))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	// JSON is YAML: the schema is read as the values are.
	if err := c.AddResource("values.schema.json", yamlDoc(t, b)); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile("values.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// yamlDoc reads a YAML document for the schema to validate.
func yamlDoc(t *testing.T, b []byte) any {
	t.Helper()
	j, err := yaml.YAMLToJSON(b)
	if err != nil {
		t.Fatal(err)
	}
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(j))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestValuesSchema: values.yaml and values-production.yaml (the latter
// complete on its own) satisfy values.schema.json, and mistakes do not.
func TestValuesSchema(t *testing.T) {
	s := compileSchema(t)
	for _, f := range []string{"values.yaml", "values-production.yaml"} {
		b, err := os.ReadFile(filepath.Join(root(t), "charts", "sportello", f))
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Validate(yamlDoc(t, b)); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
	defaults, err := os.ReadFile(filepath.Join(root(t), "charts", "sportello", "values.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	bad := map[string]string{
		"unknown top-level key":  "replicas: 3\n",
		"negative maxScale":      "functions: {reserve: {autoscaling: {maxScale: -1}}}\n",
		"bad metric":             "functions: {reserve: {autoscaling: {metric: latency}}}\n",
		"reserved env":           "functions: {reserve: {env: {K_SINK: http://x}}}\n",
		"lower-case env":         "config: {time_zone: Europe/Rome}\n",
		"non-ISO backoff":        "broker: {name: sportello, class: MTChannelBasedBroker, delivery: {backoffDelay: 5s}}\n",
		"bad cron":               "ping: {name: tick, schedule: every minute}\n",
		"function name":          "functions: {Reserve: {}}\n",
		"timeout too long":       "functions: {reserve: {timeoutSeconds: 3600}}\n",
		"dead letters not a URL": "deadLetters: {uri: not-a-url}\n",
	}
	for name, overlay := range bad {
		t.Run(name, func(t *testing.T) {
			var base, over map[string]any
			if err := yaml.Unmarshal(defaults, &base); err != nil {
				t.Fatal(err)
			}
			if err := yaml.Unmarshal([]byte(overlay), &over); err != nil {
				t.Fatal(err)
			}
			merged, err := yaml.Marshal(mergeValues(base, over))
			if err != nil {
				t.Fatal(err)
			}
			if err := s.Validate(yamlDoc(t, merged)); err == nil {
				t.Errorf("schema accepts %s", overlay)
			}
		})
	}
}

// mergeValues overlays b on a as Helm merges values files.
func mergeValues(a, b map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		am, aok := out[k].(map[string]any)
		bm, bok := v.(map[string]any)
		if aok && bok {
			out[k] = mergeValues(am, bm)
		} else {
			out[k] = v
		}
	}
	return out
}
