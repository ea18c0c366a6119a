package bench

import (
	"bytes"
	"math"
	"os"
	"runtime/metrics"
	"strconv"
	"syscall"
	"time"
)

// procSample is a process's CPU time and memory from /proc/<pid>.
type procSample struct {
	ok    bool
	cpu   time.Duration // user + system
	rssKB int64         // VmRSS
	hwmKB int64         // VmHWM (peak RSS)
}

// clkTck is USER_HZ, 100 on every Linux platform Go supports.
const clkTck = 100

func sampleProc(pid int) procSample {
	if pid <= 0 {
		return procSample{}
	}
	p := "/proc/" + strconv.Itoa(pid)
	stat, err := os.ReadFile(p + "/stat")
	if err != nil {
		return procSample{}
	}
	// Fields after the command name, which is in parentheses and may hold spaces.
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return procSample{}
	}
	f := bytes.Fields(stat[i+1:])
	// f[0] is field 3 (state); utime and stime are fields 14 and 15.
	if len(f) < 13 {
		return procSample{}
	}
	ut, _ := strconv.ParseInt(string(f[11]), 10, 64)
	st, _ := strconv.ParseInt(string(f[12]), 10, 64)
	s := procSample{ok: true, cpu: time.Duration(ut+st) * time.Second / clkTck}
	status, err := os.ReadFile(p + "/status")
	if err == nil {
		s.rssKB = statusKB(status, "VmRSS:")
		s.hwmKB = statusKB(status, "VmHWM:")
	}
	return s
}

func statusKB(status []byte, key string) int64 {
	i := bytes.Index(status, []byte(key))
	if i < 0 {
		return 0
	}
	line := status[i+len(key):]
	if j := bytes.IndexByte(line, '\n'); j >= 0 {
		line = line[:j]
	}
	f := bytes.Fields(line)
	if len(f) == 0 {
		return 0
	}
	v, _ := strconv.ParseInt(string(f[0]), 10, 64)
	return v
}

// selfGCs is the number of garbage collections the generator's process has
// completed: a collection in the measured window pauses the generator's
// own clients, in the measurement of any broker.
func selfGCs() uint64 {
	s := []metrics.Sample{{Name: "/gc/cycles/total:gc-cycles"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return s[0].Value.Uint64()
}

func ptr[T any](v T) *T { return &v }

// stealTime is the CPU time the hypervisor has taken from this machine's
// CPUs while they had work to run (the "steal" column of /proc/stat's cpu
// line, summed over CPUs); ok is false where there is no such figure (not
// Linux, or a kernel without it). On a shared virtual machine a run that
// loses milliseconds this way has its latency tail stretched, whatever the
// broker: the figure lets a reader tell such runs apart.
func stealTime() (time.Duration, bool) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, false
	}
	return parseSteal(b)
}

// parseSteal reads the steal column from /proc/stat's contents: the eighth
// number of the "cpu " line, in USER_HZ ticks.
func parseSteal(stat []byte) (time.Duration, bool) {
	for len(stat) > 0 {
		line := stat
		if i := bytes.IndexByte(stat, '\n'); i >= 0 {
			line, stat = stat[:i], stat[i+1:]
		} else {
			stat = nil
		}
		f := bytes.Fields(line)
		if len(f) == 0 || string(f[0]) != "cpu" {
			continue
		}
		if len(f) < 9 {
			return 0, false
		}
		// Unsigned in the kernel; a value no duration holds (kernels have
		// printed such after a live migration) counts as none.
		v, err := strconv.ParseUint(string(f[8]), 10, 64)
		const tick = time.Second / clkTck
		if err != nil || v > uint64(math.MaxInt64/tick) {
			return 0, false
		}
		return time.Duration(v) * tick, true
	}
	return 0, false
}

// selfCPU is this process's user + system CPU time.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
