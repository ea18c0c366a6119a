// Package configtest cross-checks internal/config against the log catalog.
// It holds tests only, so that config and logcat both stay leaf packages.
package configtest

import (
	"fmt"
	"strings"
	"testing"

	"github.com/midgemq/midge/internal/config"
	"github.com/midgemq/midge/internal/logcat"
)

// Every Code the config package can emit has a catalog entry under the same key.
func TestEveryCodeIsCatalogued(t *testing.T) {
	seen := map[config.Code]bool{}
	for _, c := range config.AllCodes() {
		if seen[c] {
			t.Errorf("code %s listed twice", c)
		}
		seen[c] = true
		if logcat.ByKey(string(c)) == nil {
			t.Errorf("no catalog entry for %s", c)
		}
	}
	// And the catalog has no conf./args. entry the package does not emit.
	for _, k := range logcat.Keys() {
		if (strings.HasPrefix(k, "conf.") || strings.HasPrefix(k, "args.")) && !seen[config.Code(k)] {
			t.Errorf("catalog entry %s is not a config code", k)
		}
	}
}

// A real parse error renders to Mosquitto's two lines.
func TestRenderUnknownVariable(t *testing.T) {
	_, err := config.Parse(strings.NewReader("listener 1883\nfoo bar\n"), "bad.conf")
	e, ok := err.(*config.Error)
	if !ok || len(e.Problems) != 1 {
		t.Fatalf("err = %v", err)
	}
	p := e.Problems[0]
	var got []string
	got = append(got, logcat.ByKey(string(p.Code)).Lines(logcat.Dialect20, p.Args...)...)
	for _, at := range p.Positions() {
		got = append(got, logcat.ByKey(string(config.CodeErrorFoundAt)).Lines(logcat.Dialect20, at.File, at.Line)...)
	}
	want := []string{`Error: Unknown configuration variable "foo".`, "Error found at bad.conf:2."}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

// Problems and notes render without fmt argument errors.
func TestRenderArgs(t *testing.T) {
	confs := []string{
		"foo", "allow_anonymous yes", "pid_file", "pid_file a\npid_file b", "pid_file \x01",
		"listener 70000", "listener 0", "log_dest file a\nlog_dest file b", "log_dest file",
		"max_qos 3", "max_inflight_messages 70000", "max_keepalive -1", "memory_limit -1",
		"message_size_limit -1", "mount_point x", "listener 1\nmount_point +", "auto_id_prefix a\nper_listener_settings true",
		"persistent_client_expiration 1s", "socket_domain x", "max_topic_alias -1", "websockets_headers_size -1",
		"psk_file x", "include_dir /nonexistent",
		"port 1\nport 2\nbind_address x\nallow_duplicate_messages 1\nclientid_prefixes x\nmessage_size_limit 1\nretry_interval\nlog_type\nmax_connections\npersistent_client_expiration\nfoo",
	}
	for _, conf := range confs {
		_, err := config.Parse(strings.NewReader(conf), "x.conf")
		e, ok := err.(*config.Error)
		if !ok {
			t.Fatalf("%q: %v", conf, err)
		}
		for _, n := range e.Notes {
			checkRender(t, conf, n.Code, n.Args)
		}
		for _, p := range e.Problems {
			checkRender(t, conf, p.Code, p.Args)
		}
	}
	for _, args := range [][]string{{"-x"}, {"-p", "0"}, {"-p"}, {"-c"}} {
		_, err := config.ParseArgs(args)
		for _, p := range err.(*config.Error).Problems {
			checkRender(t, strings.Join(args, " "), p.Code, p.Args)
		}
	}
}

func checkRender(t *testing.T, conf string, c config.Code, args []any) {
	t.Helper()
	for _, l := range logcat.ByKey(string(c)).Lines(logcat.Dialect20, args...) {
		if strings.Contains(l, "%!") {
			t.Errorf("%q: %s renders as %q", conf, c, l)
		}
	}
}
