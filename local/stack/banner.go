// This file holds the banner the stack prints once everything runs, and
// the demo accounts it lists.

package stack

import (
	"net"
	"strconv"
	"strings"

	"github.com/sportello/sportello/local/services"
	"github.com/sportello/sportello/local/traces"
)

// DemoPassword is the password of every demo account of the demo data
// (functions/internal/store/postgres/demo.sql); only the local stack loads them.
const DemoPassword = "sportello-demo"

// DemoAccounts are the demo operators: one per office of the first phase,
// and an administrator.
var DemoAccounts = []string{
	"operatore.urp@comune.bari.it", "operatore.ambiente@comune.bari.it",
	"operatore.urbanistica@comune.bari.it", "admin@comune.bari.it (administrator)",
}

func (s *Stack) banner() {
	gw := "http://" + net.JoinHostPort(s.host(), strconv.Itoa(s.cfg.Port))
	site := "index of the API (the site is not built: see the web log above)"
	if d := s.gw.SiteFolder(); d != "" {
		site = "the site (built into " + d + "); booking at " + gw + "/prenota/"
	}
	tick := "off (-tick)"
	if s.cfg.Tick > 0 {
		tick = "a ping every " + s.cfg.Tick.String()
	}
	console := "no console"
	if u := s.minio.ConsoleURL(); u != "" {
		console = "console " + u + " (user " + s.minio.AccessKey + ", password " + s.minio.SecretKey + ")"
	}
	lines := []string{
		"",
		"Sportello is running.",
		"  gateway       " + gw + "/   " + site,
		"  offices       curl -s " + gw + "/api/offices",
		"  free slots    curl -s '" + gw + "/api/slots?service_id=sue'",
		"  mail          " + s.mailpit.URL() + "/   Mailpit: every mail sent (SMTP 127.0.0.1:" + strconv.Itoa(s.mailpit.SMTPPort) + ")",
		"  video         " + s.livekit.URL() + "   LiveKit (API key " + services.DevAPIKey + ")",
		"  documents     " + s.minio.Endpoint() + "   MinIO, bucket " + s.minio.Bucket + "; " + console,
		"  traces        " + gw + traces.Path + "   book once, then open it: the booking's whole trace, span by span",
		"                Jaeger keeps them: " + s.jaeger.URL() + "/api/traces?service=reserve (OTLP in at " + s.jaeger.OTLPEndpoint() + ")",
		"  metrics       " + s.metrics.URL() + "/vmui/   VictoriaMetrics: every function scraped each " + services.DefaultScrapeInterval.String() +
			"; API: curl -s '" + s.metrics.URL() + "/api/v1/query?query=up'",
		"  events        curl -s " + gw + "/_local/events",
		"  dead letters  curl -s " + gw + "/_local/dead-letters",
		"  broker        " + s.brokerURL() + "   triggers: curl -s " + s.brokerURL() + "triggers",
		"  housekeeping  " + tick,
		"  services      curl -s " + gw + "/_local/services",
		"  health        curl -s " + gw + "/health",
		"  database      psql '" + s.pg.URL(Database) + "'",
		"  operators     sign in: curl -si -c /tmp/op.jar " + gw + "/api/operator/session -H 'Content-Type: application/json' \\",
		"                  -d '{\"email\":\"operatore.urp@comune.bari.it\",\"password\":\"" + DemoPassword + "\"}'",
		"                demo accounts (password " + DemoPassword + "): " + strings.Join(DemoAccounts, ", "),
		"Ctrl-C to stop.",
		"",
	}
	s.console.Println(strings.Join(lines, "\n"))
}
