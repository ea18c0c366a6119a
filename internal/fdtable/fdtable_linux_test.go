//go:build linux

package fdtable

import (
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// fdSize reads the number of slots of this process's descriptor table
// (FDSize in /proc/self/status).
func fdSize(t *testing.T) int {
	t.Helper()
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Skip("no /proc/self/status:", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "FDSize:"); ok {
			n, err := strconv.Atoi(strings.TrimSpace(v))
			if err != nil {
				t.Fatalf("FDSize %q: %v", v, err)
			}
			return n
		}
	}
	t.Fatal("no FDSize in /proc/self/status")
	return 0
}

func TestReserveGrowsTheTable(t *testing.T) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	want := 8192
	if lim.Cur < uint64(want) {
		want = int(lim.Cur)
	}
	if want <= 64 {
		t.Skipf("RLIMIT_NOFILE is %d", lim.Cur)
	}
	before := fdSize(t)
	got := Reserve(want)
	if got != want {
		t.Fatalf("Reserve(%d) = %d", want, got)
	}
	if after := fdSize(t); after < want {
		t.Fatalf("FDSize %d after Reserve(%d) (before: %d)", after, want, before)
	}
	// The descriptor used to grow it is closed again: the next one opened
	// is a low number, as before.
	f, err := os.Open("/dev/null")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if fd := int(f.Fd()); fd >= want-1 {
		t.Fatalf("next descriptor is %d: the reserving one was left open", fd)
	}
}

func TestReserveCappedByLimit(t *testing.T) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	if lim.Cur > 1<<17 || lim.Cur <= 64 { // a large limit: too big a table for a test
		t.Skipf("RLIMIT_NOFILE is %d", lim.Cur)
	}
	if got := Reserve(int(lim.Cur) * 2); got != int(lim.Cur) {
		t.Fatalf("Reserve(2×limit) = %d, want the limit %d", got, lim.Cur)
	}
}
