package app

import (
	"fmt"
	"net/http"
	_ "net/http/pprof" // registers /debug/pprof/ on the default mux
	"os"
)

// MIDGE_PPROF=host:port serves Go's profiler (/debug/pprof/) on that address,
// for performance work: `go tool pprof http://host:port/debug/pprof/profile`.
// It is off unless the variable is set; bind it to loopback.
func init() {
	addr := os.Getenv("MIDGE_PPROF")
	if addr == "" {
		return
	}
	go func() {
		if err := http.ListenAndServe(addr, nil); err != nil {
			fmt.Fprintln(os.Stderr, "midge: MIDGE_PPROF:", err)
		}
	}()
}
