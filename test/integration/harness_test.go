// Package integration drives the real midge binary with real MQTT clients:
// eclipse/paho.mqtt.golang (3.1.1), eclipse/paho.golang (v5), Debian's
// mosquitto_pub/mosquitto_sub, and raw packets for hostile input.
package integration

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var midgeBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "midge-it-")
	if err != nil {
		panic(err)
	}
	midgeBin = filepath.Join(dir, "midge")
	args := []string{"build", "-o", midgeBin}
	if os.Getenv("MIDGE_RACE") != "" {
		// MIDGE_RACE=1 builds the broker with the race detector, so the
		// integration tests double as a race test of the real binary.
		args = append(args, "-race")
	}
	out, err := exec.Command("go", append(args, "../../cmd/midge")...).CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "build midge: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// freePort asks the kernel for an unused loopback port.
func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// Broker is a running midge process.
type Broker struct {
	t    testing.TB
	Port int
	Addr string
	cmd  *exec.Cmd
	Dir  string

	mu    sync.Mutex
	lines []string
	cond  *sync.Cond
	done  chan struct{}
	exit  error
}

// timestampRE strips the epoch prefix Mosquitto puts on every line.
var timestampRE = regexp.MustCompile(`^\d+: `)

// StartBroker starts midge with the given config body (a listener line on a
// free loopback port is prepended unless the body has one) and waits for its
// "running" line. user root is added so tests can run as root without the
// privilege drop.
func StartBroker(t testing.TB, conf string, args ...string) *Broker {
	t.Helper()
	return StartBrokerEnv(t, nil, conf, args...)
}

// StartBrokerEnv is StartBroker with extra environment variables
// ("NAME=value") for the broker process.
func StartBrokerEnv(t testing.TB, env []string, conf string, args ...string) *Broker {
	t.Helper()
	port := freePort(t)
	dir := t.TempDir()
	if !strings.Contains(conf, "listener ") {
		conf = fmt.Sprintf("listener %d 127.0.0.1\n", port) + conf
	} else {
		conf = strings.ReplaceAll(conf, "PORT", fmt.Sprint(port))
	}
	if !strings.Contains(conf, "\nuser ") && !strings.HasPrefix(conf, "user ") {
		conf += "user root\n"
	}
	if !strings.Contains(conf, "allow_anonymous") {
		conf += "allow_anonymous true\n"
	}
	path := filepath.Join(dir, "midge.conf")
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	b := startBinEnv(t, env, midgeBin, append([]string{"-c", path}, args...)...)
	b.Port, b.Addr, b.Dir = port, fmt.Sprintf("127.0.0.1:%d", port), dir
	b.waitAccepting(t, 10*time.Second)
	return b
}

func startProcess(t testing.TB, args ...string) *Broker {
	t.Helper()
	return startBin(t, midgeBin, args...)
}

// startBin starts bin (midge, or another broker such as Debian's mosquitto
// for the compat test) and collects its log from stderr and stdout.
func startBin(t testing.TB, bin string, args ...string) *Broker {
	t.Helper()
	return startBinEnv(t, nil, bin, args...)
}

// startBinEnv is startBin with extra environment variables.
func startBinEnv(t testing.TB, env []string, bin string, args ...string) *Broker {
	t.Helper()
	cmd := exec.Command(bin, args...)
	if env != nil {
		cmd.Env = append(os.Environ(), env...)
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout = cmd.Stderr
	b := &Broker{t: t, cmd: cmd, done: make(chan struct{})}
	b.cond = sync.NewCond(&b.mu)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			b.mu.Lock()
			b.lines = append(b.lines, sc.Text())
			b.cond.Broadcast()
			b.mu.Unlock()
		}
		b.exit = cmd.Wait()
		b.mu.Lock()
		close(b.done)
		b.cond.Broadcast()
		b.mu.Unlock()
	}()
	t.Cleanup(func() {
		b.Stop()
		// A panic or (with MIDGE_RACE=1) a data race in the broker fails
		// the test that saw it, whatever the test itself checked.
		for _, l := range b.RawLines() {
			if strings.HasPrefix(l, "panic:") || strings.Contains(l, "WARNING: DATA RACE") ||
				strings.HasPrefix(l, "fatal error:") {
				t.Errorf("broker process reported: %s", l)
				break
			}
		}
		if t.Failed() {
			t.Logf("broker log:\n%s", strings.Join(b.Lines(), "\n"))
		}
	})
	return b
}

// waitAccepting polls until the broker accepts TCP connections (the 1.3
// dialect has no "running" line to wait for). The probe connection closes
// without sending anything, so it only logs accept and close lines, which
// tests skip by taking Mark after start.
func (b *Broker) waitAccepting(t testing.TB, d time.Duration) {
	t.Helper()
	if _, ok := b.waitLog(0, "Opening ipv4 listen socket", d); !ok {
		t.Fatalf("broker did not open its listener; log:\n%s", strings.Join(b.Lines(), "\n"))
	}
	b.WaitLog(t, "(running|listen socket on port)", d)
}

// Stop sends SIGTERM and waits for the process to exit.
func (b *Broker) Stop() error {
	select {
	case <-b.done:
		return b.exit
	default:
	}
	b.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-b.done:
	case <-time.After(10 * time.Second):
		b.cmd.Process.Kill()
		<-b.done
	}
	return b.exit
}

// Signal sends sig to the broker.
func (b *Broker) Signal(sig os.Signal) { b.cmd.Process.Signal(sig) }

// Lines returns the log lines so far, timestamps removed.
func (b *Broker) Lines() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]string, len(b.lines))
	for i, l := range b.lines {
		out[i] = timestampRE.ReplaceAllString(l, "")
	}
	return out
}

// RawLines returns the log lines as printed.
func (b *Broker) RawLines() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.lines...)
}

// Mark returns the number of lines logged so far, to wait for lines after it.
func (b *Broker) Mark() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.lines)
}

// WaitLog waits until a line (timestamp removed) matches the regexp and
// returns it.
func (b *Broker) WaitLog(t testing.TB, pattern string, d time.Duration) string {
	t.Helper()
	return b.WaitLogFrom(t, 0, pattern, d)
}

// WaitLogFrom is WaitLog considering only lines from index from on.
func (b *Broker) WaitLogFrom(t testing.TB, from int, pattern string, d time.Duration) string {
	t.Helper()
	if l, ok := b.waitLog(from, pattern, d); ok {
		return l
	}
	t.Fatalf("no log line matching %q within %v", pattern, d)
	return ""
}

func (b *Broker) waitLog(from int, pattern string, d time.Duration) (string, bool) {
	re := regexp.MustCompile(pattern)
	deadline := time.Now().Add(d)
	timer := time.AfterFunc(d, func() { b.mu.Lock(); b.cond.Broadcast(); b.mu.Unlock() })
	defer timer.Stop()
	b.mu.Lock()
	defer b.mu.Unlock()
	for {
		for i := from; i < len(b.lines); i++ {
			l := timestampRE.ReplaceAllString(b.lines[i], "")
			if re.MatchString(l) {
				return l, true
			}
		}
		select {
		case <-b.done:
			return "", false
		default:
		}
		if time.Now().After(deadline) {
			return "", false
		}
		b.cond.Wait()
	}
}

// Exited waits for the process to exit and returns its exit code.
func (b *Broker) Exited(t testing.TB, d time.Duration) int {
	t.Helper()
	select {
	case <-b.done:
	case <-time.After(d):
		t.Fatalf("broker did not exit within %v", d)
	}
	if b.exit == nil {
		return 0
	}
	if ee, ok := b.exit.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	return -1
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(5 * time.Millisecond) // polling interval, not a wait for an event
	}
}
