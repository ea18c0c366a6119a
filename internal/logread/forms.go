package logread

import (
	"sort"
	"strings"

	"github.com/midgemq/midge/internal/logcat"
)

// extraForm is a line form that internal/logcat does not hold: older
// Mosquitto versions, bridge lines and the rest of reference Appendix A.
type extraForm struct {
	level, key, format string
}

// legacyForms are the 1.x and early 2.0 forms (reference §1.4, §1.9, §1.10,
// §1.14, §1.17). They are registered before the catalog so that a form the
// catalog lists under several keys (1.3's "Socket error" line stands for
// every abnormal close) gets one honest name.
var legacyForms = []extraForm{
	{"notice", "client.socket_error", "Socket error on client %s, disconnecting."},
	// 1.4/1.5 CONNECT success (quoted username, no protocol).
	{"notice", "connect.ok", "New client connected from %[1]s as %[3]s (c%[5]d, k%[6]d, u'%[7]s')."},
	{"notice", "connect.bridge", "New bridge connected from %[1]s as %[3]s (c%[5]d, k%[6]d, u'%[7]s')."},
	// 1.6 CONNECT success (protocol, no peer port).
	{"notice", "connect.ok", "New client connected from %[1]s as %[3]s (p%[4]d, c%[5]d, k%[6]d, u'%[7]s')."},
	{"notice", "connect.ok_anon", "New client connected from %[1]s as %[3]s (p%[4]d, c%[5]d, k%[6]d)."},
	{"notice", "connect.bridge", "New bridge connected from %[1]s as %[3]s (p%[4]d, c%[5]d, k%[6]d, u'%[7]s')."},
	{"notice", "connect.bridge_anon", "New bridge connected from %[1]s as %[3]s (p%[4]d, c%[5]d, k%[6]d)."},
	{"notice", "client.no_longer_authorised", "Client %s disconnected, no longer authorised."},
	// 2.0.0-2.0.11 texts.
	{"notice", "client.not_supported", "Client %s disconnected due to QoS too high or retain not supported."},
	{"notice", "client.bad_socket", "Bad socket read/write on client %s, disconnecting."},
	// 1.x acks for the other packets, generic form.
	{"debug", "ack.recv", "Received %[1]s from %[2]s (Mid: %[3]d)"},
	// Bridge CONNACK refusals (§1.14).
	{"error", "bridge.refused", "Connection Refused: %s"},
}

// fieldNames names each argument (1-based index = position) of a form, per
// event key. Keys not listed get arg1, arg2...
var fieldNames = map[string][]string{
	"broker.starting":              {"version", "build_date"},
	"broker.config_loaded":         {"path"},
	"broker.listen_ipv4":           {"listener_port"},
	"broker.listen_ipv6":           {"listener_port"},
	"broker.listen_error":          {"error"},
	"broker.listen_warning":        {"error"},
	"broker.listen_create_error":   {"error"},
	"broker.log_file_error":        {"path"},
	"broker.running":               {"version"},
	"broker.terminating":           {"version"},
	"broker.listen_unix":           {"path"},
	"broker.listen_websockets":     {"listener_port"},
	"conn.new":                     {"address", "port", "listener_port"},
	"conn.denied_max":              {"address"},
	"conn.denied_tcpd":             {"address"},
	"conn.tls_failed":              {"address", "error"},
	"connect.ok":                   {"address", "port", "client", "protocol", "clean", "keepalive", "username"},
	"connect.ok_anon":              {"address", "port", "client", "protocol", "clean", "keepalive"},
	"connect.bridge":               {"address", "port", "client", "protocol", "clean", "keepalive", "username"},
	"connect.bridge_anon":          {"address", "port", "client", "protocol", "clean", "keepalive"},
	"connect.will":                 {"bytes", "retain", "qos"},
	"connect.will_topic":           {"topic"},
	"connect.multiple":             {"client"},
	"connect.bad_version":          {"version", "address"},
	"connect.bad_protocol":         {"protocol_name", "address"},
	"connect.bad_will_qos":         {"address"},
	"connect.will_too_large":       {"client"},
	"connect.password_no_username": {"client"},
	"connect.takeover":             {"client"},
	"connack.send":                 {"client", "session_present", "rc"},
	"subscribe.recv":               {"client"},
	"subscribe.topic":              {"filter", "qos"},
	"subscribe.granted":            {"client", "qos", "filter"},
	"suback.send":                  {"client"},
	"subscribe.empty":              {"address"},
	"subscribe.invalid":            {"address"},
	"subscribe.invalid_qos":        {"address"},
	"unsubscribe.recv":             {"client"},
	"unsubscribe.topic":            {"filter"},
	"unsubscribe.done":             {"client", "filter"},
	"unsuback.send":                {"client"},
	"unsubscribe.empty":            {"client"},
	"unsubscribe.invalid":          {"client"},
	"publish.recv":                 {"client", "dup", "qos", "retain", "mid", "topic", "bytes"},
	"publish.denied":               {"client", "dup", "qos", "retain", "mid", "topic", "bytes"},
	"publish.too_large":            {"client", "dup", "qos", "retain", "mid", "topic", "bytes"},
	"publish.send":                 {"client", "dup", "qos", "retain", "mid", "topic", "bytes"},
	"publish.invalid_dup":          {"client"},
	"publish.invalid_qos":          {"client"},
	"publish.qos_too_high":         {"client"},
	"publish.reused_mid":           {"mid", "client"},
	"publish.drop_outgoing_large":  {"client", "bytes"},
	"queue.dropping":               {"client"},
	"puback.recv":                  {"client", "mid", "rc"},
	"pubcomp.recv":                 {"client", "mid", "rc"},
	"pubrec.recv":                  {"client", "mid"},
	"pubrel.recv":                  {"client", "mid"},
	"puback.send":                  {"client", "mid", "rc"},
	"pubrec.send":                  {"client", "mid", "rc"},
	"pubrel.send":                  {"client", "mid"},
	"pubcomp.send":                 {"client", "mid"},
	"ack.recv":                     {"packet", "client", "mid", "rc"},
	"ack.unknown":                  {"packet", "client", "mid"},
	"pubrec.unknown":               {"client", "mid"},
	"pingreq.recv":                 {"client"},
	"pingresp.send":                {"client"},
	"pingreq.send":                 {"client"},
	"pingresp.recv":                {"client"},
	"disconnect.recv":              {"client"},
	"disconnect.send":              {"client", "rc"},
	"client.errno":                 {"client", "error"},
	"client.bad_socket":            {"client", "error"},
	"auth.recv":                    {"client", "rc", "method"},
	"auth.send":                    {"client", "rc", "method"},
	"persist.saving":               {"path"},
	"config.loading_file":          {"path"},
	"config.error_at":              {"path", "line"},
	"config.unknown_variable":      {"option"},
	"plugin.loading":               {"path"},
	"bridge.connecting":            {"bridge", "host", "port"},
	"bridge.connecting_step1":      {"bridge", "host", "port"},
	"bridge.connecting_step2":      {"bridge", "host", "port"},
	"bridge.connect_failed":        {"bridge"},
	"bridge.create_error":          {"error"},
	"bridge.register_error":        {"error"},
	"bridge.local_subscribe":       {"bridge", "filter"},
	"bridge.send_connect":          {"bridge"},
	"bridge.send_disconnect":       {"bridge"},
	"bridge.send_subscribe":        {"bridge", "mid", "filter", "qos", "options"},
	"bridge.send_unsubscribe":      {"bridge", "mid", "filter"},
	"bridge.connack_recv":          {"bridge"},
	"bridge.v5_fallback":           {"bridge"},
	"bridge.idle_timeout":          {"bridge"},
	"bridge.insecure":              {"bridge"},
	"bridge.refused":               {"reason"},
	"suback.recv":                  {"client"},
	"unsuback.recv":                {"client"},
	"acl.dangerous_username":       {"username"},
	"acl.dangerous_client_id":      {"client"},
}

// addClientOnlyNames names the disconnect lines, whose one argument is the client id.
func addClientOnlyNames() {
	for _, k := range []string{"client.disconnected", "client.closed", "client.malformed", "client.protocol_error",
		"client.not_authorised", "client.timeout", "client.oversize_packet", "client.oversize_payload",
		"client.out_of_memory", "client.not_supported", "client.admin", "client.expired", "client.socket_error",
		"client.no_longer_authorised"} {
		fieldNames[k] = []string{"client"}
	}
}

// A form is one compiled line form.
type form struct {
	key     string
	level   string
	format  string
	segs    []seg
	names   []string // per conversion, in order of appearance
	nconv   int
	litLen  int
	context bool // only matched with a SUBSCRIBE/UNSUBSCRIBE/will context
}

// formTable indexes forms by the first bytes of their leading literal.
type formTable struct {
	buckets map[string][]*form
	generic []*form // forms with a short or no leading literal
	all     []*form
}

const bucketLen = 3

var levelNames = map[logcat.Level]string{
	logcat.Info: "info", logcat.Notice: "notice", logcat.Warning: "warning", logcat.Err: "error",
	logcat.Debug: "debug", logcat.Subscribe: "subscribe", logcat.Unsubscribe: "unsubscribe",
	logcat.Websockets: "websockets", logcat.Internal: "internal",
}

// contextFormats are matched by the Parser's context rules, never directly.
var contextFormats = map[string]bool{"\t%s": true, "%s %d %s": true, "%s %s": true}

var forms = buildForms()

func buildForms() *formTable {
	addClientOnlyNames()
	t := &formTable{buckets: map[string][]*form{}}
	seen := map[string]bool{}
	add := func(level, key, format string) {
		if contextFormats[format] || format == "" {
			return
		}
		segs := compileFormat(format)
		sig := signature(segs)
		if seen[sig] {
			return
		}
		seen[sig] = true
		f := &form{key: key, level: level, format: format, segs: segs, litLen: litLen(segs)}
		if f.litLen < 2 { // "%s" alone (websockets, bare strerror) would match every line
			return
		}
		names := fieldNames[key]
		for _, s := range segs {
			if s.verb == 0 {
				continue
			}
			f.nconv++
			name := ""
			if s.arg-1 < len(names) {
				name = names[s.arg-1]
			}
			if name == "" {
				name = "arg" + itoa(s.arg)
			}
			f.names = append(f.names, name)
		}
		t.all = append(t.all, f)
		if len(segs) > 0 && segs[0].verb == 0 && len(segs[0].lit) >= bucketLen {
			b := segs[0].lit[:bucketLen]
			t.buckets[b] = append(t.buckets[b], f)
		} else {
			t.generic = append(t.generic, f)
		}
	}
	for _, e := range legacyForms {
		add(e.level, e.key, e.format)
	}
	for _, k := range logcat.Keys() {
		e := logcat.ByKey(k)
		lvl := levelNames[e.Level]
		add(lvl, e.Key, e.V20)
		for _, v := range e.V13 {
			add(lvl, e.Key, v)
		}
	}
	for _, e := range appendixForms {
		add(e.level, e.key, e.format)
	}
	bySpecificity := func(fs []*form) {
		sort.SliceStable(fs, func(i, j int) bool { return fs[i].litLen > fs[j].litLen })
	}
	for _, fs := range t.buckets {
		bySpecificity(fs)
	}
	bySpecificity(t.generic)
	return t
}

// signature identifies a form up to argument order: its literals and verbs.
func signature(segs []seg) string {
	var b strings.Builder
	for _, s := range segs {
		if s.verb == 0 {
			b.WriteString(s.lit)
		} else {
			b.WriteByte(0)
			b.WriteByte(s.verb)
		}
	}
	return b.String()
}

// match finds the most specific form for msg. caps must have room for the
// largest number of conversions (maxConv).
func (t *formTable) match(msg string, caps []string) *form {
	if len(msg) >= bucketLen {
		for _, f := range t.buckets[msg[:bucketLen]] {
			if matchSegs(msg, f.segs, caps, 0) {
				return f
			}
		}
	}
	for _, f := range t.generic {
		if matchSegs(msg, f.segs, caps, 0) {
			return f
		}
	}
	return nil
}

// maxConv bounds the conversions of any form.
const maxConv = 16

func itoa(n int) string {
	if n < 10 {
		return string(rune('0' + n))
	}
	return itoa(n/10) + string(rune('0'+n%10))
}
