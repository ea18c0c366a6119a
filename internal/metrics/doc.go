// Package metrics serves the broker's figures to Prometheus (issue 8): an
// HTTP server on metrics_address with /metrics in the Prometheus text
// format, /healthz and /readyz.
//
// Invariants:
//   - There is one set of counters, broker.Stats, which $SYS reads too; the
//     Collector reads it (and the broker's state, for gauges) at scrape time
//     and keeps nothing of its own, so the two views cannot drift apart.
//   - Every metric has HELP text and is listed in docs/METRICS.md, and the
//     Grafana dashboard in docs/ uses only metrics the collectors describe;
//     tests check both.
//   - Counters only ever grow; gauges computed from counts that go up and
//     down in pairs (connected clients) never go below zero.
package metrics
