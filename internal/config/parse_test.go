package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func mustParse(t *testing.T, conf string) *Config {
	t.Helper()
	c, err := Parse(strings.NewReader(conf), "test.conf")
	if err != nil {
		t.Fatalf("Parse(%q): %v", conf, err)
	}
	return c
}

func TestDefaults(t *testing.T) {
	c := mustParse(t, "")
	want := Default()
	want.Security.AllowAnonymous = 1 // local-only mode
	want.Security.AutoIDPrefix = "auto-"
	if !reflect.DeepEqual(c, want) {
		t.Errorf("empty config:\n got %+v\nwant %+v", c, want)
	}
	if c.MaxKeepalive != 0 || c.AllowDuplicateMessages || c.CheckRetainSource {
		t.Error("code defaults (reference §8) not used")
	}
	if c.ConnectTimeout != 90*time.Second || c.LogDialect != "2.0" || c.User != "mosquitto" {
		t.Error("midge defaults wrong")
	}
}

// Each case: a config snippet and a check on the result.
func TestValues(t *testing.T) {
	cases := []struct {
		name, conf string
		check      func(c *Config) bool
	}{
		{"bool true", "listener 1\nallow_anonymous true", func(c *Config) bool { return c.Security.AllowAnonymous == 1 }},
		{"bool 0", "retain_available 0", func(c *Config) bool { return !c.RetainAvailable }},
		{"bool 1", "set_tcp_nodelay 1", func(c *Config) bool { return c.SetTCPNoDelay }},
		{"extra tokens ignored", "queue_qos0_messages true yes", func(c *Config) bool { return c.QueueQoS0Messages }},
		{"leading spaces", "   sys_interval   30", func(c *Config) bool { return c.SysInterval == 30 }},
		{"atoi garbage", "max_queued_messages abc", func(c *Config) bool { return c.MaxQueuedMessages == 0 }},
		{"atoi prefix", "max_queued_messages 12abc", func(c *Config) bool { return c.MaxQueuedMessages == 12 }},
		{"atoi overflow", "autosave_interval 99999999999999999999", func(c *Config) bool { return c.AutosaveInterval == 0 }},
		{"autosave negative", "autosave_interval -5", func(c *Config) bool { return c.AutosaveInterval == 0 }},
		{"inflight 65535 unlimited", "max_inflight_messages 65535", func(c *Config) bool { return c.MaxInflightMessages == 0 }},
		{"inflight negative", "max_inflight_messages -3", func(c *Config) bool { return c.MaxInflightMessages == 0 }},
		{"inflight", "max_inflight_messages 7", func(c *Config) bool { return c.MaxInflightMessages == 7 }},
		{"inflight bytes", "max_inflight_bytes 1000", func(c *Config) bool { return c.MaxInflightBytes == 1000 }},
		{"queued bytes negative", "max_queued_bytes -1", func(c *Config) bool { return c.MaxQueuedBytes == 0 }},
		{"max_packet_size", "max_packet_size 20", func(c *Config) bool { return c.MaxPacketSize == 20 }},
		{"message_size_limit", "message_size_limit 100", func(c *Config) bool { return c.MessageSizeLimit == 100 }},
		{"max_keepalive", "max_keepalive 65535", func(c *Config) bool { return c.MaxKeepalive == 65535 }},
		{"memory_limit", "memory_limit 5000000000", func(c *Config) bool { return c.MemoryLimit == 5000000000 }},
		{"expiration h", "persistent_client_expiration 2h", func(c *Config) bool { return c.PersistentClientExpiration == 2*time.Hour }},
		{"expiration d", "persistent_client_expiration 1d", func(c *Config) bool { return c.PersistentClientExpiration == 24*time.Hour }},
		{"expiration w", "persistent_client_expiration 1w", func(c *Config) bool { return c.PersistentClientExpiration == 7*24*time.Hour }},
		{"expiration m", "persistent_client_expiration 1m", func(c *Config) bool { return c.PersistentClientExpiration == 30*24*time.Hour }},
		{"expiration y", "persistent_client_expiration 1y", func(c *Config) bool { return c.PersistentClientExpiration == 365*24*time.Hour }},
		{"string trimmed", "pid_file   /run/m.pid \t", func(c *Config) bool { return c.PidFile == "/run/m.pid" }},
		{"string with spaces", "pid_file /run/my dir/m.pid", func(c *Config) bool { return c.PidFile == "/run/my dir/m.pid" }},
		{"user replaces", "user a\nuser b", func(c *Config) bool { return c.User == "b" }},
		{"persistence false", "persistence false\npersistence_file x.db\npersistence_location /var/lib/m", func(c *Config) bool {
			return !c.Persistence && c.PersistenceFilePath() == "/var/lib/m/x.db"
		}},
		{"log_type accumulates", "log_type error\nlog_type debug", func(c *Config) bool { return c.LogType == LogErr|LogDebug }},
		{"log_type none resets", "log_type all\nlog_type none\nlog_type subscribe", func(c *Config) bool { return c.LogType == LogSubscribe }},
		{"log_type all", "log_type all", func(c *Config) bool { return c.LogType == LogAll }},
		{"log_type websockets internal", "log_type websockets\nlog_type internal", func(c *Config) bool { return c.LogType == LogWebsockets|LogInternal }},
		{"log_dest accumulates", "log_dest stdout\nlog_dest topic", func(c *Config) bool { return c.LogDest == DestStdout|DestTopic }},
		{"log_dest none", "log_dest none", func(c *Config) bool { return c.LogDest == 0 }},
		{"log_dest file", "log_dest file  /var/log/m.log", func(c *Config) bool { return c.LogDest == DestFile && c.LogFile == "/var/log/m.log" }},
		{"log_dest syslog dlt", "log_dest syslog\nlog_dest dlt", func(c *Config) bool { return c.LogDest == DestSyslog|DestDLT }},
		{"log_facility", "log_facility 5", func(c *Config) bool { return c.LogFacility == 5 }},
		{"log_timestamp", "log_timestamp false\nlog_timestamp_format %Y-%m-%dT%H:%M:%S", func(c *Config) bool {
			return !c.LogTimestamp && c.LogTimestampFormat == "%Y-%m-%dT%H:%M:%S"
		}},
		{"log_dialect", "log_dialect 1.3", func(c *Config) bool { return c.LogDialect == "1.3" }},
		{"log_dialect json", "log_dialect json", func(c *Config) bool { return c.LogDialect == "json" }},
		{"connect_timeout", "connect_timeout 10", func(c *Config) bool { return c.ConnectTimeout == 10*time.Second }},
		{"metrics_address", "metrics_address 127.0.0.1:9234", func(c *Config) bool { return c.MetricsAddress == "127.0.0.1:9234" }},
		{"metrics_address ipv6", "metrics_address [::1]:9234", func(c *Config) bool { return c.MetricsAddress == "[::1]:9234" }},
		{"metrics_address any", "metrics_address :9234", func(c *Config) bool { return c.MetricsAddress == ":9234" }},
		{"metrics_address off", "", func(c *Config) bool { return c.MetricsAddress == "" }},
		{"websockets", "websockets_log_level 3\nwebsockets_headers_size 2048", func(c *Config) bool {
			return c.WebsocketsLogLevel == 3 && c.WebsocketsHeadersSize == 2048
		}},
		{"misc bools", "upgrade_outgoing_qos true\ncheck_retain_source true\nconnection_messages false\nautosave_on_changes true", func(c *Config) bool {
			return c.UpgradeOutgoingQoS && c.CheckRetainSource && !c.ConnectionMessages && c.AutosaveOnChanges
		}},
		{"allow_duplicate_messages", "allow_duplicate_messages true", func(c *Config) bool { return c.AllowDuplicateMessages }},
		{"clientid_prefixes", "clientid_prefixes sensor-", func(c *Config) bool { return c.ClientIDPrefixes == "sensor-" }},
		{"retry_interval ignored", "retry_interval 20", func(c *Config) bool { return true }},
		{"comments and blanks", "# c\n\n\r\n    \nsys_interval 5\n", func(c *Config) bool { return c.SysInterval == 5 }},
		{"CRLF", "sys_interval 5\r\nuser bob\r\n", func(c *Config) bool { return c.SysInterval == 5 && c.User == "bob" }},
		{"no final newline", "sys_interval 7", func(c *Config) bool { return c.SysInterval == 7 }},
		{"security global", "listener 1883\nallow_zero_length_clientid false\nauto_id_prefix a-", func(c *Config) bool {
			return !c.Security.AllowZeroLengthClientID && c.Security.AutoIDPrefix == "a-" && c.Listeners[0].Security.AutoIDPrefix == ""
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := mustParse(t, tc.conf)
			if !tc.check(c) {
				t.Errorf("check failed for %q: %+v", tc.conf, c)
			}
		})
	}
}

func TestListeners(t *testing.T) {
	c := mustParse(t, strings.Join([]string{
		"listener 1883",
		"max_connections 10",
		"mount_point tenant/",
		"listener 8883 127.0.0.1 # comment",
		"max_qos 1",
		"maximum_qos 0",
		"max_topic_alias 0",
		"socket_domain ipv4",
		"use_username_as_clientid true",
		"protocol mqtt",
		"listener 1884 #comment",
		"max_connections -7",
	}, "\n"))
	if c.LocalOnly {
		t.Fatal("listener must leave local-only mode")
	}
	if len(c.Listeners) != 3 {
		t.Fatalf("listeners: %+v", c.Listeners)
	}
	l0, l1, l2 := c.Listeners[0], c.Listeners[1], c.Listeners[2]
	if l0.Port != 1883 || l0.Host != "" || l0.MaxConnections != 10 || l0.MountPoint != "tenant/" || l0.MaxQoS != 2 || l0.Default {
		t.Errorf("l0 %+v", l0)
	}
	if l1.Port != 8883 || l1.Host != "127.0.0.1" || l1.MaxQoS != 0 || l1.MaxTopicAlias != 0 || l1.SocketDomain != "ipv4" ||
		!l1.UseUsernameAsClientID || l1.Protocol != "mqtt" || l1.MaxConnections != -1 {
		t.Errorf("l1 %+v", l1)
	}
	if l2.Port != 1884 || l2.Host != "" || l2.MaxConnections != -1 || l2.MaxTopicAlias != 10 {
		t.Errorf("l2 %+v", l2)
	}
	if c.Security.AllowAnonymous != 0 || c.Security.AutoIDPrefix != "auto-" {
		t.Errorf("security %+v", c.Security)
	}
}

func TestDefaultListener(t *testing.T) {
	cases := []struct {
		name, conf string
		port       int
		host       string
		localOnly  bool
		n          int
	}{
		{"port", "port 1884", 1884, "", false, 1},
		{"bind_address", "bind_address 127.0.0.1", 1883, "127.0.0.1", false, 1},
		{"port and listener", "port 1884\nlistener 1885", 1884, "", false, 2},
		{"listener option only: local-only discards it", "max_connections 5", 0, "", true, 0},
		{"nothing", "sys_interval 1", 0, "", true, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := mustParse(t, tc.conf)
			if c.LocalOnly != tc.localOnly || len(c.Listeners) != tc.n {
				t.Fatalf("LocalOnly=%v listeners=%+v", c.LocalOnly, c.Listeners)
			}
			if tc.n == 0 {
				return
			}
			d := c.Listeners[tc.n-1]
			if !d.Default || d.Port != tc.port || d.Host != tc.host {
				t.Errorf("default listener %+v", d)
			}
		})
	}
	// Options before the first listener go to the default listener.
	c := mustParse(t, "port 1884\nmax_connections 3\nlistener 1885\nmax_connections 4")
	if c.Listeners[0].MaxConnections != 4 || c.Listeners[1].MaxConnections != 3 || !c.Listeners[1].Default {
		t.Errorf("%+v", c.Listeners)
	}
}

func TestLocalOnlyAndAnonymous(t *testing.T) {
	c := mustParse(t, "")
	if !c.LocalOnly || c.Security.AllowAnonymous != 1 {
		t.Errorf("local-only: %+v", c)
	}
	ls := c.LocalListeners([]int{1884, 1885})
	if len(ls) != 4 || ls[0].Host != "127.0.0.1" || ls[1].Host != "::1" || ls[2].Port != 1885 || ls[0].Security.AllowAnonymous != 1 {
		t.Errorf("local listeners %+v", ls)
	}
	if ls := c.LocalListeners(nil); len(ls) != 2 || ls[0].Port != 1883 {
		t.Errorf("default local listeners %+v", ls)
	}
	// Explicit false in local-only mode is still forced true (2.0 rule).
	if c := mustParse(t, "allow_anonymous false"); c.Security.AllowAnonymous != 1 {
		t.Error("local-only must force allow_anonymous true")
	}
	if c := mustParse(t, "listener 1883"); c.Security.AllowAnonymous != 0 {
		t.Error("with a listener, unset allow_anonymous must resolve to false")
	}
	if c := mustParse(t, "listener 1883\nallow_anonymous true"); c.Security.AllowAnonymous != 1 {
		t.Error("explicit allow_anonymous true lost")
	}
	c = mustParse(t, "per_listener_settings true\nlistener 1883\nallow_anonymous true\nlistener 1884\nauto_id_prefix x-")
	l0, l1 := c.Listeners[0].Security, c.Listeners[1].Security
	if l0.AllowAnonymous != 1 || l1.AllowAnonymous != 0 || l0.AutoIDPrefix != "auto-" || l1.AutoIDPrefix != "x-" {
		t.Errorf("per listener: %+v %+v", l0, l1)
	}
	if c.SecurityFor(&c.Listeners[1]) != &c.Listeners[1].Security {
		t.Error("SecurityFor with per_listener_settings")
	}
	c = mustParse(t, "listener 1")
	if c.SecurityFor(&c.Listeners[0]) != &c.Security {
		t.Error("SecurityFor without per_listener_settings")
	}
}

func TestNotes(t *testing.T) {
	c := mustParse(t, strings.Join([]string{
		"port 1884", "port 1885", "bind_address 0.0.0.0", "allow_duplicate_messages false",
		"clientid_prefixes x", "message_size_limit 10", "retry_interval 5",
		"log_type", "max_connections", "persistent_client_expiration",
	}, "\n"))
	want := []Code{CodeDeprecatedPort, CodeDeprecatedPort, CodePortMultiple, CodeDeprecatedBind,
		CodeDeprecatedDuplicate, CodeDeprecatedPrefixes, CodeMessageSizeLimit, CodeRetryInterval,
		CodeEmptyLogType, CodeEmptyMaxConnections, CodeEmptyExpiration}
	var got []Code
	for _, n := range c.Notes {
		got = append(got, n.Code)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("notes\n got %v\nwant %v", got, want)
	}
	if c.Listeners[0].Port != 1885 {
		t.Errorf("latest port wins: %+v", c.Listeners)
	}
	// An empty log_type line does not count as setting log_type.
	if c.LogType != LogDefault {
		t.Errorf("LogType %x", c.LogType)
	}
}

func problemOf(t *testing.T, err error) Problem {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) || len(e.Problems) != 1 {
		t.Fatalf("want one *Error problem, got %v", err)
	}
	return e.Problems[0]
}

// Every error case: the snippet, then the code, args and line reported.
func TestErrors(t *testing.T) {
	cases := []struct {
		conf string
		code Code
		args []any
		line int
	}{
		{"listener 1883\nfoo bar", CodeUnknownVariable, []any{"foo"}, 2},
		{"log_type\tall", CodeUnknownVariable, []any{"log_type\tall"}, 1},
		{"  # not a comment", CodeUnknownVariable, []any{"#"}, 1},
		{"Port 1883", CodeUnknownVariable, []any{"Port"}, 1},
		{"global_plugin x", CodeUnknownVariable, []any{"global_plugin"}, 1},
		{"allow_anonymous yes", CodeInvalidValue, []any{"allow_anonymous", "yes"}, 1},
		{"allow_anonymous true\t", CodeInvalidValue, []any{"allow_anonymous", "true\t"}, 1},
		{"allow_anonymous", CodeEmptyValue, []any{"allow_anonymous"}, 1},
		{"sys_interval", CodeEmptyValue, []any{"sys_interval"}, 1},
		{"pid_file", CodeEmptyValue, []any{"pid_file"}, 1},
		{"pid_file    ", CodeEmptyValue, []any{"pid_file"}, 1},
		{"pid_file a\npid_file b", CodeDuplicateValue, []any{"pid_file"}, 2},
		{"bind_address a\nbind_address b", CodeDuplicateValue, []any{"default listener bind_address"}, 2},
		{"pid_file a\x01b", CodeMalformedUTF8, nil, 1},
		{"pid_file a\tb", CodeMalformedUTF8, nil, 1},
		{"pid_file \xff", CodeMalformedUTF8, nil, 1},
		{"pid_file \xef\xbf\xbe", CodeMalformedUTF8, nil, 1},
		{"pid_file " + strings.Repeat("a", 65536), CodeValueTooLong, []any{"pid_file"}, 1},
		{"listener", CodeEmptyValue, []any{"listener"}, 1},
		{"listener 70000", CodeInvalidPort, []any{70000}, 1},
		{"listener -1", CodeInvalidPort, []any{-1}, 1},
		{"listener 0", CodePort0NeedsPath, nil, 1},
		{"listener 0 #c", CodePort0NeedsPath, nil, 1},
		{"port 0", CodeInvalidPort, []any{0}, 1},
		{"port", CodeEmptyValue, []any{"port"}, 1},
		{"log_dest file a\nlog_dest none\nlog_dest file b", CodeLogFileDuplicate, nil, 3},
		{"log_dest file", CodeLogFileEmpty, nil, 1},
		{"log_dest file   ", CodeLogFileEmpty, nil, 1},
		{"log_dest", CodeEmptyValue, []any{"log_dest"}, 1},
		{"log_dest journal", CodeInvalidValue, []any{"log_dest", "journal"}, 1},
		{"log_type verbose", CodeInvalidValue, []any{"log_type", "verbose"}, 1},
		{"log_facility 8", CodeInvalidIntValue, []any{"log_facility", 8}, 1},
		{"log_dialect 1.4", CodeInvalidValue, []any{"log_dialect", "1.4"}, 1},
		{"connect_timeout -1", CodeInvalidIntValue, []any{"connect_timeout", -1}, 1},
		{"metrics_address 9234", CodeInvalidValue, []any{"metrics_address", "9234"}, 1},
		{"metrics_address host:0", CodeInvalidValue, []any{"metrics_address", "host:0"}, 1},
		{"metrics_address host:65536", CodeInvalidValue, []any{"metrics_address", "host:65536"}, 1},
		{"metrics_address host:http", CodeInvalidValue, []any{"metrics_address", "host:http"}, 1},
		{"metrics_address", CodeEmptyValue, []any{"metrics_address"}, 1},
		{"metrics_address :1\nmetrics_address :2", CodeDuplicateValue, []any{"metrics_address"}, 2},
		{"listener 1\nmax_qos 3", CodeMaxQoSRange, nil, 2},
		{"maximum_qos", CodeEmptyValue, []any{"maximum_qos"}, 1},
		{"max_inflight_messages 65536", CodeMaxInflightRange, nil, 1},
		{"max_keepalive 65536", CodeInvalidIntValue, []any{"max_keepalive", 65536}, 1},
		{"max_keepalive -1", CodeInvalidIntValue, []any{"max_keepalive", -1}, 1},
		{"max_packet_size 19", CodeInvalidIntValue, []any{"max_packet_size", 19}, 1},
		{"memory_limit -1", CodeInvalidIntValue, []any{"memory_limit", int64(-1)}, 1},
		{"message_size_limit 268435456", CodeInvalidIntValue, []any{"message_size_limit", uint32(268435456)}, 1},
		{"message_size_limit -1", CodeInvalidIntValue, []any{"message_size_limit", uint32(4294967295)}, 1},
		{"sys_interval 65536", CodeInvalidIntValue, []any{"sys_interval", 65536}, 1},
		{"mount_point a/", CodeMountPointFirst, nil, 1},
		{"port 1884\nmount_point a/", CodeMountPointFirst, nil, 2},
		{"listener 1\nmount_point a/+/", CodeInvalidMountPoint, []any{"a/+/"}, 2},
		{"listener 1\nmount_point a/#", CodeInvalidMountPoint, []any{"a/#"}, 2},
		{"listener 1\nmount_point a\nmount_point b", CodeDuplicateValue, []any{"mount_point"}, 3},
		{"allow_anonymous true\nper_listener_settings true", CodePerListenerOrder, nil, 2},
		{"auto_id_prefix a\nper_listener_settings true", CodePerListenerOrder, nil, 2},
		{"auto_id_prefix a\nauto_id_prefix b", CodeDuplicateValue, []any{"auto_id_prefix"}, 2},
		{"persistent_client_expiration 5s", CodeInvalidExpiration, nil, 1},
		{"persistent_client_expiration 0d", CodeInvalidExpiration, nil, 1},
		{"persistent_client_expiration d", CodeInvalidExpiration, nil, 1},
		{"socket_domain ipv5", CodeInvalidSocketDom, []any{"ipv5"}, 1},
		{"socket_domain", CodeEmptyValue, []any{"socket_domain"}, 1},
		{"max_topic_alias 65536", CodeInvalidTopicAlias, nil, 1},
		{"max_topic_alias", CodeEmptyValue, []any{"max_topic_alias"}, 1},
		{"websockets_headers_size 70000", CodeWSHeadersSize, nil, 1},
		{"protocol", CodeEmptyValue, []any{"protocol"}, 1},
		{"protocol mqttsn", CodeInvalidValue, []any{"protocol", "mqttsn"}, 1},
		{"include_dir", CodeEmptyValue, []any{"include_dir"}, 1},
		{"include_dir /nonexistent/midge", CodeIncludeDirOpen, []any{"/nonexistent/midge"}, 1},
		// Options midge recognises but does not implement yet.
		{"password_file /etc/p\npassword_file /etc/q", CodeDuplicateValue, []any{"password_file"}, 2},
		{"acl_file", CodeEmptyValue, []any{"acl_file"}, 1},
		{"psk_file /etc/k", CodeNotSupported, []any{"psk_file"}, 1},
		{"listener 1\ndhparamfile /dh", CodeNotSupported, []any{"dhparamfile"}, 2},
		{"listener 1\ncafile /a\ncafile /b", CodeDuplicateValue, []any{"cafile"}, 3},
		{"require_certificate maybe", CodeInvalidValue, []any{"require_certificate", "maybe"}, 1},
		{"tls_engine x", CodeNotSupported, []any{"tls_engine"}, 1},
		{"plugin /p.so", CodeNotSupported, []any{"plugin"}, 1},
		{"auth_opt_db x", CodeNotSupported, []any{"auth_opt_db"}, 1},
		{"plugin_opt_x y", CodeNotSupported, []any{"plugin_opt_x"}, 1},
		{"persistence_sync sometimes", CodeInvalidValue, []any{"persistence_sync", "sometimes"}, 1},
		{"persistence maybe", CodeInvalidValue, []any{"persistence", "maybe"}, 1},
		{"connection b1", CodeNotSupported, []any{"connection"}, 1},
		{"listener 1\nhttp_dir", CodeEmptyValue, []any{"http_dir"}, 2},
	}
	for _, tc := range cases {
		t.Run(fmt.Sprintf("%.40q", tc.conf), func(t *testing.T) {
			_, err := Parse(strings.NewReader(tc.conf), "bad.conf")
			p := problemOf(t, err)
			if p.Code != tc.code || !reflect.DeepEqual(p.Args, tc.args) || p.File != "bad.conf" || p.Line != tc.line {
				t.Errorf("got %s %#v at %s:%d, want %s %#v at line %d", p.Code, p.Args, p.File, p.Line, tc.code, tc.args, tc.line)
			}
		})
	}
}

// Parsing stops at the first error; notes printed before it are kept.
func TestStopsAtFirstError(t *testing.T) {
	_, err := Parse(strings.NewReader("port 1884\nfoo\nbar\n"), "x.conf")
	var e *Error
	if !errors.As(err, &e) || len(e.Problems) != 1 || e.Problems[0].Line != 2 {
		t.Fatalf("%v", err)
	}
	if len(e.Notes) != 1 || e.Notes[0].Code != CodeDeprecatedPort {
		t.Errorf("notes %+v", e.Notes)
	}
	if !strings.Contains(err.Error(), "conf.unknown_variable") {
		t.Errorf("Error() = %q", err.Error())
	}
}

func writeFile(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestIncludeDirOrder(t *testing.T) {
	dir := t.TempDir()
	inc := filepath.Join(dir, "conf.d")
	if err := os.Mkdir(inc, 0o700); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"b.conf", "B.conf", "a.conf", "A.conf", "01.conf", "00.conf", "ignored.txt", ".conf", "xconf"} {
		writeFile(t, filepath.Join(inc, n), "log_type debug\n")
	}
	main := filepath.Join(dir, "main.conf")
	writeFile(t, main, "listener 1883\ninclude_dir "+inc+"\n")
	c, err := Load(main)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, n := range c.Notes {
		if n.Code == CodeLoadingFile {
			got = append(got, filepath.Base(n.Args[0].(string)))
		}
	}
	want := []string{"00.conf", "01.conf", "A.conf", "a.conf", "B.conf", "b.conf"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("order %v, want %v", got, want)
	}
	if c.Notes[0].Args[0] != inc+"/00.conf" {
		t.Errorf("path printed %v", c.Notes[0].Args[0])
	}
	if c.LogType != LogDebug {
		t.Errorf("included options not applied: %x", c.LogType)
	}
}

func TestIncludeDirErrors(t *testing.T) {
	dir := t.TempDir()
	inc := filepath.Join(dir, "conf.d")
	if err := os.Mkdir(inc, 0o700); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(inc, "a.conf"), "# ok\nbogus 1\n")
	main := filepath.Join(dir, "main.conf")
	writeFile(t, main, "listener 1883\n\ninclude_dir "+inc+"\n")
	_, err := Load(main)
	p := problemOf(t, err)
	wantPos := []Pos{{inc + "/a.conf", 2}, {main, 3}}
	if p.Code != CodeUnknownVariable || !reflect.DeepEqual(p.Positions(), wantPos) {
		t.Errorf("got %+v positions %v", p, p.Positions())
	}

	// include_dir inside an included file is ignored.
	writeFile(t, filepath.Join(inc, "a.conf"), "include_dir /nonexistent\n")
	if _, err := Load(main); err != nil {
		t.Errorf("nested include_dir: %v", err)
	}

	// A directory named *.conf.
	if err := os.Mkdir(filepath.Join(inc, "d.conf"), 0o700); err != nil {
		t.Fatal(err)
	}
	p = problemOf(t, func() error { _, err := Load(main); return err }())
	if p.Code != CodeIsDirectory || !reflect.DeepEqual(p.Positions(), []Pos{{main, 3}}) {
		t.Errorf("got %+v positions %v", p, p.Positions())
	}
}

func TestLoadFileErrors(t *testing.T) {
	dir := t.TempDir()
	p := problemOf(t, func() error { _, err := Load(dir); return err }())
	if p.Code != CodeIsDirectory || p.Args[0] != dir || len(p.Positions()) != 0 {
		t.Errorf("%+v", p)
	}
	missing := filepath.Join(dir, "missing.conf")
	p = problemOf(t, func() error { _, err := Load(missing); return err }())
	if p.Code != CodeOpenFailed || p.Args[0] != missing || len(p.Positions()) != 0 {
		t.Errorf("%+v", p)
	}
	// The file name is printed as given.
	bad := filepath.Join(dir, "bad.conf")
	writeFile(t, bad, "listener 1883\r\nfoo\r\n")
	p = problemOf(t, func() error { _, err := Load(bad); return err }())
	if p.File != bad || p.Line != 2 || p.Args[0] != "foo" {
		t.Errorf("%+v", p)
	}
}

func TestIncludeLess(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		less bool
	}{
		{"A.conf", "a.conf", true}, {"a.conf", "B.conf", true}, {"ab.conf", "Ab.conf", false},
		{"a.conf", "a.conf", false}, {"a", "ab", true}, {"Z", "a", false},
	} {
		if got := includeLess(tc.a, tc.b); got != tc.less {
			t.Errorf("includeLess(%q, %q) = %v", tc.a, tc.b, got)
		}
	}
}

func TestAtoi(t *testing.T) {
	for in, want := range map[string]int{
		"12": 12, " 12": 12, "\t-3x": -3, "+4": 4, "x": 0, "": 0,
		"2147483648": -2147483648, "99999999999999999999": -1, "-99999999999999999999": 0,
	} {
		if got := atoi(in); got != want {
			t.Errorf("atoi(%q) = %d, want %d", in, got, want)
		}
	}
}
