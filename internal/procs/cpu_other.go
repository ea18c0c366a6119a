//go:build !unix

package procs

import "time"

// processCPU is not available here: nothing is scaled.
func processCPU() (time.Duration, bool) { return 0, false }
