package telemetry

import (
	"slices"
	"strings"
)

// The names of OpenTelemetry's metrics and attributes in the Prometheus
// format, by the rules of OpenTelemetry's Prometheus exporter (its
// otlptranslator, UnderscoreEscapingWithSuffixes): sportello.holds, a
// counter of {hold}, is sportello_holds_total; sportello.outbox.oldest.age,
// a gauge in s, sportello_outbox_oldest_age_seconds.

// promUnits are the units that name a suffix, and perUnits the units after
// a slash ("By/s": bytes_per_second).
var (
	promUnits = map[string]string{
		"d": "days", "h": "hours", "min": "minutes", "s": "seconds", "ms": "milliseconds", "us": "microseconds", "ns": "nanoseconds",
		"By": "bytes", "KiBy": "kibibytes", "MiBy": "mebibytes", "GiBy": "gibibytes", "TiBy": "tibibytes",
		"KBy": "kilobytes", "MBy": "megabytes", "GBy": "gigabytes", "TBy": "terabytes",
		"m": "meters", "V": "volts", "A": "amperes", "J": "joules", "W": "watts", "g": "grams",
		"Cel": "celsius", "Hz": "hertz", "1": "", "%": "percent",
	}
	perUnits = map[string]string{"s": "second", "m": "minute", "h": "hour", "d": "day", "w": "week", "mo": "month", "y": "year"}
)

// promName is the name of a metric called name, in unit: its words (what
// lies between characters other than letters, digits and colons) joined
// by underscores, then the unit's suffix unless already a word, then
// "total" for a counter (monotonic sum) and "ratio" for a gauge in "1"
// (ratio). A unit in braces ({hold}) is an annotation, and names nothing.
func promName(name, unit string, counter, ratio bool) string {
	words := strings.FieldsFunc(name, func(r rune) bool { return !isMetricChar(r) })
	main, per := unitSuffixes(unit)
	if main != "" && !slices.Contains(words, main) {
		words = append(words, main)
	}
	if per != "" {
		words = append(words, per)
	}
	if counter {
		words = append(slices.DeleteFunc(words, func(w string) bool { return w == "total" }), "total")
	}
	if ratio {
		words = append(slices.DeleteFunc(words, func(w string) bool { return w == "ratio" }), "ratio")
	}
	n := strings.Join(words, "_")
	if n != "" && isDigit(rune(n[0])) {
		n = "_" + n
	}
	return n
}

// unitSuffixes are the suffixes of a unit: "s" is "seconds", "By/s" is
// "bytes" and "per_second", "{hold}" nothing.
func unitSuffixes(unit string) (main, per string) {
	m, p, _ := strings.Cut(unit, "/")
	if m = strings.TrimSpace(m); m != "" && !strings.ContainsAny(m, "{}") {
		main = cleanUnit(lookup(promUnits, m))
	}
	if p = strings.TrimSpace(p); p != "" && !strings.ContainsAny(p, "{}") {
		per = cleanUnit("per_" + lookup(perUnits, p))
	}
	if per == "per_" {
		return main, ""
	}
	if per != "" {
		return strings.TrimSuffix(main, "_"), strings.TrimSuffix(per, "_")
	}
	return main, ""
}

func lookup(names map[string]string, unit string) string {
	if n, ok := names[unit]; ok {
		return n
	}
	return unit
}

// cleanUnit makes each run of characters not allowed in a name one
// underscore, and drops a leading one.
func cleanUnit(u string) string {
	return strings.TrimPrefix(underscored(u, isMetricChar), "_")
}

// promLabel is the label name of an attribute's key: each run of
// characters other than letters and digits made one underscore
// (http.route: http_route, __x__: _x_, never one of Prometheus' reserved
// names), "key_" before a leading digit. It is false for a key that
// leaves nothing but underscores.
func promLabel(key string) (string, bool) {
	n := underscored(key, func(r rune) bool { return isLetter(r) || isDigit(r) })
	if n != "" && isDigit(rune(n[0])) {
		n = "key_" + n
	}
	return n, strings.Trim(n, "_") != ""
}

// underscored is s with each run of the characters that are not ok
// replaced by one underscore.
func underscored(s string, ok func(rune) bool) string {
	var b strings.Builder
	run := false
	for _, r := range s {
		switch {
		case ok(r):
			b.WriteRune(r)
			run = false
		case !run:
			b.WriteByte('_')
			run = true
		}
	}
	return b.String()
}

func isDigit(r rune) bool      { return '0' <= r && r <= '9' }
func isLetter(r rune) bool     { return 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' }
func isMetricChar(r rune) bool { return isLetter(r) || isDigit(r) || r == ':' }
