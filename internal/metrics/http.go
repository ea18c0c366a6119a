package metrics

import (
	"context"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/midgemq/midge/internal/broker"
)

// Collectors are what /metrics serves: the broker's figures, the Go
// runtime's (go_*) and the process's (process_*).
func Collectors(srv *broker.Server, o Options) []prometheus.Collector {
	return []prometheus.Collector{
		NewCollector(srv, o),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	}
}

// NewRegistry returns a private registry holding Collectors (nothing is put
// in the client library's global registry).
func NewRegistry(srv *broker.Server, o Options) *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(Collectors(srv, o)...)
	return reg
}

// Handler serves /metrics from g, /healthz (200 while the process runs) and
// /readyz (200 when ready returns nil, else 503 with the reason).
func Handler(g prometheus.Gatherer, ready func() error) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(g, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, "ok\n")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if err := ready(); err != nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			io.WriteString(w, "not ready: "+err.Error()+"\n")
			return
		}
		io.WriteString(w, "ready\n")
	})
	return mux
}

// Server is the HTTP server on metrics_address.
type Server struct {
	ln   net.Listener
	hs   *http.Server
	done chan struct{}
}

// Listen binds addr and serves h on it until Close. A bind error is
// returned, so the caller can stop the start-up as for an MQTT listener.
func Listen(addr string, h http.Handler) (*Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	s := &Server{ln: ln, done: make(chan struct{}),
		hs: &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: time.Minute}}
	go func() {
		defer close(s.done)
		// Serve returns ErrServerClosed after Close; any other error means
		// the socket failed, which /healthz going unanswered shows.
		s.hs.Serve(ln)
	}()
	return s, nil
}

// Addr is the address the server listens on.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// Close stops the server, letting running requests finish for up to a second.
func (s *Server) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if s.hs.Shutdown(ctx) != nil {
		s.hs.Close()
	}
	<-s.done
}
