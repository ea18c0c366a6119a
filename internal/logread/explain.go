package logread

import (
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Lang selects the language of explanations.
type Lang int

const (
	English Lang = iota
	Chinese
)

// A FieldNote explains one field of a line.
type FieldNote struct {
	Name  string // field name, as in `midge logs json`
	Token string // how it appears in the line, e.g. "c0", "k60", "ujoyo"
	Text  string
}

// An Explanation is the plain-language reading of one record.
type Explanation struct {
	Summary string      // what the event is
	Fields  []FieldNote // one per field, in line order
	Notes   []string    // handshake step and direction, caveats
}

// Explain explains r in lang.
func Explain(r *Record, lang Lang) Explanation {
	var ex Explanation
	if r.Event == Unknown {
		ex.Summary = pick(lang, "Not a known Mosquitto or midge log line; kept as it is.", "不是已知的 Mosquitto 或 midge 日志行,原样保留。")
		if r.Note != "" {
			ex.Notes = append(ex.Notes, r.Note)
		}
		return ex
	}
	if t, ok := eventText[r.Event]; ok {
		ex.Summary = fill(t[lang], r)
	} else {
		ex.Summary = fmt.Sprintf(pick(lang, "Broker message of type %s (event %s).", "服务器 %s 级别消息(事件 %s)。"), r.Level, r.Event)
	}
	for _, f := range r.Fields {
		tok := f.Value
		if l, ok := fieldLabel[f.Name]; ok {
			tok = l + f.Value
			if f.Name == "username" && strings.Contains(r.Msg, "u'"+f.Value+"'") {
				tok = "u'" + f.Value + "'"
			}
		}
		ex.Fields = append(ex.Fields, FieldNote{Name: f.Name, Token: tok, Text: fieldText(r, f, lang)})
	}
	if s := handshakeStep(r, lang); s != "" {
		ex.Notes = append(ex.Notes, s)
	}
	if r.Note != "" {
		ex.Notes = append(ex.Notes, r.Note)
	}
	return ex
}

func pick(lang Lang, en, zh string) string {
	if lang == Chinese {
		return zh
	}
	return en
}

// fill replaces {name} with the record's field values.
func fill(t string, r *Record) string {
	if !strings.Contains(t, "{") {
		return t
	}
	var b strings.Builder
	for {
		i := strings.IndexByte(t, '{')
		if i < 0 {
			break
		}
		j := strings.IndexByte(t[i:], '}')
		if j < 0 {
			break
		}
		b.WriteString(t[:i])
		name := t[i+1 : i+j]
		v := r.Get(name)
		if v == "" && name != "username" {
			v = "?"
		}
		if name == "username" && v == "" {
			v = "''"
		}
		b.WriteString(v)
		t = t[i+j+1:]
	}
	b.WriteString(t)
	return b.String()
}

func fieldText(r *Record, f Field, lang Lang) string {
	v := f.Value
	n, _ := strconv.Atoi(v)
	zh := lang == Chinese
	sw := func(en, c string) string {
		if zh {
			return c
		}
		return en
	}
	switch f.Name {
	case "address":
		return sw("the client's IP address (IPv6 is printed bare, without brackets)", "客户端的IP地址(IPv6 地址不带方括号)")
	case "port":
		return sw("the client's source port (2.0 and later print it)", "客户端的源端口(2.0 起才打印)")
	case "listener_port":
		return sw("the broker port (listener) the client connected to", "连接的服务器端口号")
	case "client":
		if v == "<unknown>" {
			return sw("no client id: the connection ended before a CONNECT was accepted", "没有客户端 ID:连接在 CONNECT 被接受之前就结束了")
		}
		if r.Event == "connack.send" && (strings.Count(v, ".") == 3 || strings.Contains(v, ":")) {
			return sw("the peer address, printed because no client id is known yet", "对端地址(此时还没有客户端 ID)")
		}
		return sw("the client id (ClientID) "+v, "客户端ID(ClientID)为'"+v+"'")
	case "protocol":
		names := map[string]string{"1": "MQTT 3.1 (MQIsdp)", "2": "MQTT 3.1.1", "5": "MQTT 5.0"}
		return sw("protocol version: ", "协议版本:") + names[v]
	case "clean":
		if v == "0" {
			return sw("clean session = false: the broker keeps the session (subscriptions, queued QoS 1/2 messages) after the client disconnects",
				"表示 cleanSession=false,不清除 session:客户端断开后服务器保留其订阅和未送达的 QoS 1/2 消息")
		}
		return sw("clean session = true: the session is discarded when the client disconnects",
			"表示 cleanSession=true,断开时清除 session")
	case "keepalive":
		if n == 0 {
			return sw("keepalive = 0: the client never has to send anything; the broker does not time it out", "keep-alive=0:不启用心跳,服务器不会因超时断开它")
		}
		return fmt.Sprintf(sw("keepalive = %ds: the client sends a packet (PINGREQ if idle) at least every %d s; after %s s of silence (1.5 × keepalive) the broker drops it",
			"表示 keep-alive=%ds:客户端至少每 %d 秒发送一个报文(空闲时发 PINGREQ 心跳);静默超过 %s 秒(1.5 倍)服务器会断开它"), n, n, onePointFive(n))
	case "username":
		return sw("logged in with username "+v, "表示使用的服务器账号为"+v)
	case "dup":
		if v == "1" {
			return sw("DUP = 1: a re-delivery of a message sent before (after a reconnect)", "DUP=1:重发的消息(重连后重新投递)")
		}
		return sw("DUP = 0: the MQTT header's DUP flag is clear, first delivery attempt", "d 表示 MQTT 报头的 DUP 字段,0 表示首次发送")
	case "qos":
		q := map[string][2]string{"0": {"at most once, no acknowledgement", "最多一次,无确认"},
			"1": {"at least once, acknowledged by PUBACK", "至少一次,用 PUBACK 确认"},
			"2": {"exactly once, four-step PUBLISH/PUBREC/PUBREL/PUBCOMP handshake", "有且只有一次,四步握手 PUBLISH/PUBREC/PUBREL/PUBCOMP"}}[v]
		return fmt.Sprintf("QoS %s: %s", v, q[lang])
	case "retain":
		if v == "1" {
			if r.Event == "publish.send" {
				return sw("RETAIN = 1: this is a stored retained message, sent because the client just subscribed", "RETAIN=1:这是服务器保存的保留消息,因客户端刚订阅而发送")
			}
			return sw("RETAIN = 1: the broker stores this message as the topic's last known value for future subscribers", "RETAIN=1:服务器把这条消息作为该主题的保留消息,发给以后的订阅者")
		}
		return sw("RETAIN = 0: a normal (live) message", "RETAIN=0:普通消息(非保留)")
	case "mid":
		if v == "0" {
			return sw("message id 0: QoS 0 messages have no packet identifier", "消息ID为0:QoS 0 消息没有报文标识符")
		}
		if strings.HasSuffix(r.Event, ".send") && r.Event != "puback.send" && r.Event != "pubrec.send" && r.Event != "pubcomp.send" {
			return sw("message id (mid) "+v+", chosen by the broker for this client", "消息ID(mid)"+v+",由服务器为该客户端分配")
		}
		return sw("message id (mid) "+v+": the packet identifier that ties the handshake steps together", "消息ID(mid)"+v+":把握手各步骤关联起来的报文标识符")
	case "bytes":
		return sw("payload size "+v+" bytes (the payload itself is never logged)", "消息体大小为 "+v+" 字节(日志不记录内容本身)")
	case "topic":
		return sw("topic "+v, "消息主题为'"+v+"'")
	case "filter":
		return sw("topic filter "+v+" (may contain + and # wildcards)", "主题过滤器 "+v+"(可含 + 和 # 通配符)")
	case "session_present":
		if v == "1" {
			return sw("session present = 1: a stored session was resumed", "session present=1:恢复了已保存的会话")
		}
		return sw("session present = 0: no stored session", "session present=0:没有已保存的会话")
	case "rc":
		return rcText(r, n, lang)
	}
	return f.Name + " = " + v
}

func onePointFive(k int) string {
	if k%2 == 0 {
		return strconv.Itoa(k * 3 / 2)
	}
	return strconv.Itoa(k*3/2) + ".5"
}

var connackV3 = [][2]string{
	{"connection accepted", "连接成功"},
	{"refused: unacceptable protocol version", "拒绝:协议版本不可接受"},
	{"refused: client id rejected", "拒绝:ClientID 被拒绝"},
	{"refused: server unavailable", "拒绝:服务器不可用"},
	{"refused: bad username or password", "拒绝:用户名或密码错误"},
	{"refused: not authorised", "拒绝:未授权"},
}

var reasonV5 = map[int][2]string{
	0: {"success", "成功"}, 16: {"no matching subscribers", "没有匹配的订阅者"},
	128: {"unspecified error", "未指定错误"}, 129: {"malformed packet", "报文格式错误"},
	130: {"protocol error", "协议错误"}, 132: {"unsupported protocol version", "协议版本不支持"},
	133: {"client id not valid", "ClientID 无效"}, 134: {"bad username or password", "用户名或密码错误"},
	135: {"not authorised", "未授权"}, 136: {"server unavailable", "服务器不可用"},
	149: {"packet too large", "报文过大"}, 151: {"quota exceeded", "超出配额"},
}

func rcText(r *Record, n int, lang Lang) string {
	prefix := pick(lang, "return code ", "返回码 ") + strconv.Itoa(n) + ": "
	if r.Event == "connack.send" && n < len(connackV3) && n >= 0 {
		return prefix + connackV3[n][lang]
	}
	if t, ok := reasonV5[n]; ok {
		return prefix + t[lang]
	}
	return prefix + pick(lang, "MQTT 5 reason code", "MQTT 5 原因码")
}

// handshakeStep names the QoS 1/2 step a publish or ack line is, and its direction.
func handshakeStep(r *Record, lang Lang) string {
	ev := r.Event
	if ev == "ack.recv" {
		ev = strings.ToLower(r.Get("packet")) + ".recv"
	}
	in := pick(lang, "client → broker (the client publishes)", "客户端 → 服务器(客户端发布)")
	out := pick(lang, "broker → client (the broker delivers)", "服务器 → 客户端(服务器投递)")
	var step, of int
	var dir string
	switch ev {
	case "publish.recv", "publish.send":
		q := r.Get("qos")
		if q != "1" && q != "2" {
			return ""
		}
		step, of = 1, 2
		if q == "2" {
			of = 4
		}
		dir = in
		if ev == "publish.send" {
			dir = out
		}
	case "puback.send":
		step, of, dir = 2, 2, in
	case "puback.recv":
		step, of, dir = 2, 2, out
	case "pubrec.send":
		step, of, dir = 2, 4, in
	case "pubrec.recv":
		step, of, dir = 2, 4, out
	case "pubrel.recv":
		step, of, dir = 3, 4, in
	case "pubrel.send":
		step, of, dir = 3, 4, out
	case "pubcomp.send":
		step, of, dir = 4, 4, in
	case "pubcomp.recv":
		step, of, dir = 4, 4, out
	default:
		return ""
	}
	names := map[int][2]string{
		1: {"PUBLISH (the message)", "PUBLISH(发布消息)"},
		2: {"PUBREC (received; guaranteed delivery part 1)", "PUBREC(发布收到,有保证交付的第一部分)"},
		3: {"PUBREL (release; guaranteed delivery part 2)", "PUBREL(发布释放,有保证交付的第二部分)"},
		4: {"PUBCOMP (complete; guaranteed delivery part 3, the exchange is finished)", "PUBCOMP(发布完成,有保证交付的第三部分,至此一次发布完成)"},
	}
	name := names[step][lang]
	if of == 2 && step == 2 {
		name = pick(lang, "PUBACK (acknowledged; the exchange is finished)", "PUBACK(发布确认,至此一次发布完成)")
	}
	qos := 1
	if of == 4 {
		qos = 2
	}
	return fmt.Sprintf(pick(lang, "QoS %d handshake, step %d of %d, %s: %s", "QoS %d 握手,第 %d/%d 步,%s:%s"), qos, step, of, dir, name)
}

// humanTime renders a record's timestamp for people.
func humanTime(r *Record) string {
	switch {
	case r.Stamp == "":
		return "(no timestamp)"
	case r.Epoch && r.HasTime:
		return r.Time.Format("2006-01-02 15:04:05 UTC") + " (" + r.Stamp + ")"
	case r.HasTime:
		return r.Time.Format("2006-01-02 15:04:05") + " (broker local time)"
	}
	return r.Stamp
}

// writeExplained prints one record and its explanation.
func writeExplained(w io.Writer, r *Record, lang Lang) error {
	if r.Event == Unknown && strings.TrimSpace(r.Raw) == "" {
		return nil
	}
	ex := Explain(r, lang)
	var b strings.Builder
	fmt.Fprintf(&b, "line %d  %s  [%s]\n", r.Line, humanTime(r), r.Event)
	fmt.Fprintf(&b, "  %s\n", strings.ReplaceAll(r.Msg, "\t", "\\t"))
	fmt.Fprintf(&b, "  = %s\n", ex.Summary)
	for _, f := range ex.Fields {
		fmt.Fprintf(&b, "    %-16s %s\n", f.Token, f.Text)
	}
	for _, n := range ex.Notes {
		fmt.Fprintf(&b, "    * %s\n", n)
	}
	b.WriteByte('\n')
	_, err := io.WriteString(w, b.String())
	return err
}
