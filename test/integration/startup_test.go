package integration

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// runMidge runs the binary to completion and returns stdout, stderr and the
// exit status.
func runMidge(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(midgeBin, args...)
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	done := make(chan error, 1)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("midge %v did not exit", args)
	}
	return out.String(), errb.String(), cmd.ProcessState.ExitCode()
}

func stripTimestamps(s string) []string {
	var out []string
	for _, l := range strings.Split(strings.TrimRight(s, "\n"), "\n") {
		out = append(out, timestampRE.ReplaceAllString(l, ""))
	}
	return out
}

func TestHelpAndUnknownOption(t *testing.T) {
	t.Parallel()
	out, _, code := runMidge(t, "-h")
	if code != 3 || !strings.Contains(out, "Usage: mosquitto [-c config_file] [-d] [-h] [-p port]") {
		t.Errorf("-h: exit %d, stdout %q", code, out)
	}
	out, errOut, code := runMidge(t, "--bogus")
	if code != 3 || strings.TrimSpace(errOut) != "Error: Unknown option '--bogus'." || !strings.Contains(out, "Usage:") {
		t.Errorf("unknown option: exit %d, stderr %q", code, errOut)
	}
}

func TestConfigErrorsNameFileAndLine(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	cases := []struct {
		body string
		want []string
	}{
		{"listener 1883\nfoo bar\n", []string{`Error: Unknown configuration variable "foo".`, "Error found at FILE:2."}},
		{"# comment\nallow_anonymous maybe\n", []string{"Error: Invalid allow_anonymous value (maybe).", "Error found at FILE:2."}},
		{"psk_file /etc/mosquitto/psk\n", []string{"Error: The psk_file option is not supported by midge yet.", "Error found at FILE:1."}},
	}
	for i, c := range cases {
		p := write(fmt.Sprintf("bad%d.conf", i), c.body)
		_, errOut, code := runMidge(t, "-c", p)
		got := stripTimestamps(errOut)
		want := make([]string, len(c.want))
		for j, w := range c.want {
			want[j] = strings.ReplaceAll(w, "FILE", p)
		}
		if code != 3 {
			t.Errorf("%q: exit %d, want 3", c.body, code)
		}
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("%q:\n got %q\nwant %q", c.body, got, want)
		}
	}
	// A file that does not exist.
	_, errOut, code := runMidge(t, "-c", filepath.Join(dir, "missing.conf"))
	if code != 3 || !strings.Contains(errOut, "Error: Unable to open config file "+filepath.Join(dir, "missing.conf")+".") {
		t.Errorf("missing file: exit %d, %q", code, errOut)
	}
}

func TestTestConfig(t *testing.T) {
	t.Parallel()
	p := filepath.Join(t.TempDir(), "ok.conf")
	os.WriteFile(p, []byte("listener 1883\nmax_queued_messages 10\n"), 0o644)
	_, errOut, code := runMidge(t, "--test-config", "-c", p)
	if code != 0 || !strings.Contains(errOut, "Configuration file "+p+" is valid.") {
		t.Errorf("exit %d, %q", code, errOut)
	}
}

// TestStartupShutdownLines checks Mosquitto's start and stop lines in order,
// including the deprecation notice printed while parsing, before "starting".
func TestStartupShutdownLines(t *testing.T) {
	t.Parallel()
	port := freePort(t)
	dir := t.TempDir()
	pid := filepath.Join(dir, "midge.pid")
	p := filepath.Join(dir, "m.conf")
	os.WriteFile(p, []byte(fmt.Sprintf("port %d\nbind_address 127.0.0.1\nuser root\npid_file %s\n", port, pid)), 0o644)
	b := startProcess(t, "-c", p)
	b.WaitLog(t, "running$", 10*time.Second)
	raw, err := os.ReadFile(pid)
	if err != nil || strings.TrimSpace(string(raw)) != strconv.Itoa(b.cmd.Process.Pid) {
		t.Errorf("pid file %q (%v), process %d", raw, err, b.cmd.Process.Pid)
	}
	if err := b.Stop(); err != nil {
		t.Errorf("exit after SIGTERM: %v (want status 0)", err)
	}
	want := []string{
		"The 'port' option is now deprecated and will be removed in a future version. Please use 'listener' instead.",
		"The 'bind_address' option is now deprecated and will be removed in a future version. The behaviour will default to true.",
		"Warning: Mosquitto should not be run as root/administrator.",
		"mosquitto version 2.0.20 starting",
		"Config loaded from " + p + ".",
		fmt.Sprintf("Opening ipv4 listen socket on port %d.", port),
		"mosquitto version 2.0.20 running",
		"mosquitto version 2.0.20 terminating",
	}
	got := b.Lines()
	if os.Geteuid() != 0 {
		want = append(want[:2], want[3:]...)
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if _, err := os.Stat(pid); !os.IsNotExist(err) {
		t.Error("pid file not removed on exit")
	}
}

// TestLocalOnlyMode runs with no config file: 127.0.0.1 and ::1 on the -p
// port, anonymous allowed, and Mosquitto's three warnings.
func TestLocalOnlyMode(t *testing.T) {
	t.Parallel()
	port := freePort(t)
	b := startProcess(t, "-p", strconv.Itoa(port))
	b.WaitLog(t, "running$", 10*time.Second)
	lines := strings.Join(b.Lines(), "\n")
	for _, w := range []string{
		"Using default config.",
		"Starting in local only mode. Connections will only be possible from clients running on this machine.",
		"Create a configuration file which defines a listener to allow remote access.",
		"For more details see https://mosquitto.org/documentation/authentication-methods/",
		fmt.Sprintf("Opening ipv4 listen socket on port %d.", port),
	} {
		if !strings.Contains(lines, w) {
			t.Errorf("missing line %q in\n%s", w, lines)
		}
	}
	out, err := exec.Command("mosquitto_pub", "-p", strconv.Itoa(port), "-h", "127.0.0.1", "-t", "x", "-m", "y").CombinedOutput()
	if err != nil {
		if _, lerr := exec.LookPath("mosquitto_pub"); lerr != nil {
			t.Skip("mosquitto_pub not installed")
		}
		t.Fatalf("anonymous publish in local-only mode: %v %s", err, out)
	}
	b.WaitLog(t, `^New client connected from 127\.0\.0\.1:\d+ as auto-[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12} \(p2, c1, k60\)\.$`, 5*time.Second)
}

// TestReloadReopensLogFile: SIGHUP logs "Reloading config." and reopens
// log_dest file, so logrotate's move-then-HUP works; a changed log_type
// applies without a restart.
func TestReloadReopensLogFile(t *testing.T) {
	t.Parallel()
	port := freePort(t)
	dir := t.TempDir()
	logPath := filepath.Join(dir, "midge.log")
	conf := filepath.Join(dir, "m.conf")
	body := fmt.Sprintf("listener %d 127.0.0.1\nallow_anonymous true\nuser root\nlog_dest file %s\n", port, logPath)
	os.WriteFile(conf, []byte(body), 0o644)
	b := startProcess(t, "-c", conf)
	readLog := func(p string) string { raw, _ := os.ReadFile(p); return string(raw) }
	eventually(t, 10*time.Second, "running line in the log file", func() bool { return strings.Contains(readLog(logPath), "running") })
	if err := os.Rename(logPath, logPath+".1"); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(conf, []byte(body+"log_type all\n"), 0o644)
	b.Signal(syscall.SIGHUP)
	eventually(t, 10*time.Second, "Reloading config. in the rotated file", func() bool {
		return strings.Contains(readLog(logPath+".1"), "Reloading config.")
	})
	r := dialRaw(t, fmt.Sprintf("127.0.0.1:%d", port))
	r.connect(connectPacket("reload-check"))
	// Debug lines (log_type all) now go to the new file.
	eventually(t, 10*time.Second, "debug line in the new log file", func() bool {
		return strings.Contains(readLog(logPath), "Sending CONNACK to reload-check (0, 0)")
	})
}

func TestDaemonMode(t *testing.T) {
	t.Parallel()
	port := freePort(t)
	dir := t.TempDir()
	pid := filepath.Join(dir, "d.pid")
	conf := filepath.Join(dir, "m.conf")
	os.WriteFile(conf, []byte(fmt.Sprintf("listener %d 127.0.0.1\nallow_anonymous true\nuser root\npid_file %s\nlog_dest none\n", port, pid)), 0o644)
	_, _, code := runMidge(t, "-d", "-c", conf)
	if code != 0 {
		t.Fatalf("-d exit %d", code)
	}
	var n int
	eventually(t, 10*time.Second, "daemon pid file", func() bool {
		raw, err := os.ReadFile(pid)
		if err != nil {
			return false
		}
		n, err = strconv.Atoi(strings.TrimSpace(string(raw)))
		return err == nil && n > 0
	})
	proc, _ := os.FindProcess(n)
	t.Cleanup(func() { proc.Signal(syscall.SIGKILL) })
	// The pid file is written before the listeners open: wait for them.
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	eventually(t, 10*time.Second, "the daemon's listener", func() bool {
		nc, err := net.Dial("tcp", addr)
		if err == nil {
			nc.Close()
		}
		return err == nil
	})
	r := dialRaw(t, addr)
	if ack := r.connect(connectPacket("daemon-check")); ack.Code != 0 {
		t.Fatalf("CONNACK %d", ack.Code)
	}
	proc.Signal(syscall.SIGTERM)
	eventually(t, 10*time.Second, "daemon exit (pid file removed)", func() bool {
		_, err := os.Stat(pid)
		return os.IsNotExist(err)
	})
}
