package logging

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/midgemq/midge/internal/logcat"
)

var fixed = time.Unix(1403334375, 0)

func newTest(o Options) (*Logger, *bytes.Buffer) {
	var buf bytes.Buffer
	l := NewWriter(&buf, o)
	l.SetClock(func() time.Time { return fixed })
	return l, &buf
}

func TestEpochPrefixAndDialects(t *testing.T) {
	cases := []struct {
		format Format
		want   string
	}{
		{Format20, "1403334375: New client connected from 121.201.8.163:4711 as zhoujing (p2, c0, k60, u'joyo').\n"},
		{Format13, "1403334375: New client connected from 121.201.8.163 as zhoujing (c0, k60, ujoyo).\n"},
	}
	for _, c := range cases {
		l, buf := newTest(Options{Types: logcat.All, Timestamp: true, ConnectionMessages: true, Format: c.format})
		l.Log(logcat.ConnectedUser, "121.201.8.163", 4711, "zhoujing", 2, 0, 60, "joyo")
		if buf.String() != c.want {
			t.Errorf("format %d: got %q want %q", c.format, buf.String(), c.want)
		}
	}
}

func TestDialect13MultiLineAndSilent(t *testing.T) {
	l, buf := newTest(Options{Types: logcat.All, Timestamp: true, ConnectionMessages: true, Format: Format13})
	l.Log(logcat.Timeout, "c1")
	l.Log(logcat.NoWill) // 1.3 had no will lines
	want := "1403334375: Client c1 has exceeded timeout, disconnecting.\n1403334375: Socket error on client c1, disconnecting.\n"
	if buf.String() != want {
		t.Errorf("got %q want %q", buf.String(), want)
	}
}

func TestTypeMaskAndConnectionMessages(t *testing.T) {
	l, buf := newTest(Options{Types: logcat.Default, Timestamp: false, ConnectionMessages: false})
	l.Log(logcat.RecvPingreq, "c1")        // debug: off by default
	l.Log(logcat.NewConnection, "a", 1, 2) // gated by connection_messages
	l.Log(logcat.BadWillQoS, "1.2.3.4")    // not gated
	if got, want := buf.String(), "Invalid Will QoS in CONNECT from 1.2.3.4.\n"; got != want {
		t.Errorf("got %q want %q", got, want)
	}
	if l.Enabled(logcat.Debug) || !l.Enabled(logcat.Err) {
		t.Error("Enabled does not follow the mask")
	}
}

func TestTimestampFormatAndTruncation(t *testing.T) {
	l, buf := newTest(Options{Types: logcat.All, Timestamp: true, TimestampFormat: "%Y-%m-%dT%H:%M:%S", ConnectionMessages: true})
	l.Log(logcat.RecvSubscribe, strings.Repeat("x", 2000))
	line := strings.TrimSuffix(buf.String(), "\n")
	prefix := Strftime("%Y-%m-%dT%H:%M:%S", fixed) + ": Received SUBSCRIBE from xxx"
	if !strings.HasPrefix(line, prefix) {
		t.Errorf("got prefix %q", line[:60])
	}
	if len(line) != maxLine {
		t.Errorf("line length %d, want %d (Mosquitto truncates at 999 bytes)", len(line), maxLine)
	}
}

func TestStrftime(t *testing.T) {
	tm := time.Date(2026, 11, 5, 7, 8, 9, 0, time.UTC)
	cases := map[string]string{
		"%Y-%m-%dT%H:%M:%S": "2026-11-05T07:08:09",
		"%F %T":             "2026-11-05 07:08:09",
		"%d/%b/%Y %e %j":    "05/Nov/2026  5 309",
		"%a %A %B %p %I %%": "Thu Thursday November AM 07 %",
		"%s":                "1793862489",
		"%Q":                "%Q",
	}
	for f, want := range cases {
		if got := Strftime(f, tm); got != want {
			t.Errorf("Strftime(%q) = %q, want %q", f, got, want)
		}
	}
}

func TestFileDestReopen(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "m.log")
	l := New()
	l.SetClock(func() time.Time { return fixed })
	o := Options{Types: logcat.All, Timestamp: true, ConnectionMessages: true, Dests: []Dest{{Kind: "file", Path: path}}}
	if err := l.Configure(o); err != nil {
		t.Fatal(err)
	}
	l.Log(logcat.Reloading)
	// logrotate moves the file away; a reconfigure (SIGHUP) reopens the path.
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	if err := l.Configure(o); err != nil {
		t.Fatal(err)
	}
	l.Log(logcat.Terminating, "2.0.20")
	l.Close()
	old, _ := os.ReadFile(path + ".1")
	cur, _ := os.ReadFile(path)
	if string(old) != "1403334375: Reloading config.\n" || string(cur) != "1403334375: mosquitto version 2.0.20 terminating\n" {
		t.Errorf("old %q new %q", old, cur)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("log file mode %v, want 0600", fi.Mode().Perm())
	}
}

func TestFileDestFailureFallsBackToStderrErrors(t *testing.T) {
	l := New()
	err := l.Configure(Options{Types: logcat.All, ConnectionMessages: true,
		Dests: []Dest{{Kind: "file", Path: filepath.Join(t.TempDir(), "no", "such", "dir", "x.log")}}})
	if err == nil {
		t.Fatal("want an error for an unopenable log file")
	}
	if l.Enabled(logcat.Info) || !l.Enabled(logcat.Err) {
		t.Error("after a failed file open only errors should be logged, as Mosquitto does")
	}
}

func TestTopicDest(t *testing.T) {
	var got []string
	l, _ := newTest(Options{Types: logcat.All, Timestamp: true, ConnectionMessages: true})
	l.Configure(Options{Types: logcat.All, Timestamp: true, ConnectionMessages: true, Dests: []Dest{{Kind: "topic"}}})
	l.SetTopic(func(level logcat.Level, line string) { got = append(got, TopicSuffix(level)+" "+line) })
	l.Log(logcat.RecvPingreq, "c") // debug lines are never published
	l.Log(logcat.Subscribed, "c", 1, "a/b")
	l.Log(logcat.Reloading)
	want := []string{"M/subscribe 1403334375: c 1 a/b", "I 1403334375: Reloading config."}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("got %q want %q", got, want)
	}
}

func TestJSONFormat(t *testing.T) {
	l, buf := newTest(Options{Types: logcat.All, ConnectionMessages: true, Format: FormatJSON})
	l.Log(logcat.SendConnack, "c1", 0, 5)
	want := `{"time":1403334375,"level":"debug","event":"connack.send","msg":"Sending CONNACK to c1 (0, 5)","args":["c1",0,5]}` + "\n"
	if buf.String() != want {
		t.Errorf("got %s want %s", buf.String(), want)
	}
}
