package logread

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// Logs written by midge itself (testdata/capture-midge.sh): the same scripted
// session with log_dialect 1.3, the default 2.0, and json.

func TestGoldenMidge(t *testing.T) {
	for _, tc := range []struct {
		golden, in string
		args       []string
	}{
		{"midge-2.0.explain.en.golden", "midge-2.0.log", []string{"explain"}},
		{"midge-2.0.explain.zh.golden", "midge-2.0.log", []string{"explain", "--lang", "zh"}},
		{"midge-2.0.json.golden", "midge-2.0.log", []string{"json"}},
		{"midge-2.0.summary.golden", "midge-2.0.log", []string{"summary"}},
		{"midge-1.3.explain.en.golden", "midge-1.3.log", []string{"explain"}},
		{"midge-1.3.json.golden", "midge-1.3.log", []string{"json"}},
		{"midge-1.3.summary.golden", "midge-1.3.log", []string{"summary"}},
	} {
		t.Run(tc.golden, func(t *testing.T) {
			golden(t, tc.golden, runMain(t, append(tc.args, filepath.Join("testdata", tc.in))...))
		})
	}
}

// readRecords parses a text log.
func readRecords(t *testing.T, path string) []Record {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var recs []Record
	if err := stream(context.Background(), f, false, func(r *Record) error { recs = append(recs, *r); return nil }); err != nil {
		t.Fatal(err)
	}
	return recs
}

// TestMidgeLogsFullyKnown: every line midge printed, in both dialects, is
// recognised, and the session's events are all there.
func TestMidgeLogsFullyKnown(t *testing.T) {
	for name, want := range map[string][]string{
		"midge-2.0.log": {"broker.starting", "broker.running", "broker.terminating", "conn.new", "connect.ok", "connect.ok_anon",
			"connect.will", "connect.will_topic", "connect.no_will", "connect.takeover", "connect.bad_protocol", "connect.bad_version",
			"subscribe.recv", "subscribe.topic", "subscribe.granted", "suback.send", "unsubscribe.recv", "unsubscribe.topic",
			"unsubscribe.done", "unsuback.send", "publish.recv", "publish.send", "puback.recv", "puback.send", "pubrec.recv",
			"pubrec.send", "pubrel.recv", "pubrel.send", "pubcomp.recv", "pubcomp.send", "pingreq.recv", "pingresp.send",
			"disconnect.recv", "client.disconnected", "client.closed", "client.timeout", "client.protocol_error"},
		"midge-1.3.log": {"broker.starting", "broker.terminating", "conn.new", "connect.ok", "connect.ok_anon", "connect.takeover",
			"connect.bad_protocol", "connect.bad_version", "subscribe.recv", "subscribe.topic", "subscribe.granted", "suback.send",
			"unsubscribe.recv", "unsubscribe.topic", "unsubscribe.done", "unsuback.send", "publish.recv", "publish.send",
			"puback.recv", "puback.send", "pubrec.recv", "pubrec.send", "pubrel.recv", "pubrel.send", "pubcomp.recv",
			"pubcomp.send", "pingreq.recv", "pingresp.send", "disconnect.recv", "client.timeout", "client.socket_error"},
	} {
		t.Run(name, func(t *testing.T) {
			recs := readRecords(t, filepath.Join("testdata", name))
			if len(recs) < 100 {
				t.Fatalf("%d records", len(recs))
			}
			seen := map[string]bool{}
			for _, r := range recs {
				seen[r.Event] = true
				if r.Event == Unknown {
					t.Errorf("line %d not recognised: %q", r.Line, r.Raw)
				}
				if !r.Epoch || !r.HasTime {
					t.Errorf("line %d: no epoch time: %q", r.Line, r.Raw)
				}
			}
			for _, ev := range want {
				if !seen[ev] {
					t.Errorf("no %s line", ev)
				}
			}
		})
	}
}

// brokerJSON is one line of the broker's own JSON log (log_dialect json).
type brokerJSON struct {
	Time  int64  `json:"time"`
	Level string `json:"level"`
	Event string `json:"event"`
	Msg   string `json:"msg"`
}

// varying masks what differs between two runs of the session: source and
// listener ports, the temporary config path.
var varying = regexp.MustCompile(`127\.0\.0\.1:\d+|port \d+|/tmp/[^ ]*\.`)

func mask(s string) string { return varying.ReplaceAllString(s, "<x>") }

// TestMidgeJSONEvents: the broker's JSON log and `midge logs json` agree.
// Every object's event is the event `midge logs json` gives for the same
// line of the 2.0 log (and for its msg read as a 2.0 line, in order).
func TestMidgeJSONEvents(t *testing.T) {
	f, err := os.Open("testdata/midge.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var objs []brokerJSON
	var text strings.Builder
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var o brokerJSON
		if err := json.Unmarshal(sc.Bytes(), &o); err != nil {
			t.Fatalf("line %d: %v: %s", len(objs)+1, err, sc.Text())
		}
		if o.Event == "" || o.Msg == "" || o.Time == 0 || o.Level == "" {
			t.Errorf("line %d: missing field: %s", len(objs)+1, sc.Text())
		}
		objs = append(objs, o)
		text.WriteString(strconv.FormatInt(o.Time, 10) + ": " + o.Msg + "\n")
	}
	if len(objs) < 100 {
		t.Fatalf("%d objects", len(objs))
	}

	// The same lines in the 2.0 text log, by masked text.
	byLine := map[string]map[string]bool{}
	for _, r := range readRecords(t, "testdata/midge-2.0.log") {
		k := mask(r.Msg)
		if byLine[k] == nil {
			byLine[k] = map[string]bool{}
		}
		byLine[k][r.Event] = true
	}
	var asLines []Record
	stream(context.Background(), strings.NewReader(text.String()), false, func(r *Record) error { asLines = append(asLines, *r); return nil })
	if len(asLines) != len(objs) {
		t.Fatalf("%d msgs read back as %d lines", len(objs), len(asLines))
	}
	for i, o := range objs {
		if got := asLines[i].Event; got != o.Event {
			t.Errorf("object %d %q: broker event %s, midge logs json %s", i+1, o.Msg, o.Event, got)
		}
		if evs, ok := byLine[mask(o.Msg)]; !ok {
			t.Errorf("object %d: %q is not a line of midge-2.0.log", i+1, o.Msg)
		} else if !evs[o.Event] {
			t.Errorf("object %d %q: broker event %s, the 2.0 log's line gives %v", i+1, o.Msg, o.Event, evs)
		}
	}
}
