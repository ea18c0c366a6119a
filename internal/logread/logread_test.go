package logread

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite golden files")

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from golden; got:\n%s", name, got)
	}
}

func runMain(t *testing.T, args ...string) []byte {
	t.Helper()
	var out, errb bytes.Buffer
	if code := Main(args, strings.NewReader(""), &out, &errb); code != 0 {
		t.Fatalf("Main(%v) = %d: %s", args, code, errb.String())
	}
	return out.Bytes()
}

func TestGolden(t *testing.T) {
	for _, tc := range []struct {
		golden, in string
		args       []string
	}{
		{"seed.explain.en.golden", "seed.log", []string{"explain"}},
		{"seed.explain.zh.golden", "seed.log", []string{"explain", "--lang", "zh"}},
		{"seed.json.golden", "seed.log", []string{"json"}},
		{"seed.summary.golden", "seed.log", []string{"summary"}},
		{"mosquitto-2.0.11.json.golden", "mosquitto-2.0.11.log", []string{"json"}},
		{"mosquitto-2.0.11.explain.en.golden", "mosquitto-2.0.11.log", []string{"explain"}},
		{"mosquitto-2.0.11.summary.golden", "mosquitto-2.0.11.log", []string{"summary"}},
		{"mosquitto-2.0.11.summary.json.golden", "mosquitto-2.0.11.log", []string{"summary", "--json"}},
	} {
		t.Run(tc.golden, func(t *testing.T) {
			golden(t, tc.golden, runMain(t, append(tc.args, filepath.Join("testdata", tc.in))...))
		})
	}
}

// TestCapturedLogFullyKnown: every line Debian's mosquitto printed is recognised.
func TestCapturedLogFullyKnown(t *testing.T) {
	f, err := os.Open("testdata/mosquitto-2.0.11.log")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	n := 0
	err = stream(context.Background(), f, false, func(r *Record) error {
		n++
		if r.Event == Unknown {
			t.Errorf("line %d not recognised: %q", r.Line, r.Raw)
		}
		return nil
	})
	if err != nil || n < 100 {
		t.Fatalf("err %v, %d records", err, n)
	}
}

// TestSeedFields checks the seed's lines field by field, in both languages,
// against what the guide explains.
func TestSeedFields(t *testing.T) {
	type want struct{ token, en, zh string }
	cases := []struct {
		event  string
		fields []want
		note   string
	}{
		{"conn.new", []want{{"121.201.8.163", "address the connection comes from", "对端地址"}, {"1883", "broker's listener", "listener 端口"}}, ""},
		{"connect.ok", []want{{"121.201.8.163", "address the connection comes from", "对端地址"}, {"zhoujing", "client id", "ClientID"}, {"c0", "clean session off", "clean session 关闭"},
			{"k60", "keepalive 60 s", "keepalive 为 60 秒"}, {"ujoyo", "username given in the CONNECT: joyo", "登录名:joyo"}}, ""},
		{"connack.send", []want{{"zhoujing", "client id", "ClientID"}, {"0", "connection accepted", "接受连接"}}, ""},
		{"subscribe.recv", []want{{"zhoujing", "client id", "ClientID"}}, ""},
		{"subscribe.topic", []want{{"jiji/chat/9", "filter", "订阅过滤器"}, {"q2", "exactly once", "恰好送达一次"}}, ""},
		{"subscribe.granted", []want{{"zhoujing", "", ""}, {"q2", "", ""}, {"jiji/chat/9", "", ""}}, ""},
		{"suback.send", []want{{"zhoujing", "", ""}}, ""},
		{"publish.send", []want{{"zhoujing", "", ""}, {"d0", "DUP", "DUP"}, {"q2", "QoS 2", "QoS 2"}, {"r0", "RETAIN flag 0", "RETAIN 标志为 0"},
			{"m1", "message id", "报文编号"}, {"jiji/chat/9", "topic", "主题"}, {"396", "396 bytes", "396 字节"}}, "step 1 of 4, broker → client"},
		{"pubrec.recv", []want{{"zhoujing", "", ""}, {"m1", "", ""}}, "step 2 of 4, broker → client"},
		{"pubrel.send", []want{{"zhoujing", "", ""}, {"m1", "", ""}}, "step 3 of 4, broker → client"},
		{"pubcomp.recv", []want{{"zhoujing", "", ""}, {"m1", "", ""}}, "step 4 of 4, broker → client"},
		{"disconnect.recv", []want{{"JY_API_PUSH_CLIENT", "", ""}}, ""},
		{"publish.recv", []want{{"JY_API_PUSH_CLIENT", "", ""}, {"d0", "", ""}, {"q2", "", ""}, {"r0", "", ""}, {"m1", "", ""},
			{"jiji/chat/9", "", ""}, {"396", "", ""}}, "step 1 of 4, client → broker"},
		{"pubrec.send", []want{{"JY_API_PUSH_CLIENT", "", ""}, {"m1", "", ""}}, "step 2 of 4, client → broker"},
		{"pubrel.recv", []want{{"JY_API_PUSH_CLIENT", "", ""}, {"m1", "", ""}}, "step 3 of 4, client → broker"},
		{"pubcomp.send", []want{{"JY_API_PUSH_CLIENT", "", ""}, {"m1", "", ""}}, "step 4 of 4, client → broker"},
		{"conn.new", []want{{"121.201.7.150", "", ""}, {"1883", "", ""}}, ""},
		{"connect.takeover", []want{{"JY_API_PUSH_CLIENT", "", ""}}, ""},
		{"pingreq.recv", []want{{"36383A64663A6464003V0", "", ""}}, ""},
		{"pingresp.send", []want{{"36383A64663A6464003V0", "", ""}}, ""},
		{"client.timeout", []want{{"33303A33393A3236003V0", "", ""}}, ""},
		{"client.socket_error", []want{{"351BBJKFX62C1", "", ""}}, ""},
		{"client.socket_error", []want{{"351BBJKFX62C0", "", ""}}, ""},
	}
	summaries := map[string][2]string{
		"connect.takeover":    {"already connected", "接管"},
		"pingreq.recv":        {"Heartbeat", "心跳"},
		"pingresp.send":       {"PINGRESP", "PINGRESP"},
		"client.timeout":      {"1.5 × its keepalive", "keepalive 的 1.5 倍"},
		"client.socket_error": {"without a DISCONNECT", "套接字出错"},
	}
	data, err := os.ReadFile("testdata/seed.log")
	if err != nil {
		t.Fatal(err)
	}
	var recs []Record
	stream(context.Background(), bytes.NewReader(data), false, func(r *Record) error { recs = append(recs, *r); return nil })
	if len(recs) != len(cases) {
		t.Fatalf("%d records, want %d", len(recs), len(cases))
	}
	for i, tc := range cases {
		r := &recs[i]
		t.Run(fmt.Sprintf("%02d_%s", i, tc.event), func(t *testing.T) {
			if r.Event != tc.event || !r.HasTime || !r.Epoch {
				t.Fatalf("record %q: event %s (time %v), want %s", r.Raw, r.Event, r.HasTime, tc.event)
			}
			for lang, idx := range map[Lang]int{English: 0, Chinese: 1} {
				ex := Explain(r, lang)
				if len(ex.Fields) != len(tc.fields) {
					t.Fatalf("lang %d: fields %+v, want %d", lang, ex.Fields, len(tc.fields))
				}
				for j, w := range tc.fields {
					sub := [2]string{w.en, w.zh}[idx]
					if ex.Fields[j].Token != w.token || !strings.Contains(ex.Fields[j].Text, sub) || ex.Fields[j].Text == "" {
						t.Errorf("lang %d field %d: %+v, want token %q text with %q", lang, j, ex.Fields[j], w.token, sub)
					}
				}
				if s, ok := summaries[tc.event]; ok && !strings.Contains(ex.Summary, s[idx]) {
					t.Errorf("lang %d summary %q lacks %q", lang, ex.Summary, s[idx])
				}
			}
			if tc.note != "" {
				ex := Explain(r, English)
				if len(ex.Notes) == 0 || !strings.Contains(ex.Notes[0], tc.note) {
					t.Errorf("notes %q, want %q", ex.Notes, tc.note)
				}
			}
		})
	}
}

func TestParseForms(t *testing.T) {
	cases := []struct {
		name, line, event string
		fields            string // name=value pairs joined by space
	}{
		{"ipv6", "1795628992: New connection from ::1:53848 on port 18833.", "conn.new", "address=::1 port=53848 listener_port=18833"},
		{"ipv6 connect", "1795628992: New client connected from ::1:53848 as loc-1 (p2, c1, k60).", "connect.ok_anon",
			"address=::1 port=53848 client=loc-1 protocol=2 clean=1 keepalive=60"},
		{"formatted stamp", "2026-11-25T17:49:30: Config loaded from conf2.conf.", "broker.config_loaded", "path=conf2.conf"},
		{"stamp with space", "2026-11-25 17:49:30: Client a b closed its connection.", "client.closed", "client=a b"},
		{"no stamp", "Client cli-a disconnected.", "client.disconnected", "client=cli-a"},
		{"1.4 connect", "1500000000: New client connected from 10.0.0.1 as c (c1, k60, u'bob').", "connect.ok",
			"address=10.0.0.1 client=c clean=1 keepalive=60 username=bob"},
		{"1.6 connect", "1500000000: New client connected from 10.0.0.1 as c (p2, c1, k60, u'bob').", "connect.ok",
			"address=10.0.0.1 client=c protocol=2 clean=1 keepalive=60 username=bob"},
		{"1.3 start", "1403334375: mosquitto version 1.3.5 (build date 2014-10-18 15:08:41+0100) starting", "broker.starting",
			"version=1.3.5 build_date=2014-10-18 15:08:41+0100"},
		{"v5 puback", "1: Sending PUBACK to cli-d (m3, rc135)", Unknown, ""},
		{"v5 puback stamped", "1795628992: Sending PUBACK to cli-d (m3, rc135)", "puback.send", "client=cli-d mid=3 rc=135"},
		{"1.5 puback", "1795628992: Sending PUBACK to cli-d (Mid: 3)", "puback.send", "client=cli-d mid=3"},
		{"1.x ack", "1795628992: Received PUBREC from x (Mid: 3)", "pubrec.recv", "client=x mid=3"},
		{"errno", "1795628992: Client late disconnected: Broken pipe.", "client.errno", "client=late error=Broken pipe"},
		{"2.0.0 bad socket", "1795628992: Bad socket read/write on client x, disconnecting.", "client.bad_socket", "client=x"},
		{"client id with paren", "1: x", Unknown, ""},
		{"topic with quote", "1795628992: Received PUBLISH from a (b) (d0, q0, r0, m0, 'x', ... (y', ... (5 bytes))", "publish.recv",
			"client=a (b) dup=0 qos=0 retain=0 mid=0 topic=x', ... (y bytes=5"},
		{"granted without context", "1795628992: cli 1 a/b", "subscribe.granted", "client=cli qos=1 filter=a/b"},
		{"stray tab line", "1795628992: \ta/b", Unknown, ""},
		{"config error", `1795629097: Error: Unknown configuration variable "foo".`, "", ""},
		{"plugin tree", "1795629097:  ├── Username/password checking enabled.", "info.username_password_checking_enabled", ""},
		{"bridge", "1795629097: Connecting bridge b1 (10.0.0.2:1883)", "bridge.connecting", "bridge=b1 host=10.0.0.2 port=1883"},
		{"garbage", "hello world, not a log", Unknown, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var p Parser
			r := p.Parse(1, tc.line)
			if tc.event == "" { // any known event
				if r.Event == Unknown {
					t.Fatalf("%q unknown", tc.line)
				}
				return
			}
			var got []string
			for _, f := range r.Fields {
				got = append(got, f.Name+"="+f.Value)
			}
			if r.Event != tc.event || (tc.fields != "" && strings.Join(got, " ") != tc.fields) {
				t.Errorf("%q: %s %q, want %s %q", tc.line, r.Event, strings.Join(got, " "), tc.event, tc.fields)
			}
		})
	}
}

func TestContextLines(t *testing.T) {
	log := strings.Join([]string{
		"1: Received SUBSCRIBE from c 1", // client id with a space
		"1: \ta/b (QoS 1)",
		"1: c 1 1 a/b",
		"1: Sending SUBACK to c 1",
		"1: Received UNSUBSCRIBE from u",
		"1: \ta/b",
		"1: u a/b",
		"1: Sending UNSUBACK to u",
		"1: Will message specified (3 bytes) (r0, q1).",
		"1: \twill/topic",
		"1: u a/b",
	}, "\n")
	want := []string{"subscribe.recv", "subscribe.topic", "subscribe.granted", "suback.send", "unsubscribe.recv",
		"unsubscribe.topic", "unsubscribe.done", "unsuback.send", "connect.will", "connect.will_topic", Unknown}
	var got []string
	stream(context.Background(), strings.NewReader(strings.ReplaceAll(log, "1: ", "1795628992: ")), false,
		func(r *Record) error { got = append(got, r.Event); return nil })
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("got %v\nwant %v", got, want)
	}
}

func TestSplitGlued(t *testing.T) {
	cases := []struct{ in, want string }{
		{"1403334375: Received SUBSCRIBE from zhoujing1403334375: jiji/chat/9 (QoS 2)", "1403334375: Received SUBSCRIBE from zhoujing|1403334375: jiji/chat/9 (QoS 2)"},
		{"1403334375: a. 1403334375: b", "1403334375: a.|1403334375: b"},
		{"1403334375: topic 'x/9999999999: y'", "1403334375: topic 'x/9999999999: y'"}, // not within a day
		{"no stamp 1403334375: b", "no stamp 1403334375: b"},
	}
	for _, tc := range cases {
		if got := strings.Join(splitGlued(tc.in, nil), "|"); got != tc.want {
			t.Errorf("splitGlued(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestUsage(t *testing.T) {
	for _, args := range [][]string{{}, {"bogus"}, {"explain", "--lang", "fr"}, {"summary", "-f", "x"}, {"json", "a", "b"}} {
		var out, errb bytes.Buffer
		if code := Main(args, strings.NewReader(""), &out, &errb); code != 2 {
			t.Errorf("Main(%q) = %d, want 2", args, code)
		}
	}
	var out, errb bytes.Buffer
	if code := Main([]string{"json", "-"}, strings.NewReader("1403334380: Received DISCONNECT from c\n"), &out, &errb); code != 0 ||
		!strings.Contains(out.String(), `"event":"disconnect.recv","level":"debug","client":"c"`) {
		t.Errorf("stdin: %d %s %s", code, out.String(), errb.String())
	}
}

// syncBuffer is a bytes.Buffer safe for one writer and one poller.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		<-tick.C
	}
}

func TestFollow(t *testing.T) {
	old := pollInterval
	pollInterval = 5 * time.Millisecond
	defer func() { pollInterval = old }()
	path := filepath.Join(t.TempDir(), "m.log")
	if err := os.WriteFile(path, []byte("1795628992: New connection from ::1:53848 on port 18833.\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	out := &syncBuffer{}
	done := make(chan int)
	go func() { done <- run(ctx, []string{"json", "-f", path}, nil, out, out) }()
	eventually(t, "first line", func() bool { return strings.Contains(out.String(), `"event":"conn.new"`) })
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("1795628993: Client loc-1 closed")         // partial line: not emitted yet
	f.WriteString(" its connection.\n1795628994: Received ") // completes it
	eventually(t, "appended line", func() bool { return strings.Contains(out.String(), `"event":"client.closed"`) })
	if strings.Contains(out.String(), "Received") {
		t.Errorf("partial line emitted early: %s", out.String())
	}
	f.WriteString("PINGREQ from loc-1\n")
	f.Close()
	eventually(t, "completed line", func() bool { return strings.Contains(out.String(), `"event":"pingreq.recv"`) })
	if err := os.Truncate(path, 0); err != nil { // log rotation by truncation
		t.Fatal(err)
	}
	os.WriteFile(path, []byte("1795628999: Reloading config.\n"), 0o644)
	eventually(t, "line after truncation", func() bool { return strings.Contains(out.String(), `"event":"broker.reloading"`) })
	cancel()
	if code := <-done; code != 0 {
		t.Errorf("exit %d: %s", code, out.String())
	}
}

func FuzzParse(f *testing.F) {
	seeds, _ := os.ReadFile("testdata/seed.log")
	capd, _ := os.ReadFile("testdata/mosquitto-2.0.11.log")
	for _, l := range strings.Split(string(seeds)+string(capd), "\n") {
		f.Add(l)
	}
	f.Add("1403334375: \t")
	f.Add("2026-11-25T17:49:30: %s %d")
	f.Fuzz(func(t *testing.T, line string) {
		var p Parser
		r := p.Parse(1, line)
		for _, lang := range []Lang{English, Chinese} {
			Explain(&r, lang)
		}
		appendJSON(nil, &r)
		s := NewSummary()
		s.Add(&r)
		s.Report().WriteText(&bytes.Buffer{})
		splitGlued(line, nil)
	})
}

// BenchmarkParse reports lines per second on a generated 2.0 log.
func BenchmarkParse(b *testing.B) {
	lines := []string{
		"1795628992: New connection from 10.1.2.3:53848 on port 1883.",
		"1795628992: New client connected from 10.1.2.3:53848 as sensor-%d (p2, c1, k60, u'dev').",
		"1795628992: Received PUBLISH from sensor-%d (d0, q1, r0, m%d, 'plant/line%d/temp', ... (42 bytes))",
		"1795628992: Sending PUBACK to sensor-%d (m%d, rc0)",
		"1795628992: Sending PUBLISH to dashboard (d0, q0, r0, m0, 'plant/line%d/temp', ... (42 bytes))",
		"1795628992: Received PINGREQ from sensor-%d",
		"1795628992: Sending PINGRESP to sensor-%d",
		"1795628992: Client sensor-%d has exceeded timeout, disconnecting.",
	}
	var buf bytes.Buffer
	for i := 0; buf.Len() < 4<<20; i++ {
		l := lines[i%len(lines)]
		buf.WriteString(strings.ReplaceAll(l, "%d", fmt.Sprint(i%97)) + "\n")
	}
	data := buf.Bytes()
	n := bytes.Count(data, []byte("\n"))
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		stream(context.Background(), bytes.NewReader(data), false, func(*Record) error { return nil })
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "lines/s")
}
