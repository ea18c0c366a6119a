package app

import (
	"time"

	"github.com/midgemq/midge/internal/broker"
	"github.com/midgemq/midge/internal/logcat"
	"github.com/midgemq/midge/internal/metrics"
)

// startMetrics opens metrics_address (issue 8) once the broker exists, so
// that /healthz answers and /readyz says "not ready" while the store is
// restored and the listeners open. A bind failure stops the start-up, as
// for an MQTT listener. It returns the function that stops the server and
// an exit status (0 = go on).
func (r *runner) startMetrics(start time.Time) (stop func(), code int) {
	addr := r.cfg.MetricsAddress
	if addr == "" {
		return func() {}, 0
	}
	reg := metrics.NewRegistry(r.srv, metrics.Options{CompatVersion: CompatVersion, Start: start})
	srv, err := metrics.Listen(addr, metrics.Handler(reg, r.srv.Ready))
	if err != nil {
		r.log.Log(logcat.MetricsListenError, addr, broker.ErrorText(err))
		return nil, exitFail
	}
	r.log.Log(logcat.MetricsListen, srv.Addr().String())
	return srv.Close, 0
}
