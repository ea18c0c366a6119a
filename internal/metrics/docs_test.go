package metrics

import (
	"encoding/json"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// describedNames lists the metric names the /metrics collectors describe.
func describedNames(t *testing.T) map[string]bool {
	t.Helper()
	ch := make(chan *prometheus.Desc, 512)
	go func() {
		for _, c := range Collectors(newServer(t), Options{}) {
			c.Describe(ch)
		}
		close(ch)
	}()
	// A Desc shows its name only through String.
	fq := regexp.MustCompile(`fqName: "([^"]+)"`)
	names := map[string]bool{}
	for d := range ch {
		m := fq.FindStringSubmatch(d.String())
		if m == nil {
			t.Fatalf("no name in %s", d)
		}
		names[m[1]] = true
	}
	return names
}

// exprs collects every "expr" string anywhere in a decoded JSON document.
func exprs(v any, out *[]string) {
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			if s, ok := x.(string); ok && k == "expr" {
				*out = append(*out, s)
				continue
			}
			exprs(x, out)
		}
	case []any:
		for _, x := range v {
			exprs(x, out)
		}
	}
}

// The dashboard in docs/ queries only metrics that exist, and covers what
// the issue asks it to show, so it cannot rot silently.
func TestDashboardMetricsExist(t *testing.T) {
	raw, err := os.ReadFile("../../docs/grafana-dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash map[string]any
	if err := json.Unmarshal(raw, &dash); err != nil {
		t.Fatalf("dashboard is not JSON: %v", err)
	}
	if v, _ := dash["schemaVersion"].(float64); v < 36 {
		t.Errorf("schemaVersion %v", dash["schemaVersion"])
	}
	if !strings.Contains(string(raw), `"uid": "${datasource}"`) {
		t.Error("panels do not use the datasource variable")
	}
	var all []string
	exprs(dash, &all)
	if len(all) < 10 {
		t.Fatalf("only %d queries", len(all))
	}
	known := describedNames(t)
	name := regexp.MustCompile(`\b(?:midge|go|process)_[a-zA-Z0-9_]+`)
	used := map[string]bool{}
	for _, e := range all {
		for _, n := range name.FindAllString(e, -1) {
			base := n
			for _, suffix := range []string{"_bucket", "_sum", "_count"} {
				if b, ok := strings.CutSuffix(n, suffix); ok && known[b] {
					base = b
				}
			}
			if !known[base] {
				t.Errorf("dashboard query %q uses %s, which /metrics does not have", e, n)
			}
			used[base] = true
		}
	}
	for _, need := range []string{"midge_clients_connected", "midge_publish_messages_received_total",
		"midge_publish_messages_dropped_total", "midge_disconnects_total", "midge_publish_latency_seconds",
		"midge_inflight_messages", "midge_retained_messages", "midge_store_disk_bytes",
		"go_memstats_heap_alloc_bytes", "go_goroutines"} {
		if !used[need] {
			t.Errorf("the dashboard has no panel over %s", need)
		}
	}
}

// docs/METRICS.md lists every midge metric.
func TestMetricsDocumented(t *testing.T) {
	doc, err := os.ReadFile("../../docs/METRICS.md")
	if err != nil {
		t.Fatal(err)
	}
	for n := range describedNames(t) {
		if strings.HasPrefix(n, "midge_") && !strings.Contains(string(doc), "`"+n+"`") {
			t.Errorf("docs/METRICS.md does not describe %s", n)
		}
	}
}
