// Command promql parses PromQL expressions with Prometheus's own parser
// for the deploy tests (deploy/test/promql_test.go): it reads a JSON array
// of expressions on stdin and writes, for each, the parse error or the
// series selectors it names (metric name and label matchers) and the
// labels it groups by. It is a module of its own so that Prometheus's
// dependencies do not move the deploy tests' Kubernetes and Knative
// versions.
package main

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
)

// Matcher is one label matcher of a selector.
type Matcher struct {
	Label string `json:"label"`
	Op    string `json:"op"`
	Value string `json:"value"`
}

// Selector is one series selector of an expression.
type Selector struct {
	Metric   string    `json:"metric"`
	Matchers []Matcher `json:"matchers"`
}

// Result is what an expression names, or why it does not parse.
type Result struct {
	Expr      string     `json:"expr"`
	Error     string     `json:"error,omitempty"`
	Selectors []Selector `json:"selectors,omitempty"`
	Grouping  []string   `json:"grouping,omitempty"`
}

func main() {
	var exprs []string
	if err := json.NewDecoder(os.Stdin).Decode(&exprs); err != nil {
		fmt.Fprintln(os.Stderr, "promql:", err)
		os.Exit(2)
	}
	out := make([]Result, 0, len(exprs))
	for _, e := range exprs {
		out = append(out, parse(e))
	}
	if err := json.NewEncoder(os.Stdout).Encode(out); err != nil {
		fmt.Fprintln(os.Stderr, "promql:", err)
		os.Exit(2)
	}
}

func parse(e string) Result {
	r := Result{Expr: e}
	expr, err := parser.NewParser(parser.Options{}).ParseExpr(e)
	if err != nil {
		r.Error = err.Error()
		return r
	}
	parser.Inspect(expr, func(n parser.Node, _ []parser.Node) error {
		switch n := n.(type) {
		case *parser.VectorSelector:
			s := Selector{}
			for _, m := range n.LabelMatchers {
				if m.Name == labels.MetricName {
					s.Metric = m.Value
					continue
				}
				s.Matchers = append(s.Matchers, Matcher{m.Name, m.Type.String(), m.Value})
			}
			r.Selectors = append(r.Selectors, s)
		case *parser.AggregateExpr:
			r.Grouping = append(r.Grouping, n.Grouping...)
		case *parser.BinaryExpr:
			if n.VectorMatching != nil {
				r.Grouping = append(r.Grouping, n.VectorMatching.MatchingLabels...)
				r.Grouping = append(r.Grouping, n.VectorMatching.Include...)
			}
		}
		return nil
	})
	return r
}
