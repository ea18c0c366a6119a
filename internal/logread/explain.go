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
		ex.Summary = pick(lang, "Not a known Mosquitto or midge log line; kept as it is.", "这一行不属于已知的 Mosquitto 或 midge 日志格式,照原样保留。")
		if r.Note != "" {
			ex.Notes = append(ex.Notes, r.Note)
		}
		return ex
	}
	if t, ok := eventText[r.Event]; ok {
		ex.Summary = fill(t[lang], r)
	} else {
		ex.Summary = fmt.Sprintf(pick(lang, "Broker message of type %s (event %s).", "broker 的 %s 类日志(事件 %s)。"), r.Level, r.Event)
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
		return sw("address the connection comes from (an IPv6 address is printed bare, without brackets)", "对端地址,即连接从哪台主机发起(IPv6 地址不加方括号)")
	case "port":
		return sw("source port on the client's side (printed since 2.0)", "对端的源端口(2.0 起才出现在日志里)")
	case "listener_port":
		return sw("port of the broker's listener that accepted the connection", "接受这条连接的 listener 端口,也就是 broker 一侧的端口")
	case "client":
		if v == "<unknown>" {
			return sw("no client id: the connection ended before a CONNECT was accepted", "没有 ClientID:连接在 CONNECT 通过之前就已结束")
		}
		if r.Event == "connack.send" && (strings.Count(v, ".") == 3 || strings.Contains(v, ":")) {
			return sw("the peer address, printed because no client id is known yet", "对端地址:此刻还不知道 ClientID,只好打印地址")
		}
		return sw("client id (ClientID) "+v, "ClientID:"+v)
	case "protocol":
		names := map[string]string{"1": "MQTT 3.1 (MQIsdp)", "2": "MQTT 3.1.1", "5": "MQTT 5.0"}
		return sw("protocol version: ", "MQTT 版本:") + names[v]
	case "clean":
		if v == "0" {
			return sw("clean session off (c0): after the client disconnects the broker keeps its session (subscriptions, queued QoS 1/2 messages)",
				"c0 即 clean session 关闭:客户端下线后,broker 仍保存它的订阅和尚未送达的 QoS 1/2 消息")
		}
		return sw("clean session on (c1): the session is thrown away when the client disconnects",
			"c1 即 clean session 开启:客户端一下线,它的会话就被丢弃")
	case "keepalive":
		if n == 0 {
			return sw("keepalive 0: the client never has to send anything; the broker does not time it out", "keepalive 为 0:客户端可以一直不发报文,broker 不会因为超时断开它")
		}
		return fmt.Sprintf(sw("keepalive %d s: the client sends a packet (PINGREQ if idle) at least every %d s; after %s s of silence (1.5 × keepalive) the broker drops it",
			"keepalive 为 %d 秒:客户端每 %d 秒内至少要发一个报文(没事可发就发 PINGREQ);连续 %s 秒(1.5 倍)听不到它,broker 就断开连接"), n, n, onePointFive(n))
	case "username":
		return sw("username given in the CONNECT: "+v, "CONNECT 里带的登录名:"+v)
	case "dup":
		if v == "1" {
			return sw("DUP flag 1: a repeat of a message already sent once (re-sent after a reconnect)", "DUP 标志为 1:这是一次重发,消息此前已发过(重连后补发)")
		}
		return sw("DUP flag 0: first attempt to deliver this message", "DUP 标志为 0:这条消息是第一次发送")
	case "qos":
		q := map[string][2]string{"0": {"at most once, nothing acknowledges it", "至多送达一次,对方不回确认"},
			"1": {"at least once, the receiver answers with PUBACK", "至少送达一次,接收方回 PUBACK"},
			"2": {"exactly once, by the four packets PUBLISH, PUBREC, PUBREL, PUBCOMP", "恰好送达一次,靠 PUBLISH、PUBREC、PUBREL、PUBCOMP 四个报文完成"}}[v]
		return fmt.Sprintf("QoS %s: %s", v, q[lang])
	case "retain":
		if v == "1" {
			if r.Event == "publish.send" {
				return sw("RETAIN flag 1: a stored retained message, sent because the client has just subscribed", "RETAIN 标志为 1:客户端刚订阅,broker 把存着的保留消息补发给它")
			}
			return sw("RETAIN flag 1: the broker keeps this message as the topic's last known value for later subscribers", "RETAIN 标志为 1:broker 会把它留作该主题的最新值,以后谁订阅就先收到它")
		}
		return sw("RETAIN flag 0: an ordinary live message, not kept", "RETAIN 标志为 0:普通的实时消息,broker 不保留")
	case "mid":
		if v == "0" {
			return sw("message id 0: a QoS 0 message carries no packet identifier", "mid 为 0:QoS 0 消息不带报文编号")
		}
		if strings.HasSuffix(r.Event, ".send") && r.Event != "puback.send" && r.Event != "pubrec.send" && r.Event != "pubcomp.send" {
			return sw("message id (mid) "+v+", picked by the broker for this client", "mid "+v+":broker 为这个客户端挑的报文编号")
		}
		return sw("message id (mid) "+v+": the packet identifier that ties the handshake steps together", "mid "+v+":报文编号,同一次交接的几个报文靠它对上号")
	case "bytes":
		return sw("payload size "+v+" bytes (the payload itself is never logged)", "载荷长 "+v+" 字节(日志从不打印内容本身)")
	case "topic":
		return sw("topic "+v, "主题:"+v)
	case "filter":
		return sw("topic filter "+v+" (may contain + and # wildcards)", "订阅过滤器:"+v+"(可以带 + 和 # 通配符)")
	case "session_present":
		if v == "1" {
			return sw("session present 1: a stored session was resumed", "session present 为 1:接上了之前保存的会话")
		}
		return sw("session present 0: no stored session", "session present 为 0:没有可接续的旧会话")
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
	{"connection accepted", "接受连接"},
	{"refused: unacceptable protocol version", "拒绝:不接受该协议版本"},
	{"refused: client id rejected", "拒绝:ClientID 不被接受"},
	{"refused: server unavailable", "拒绝:broker 暂不可用"},
	{"refused: bad username or password", "拒绝:登录名或密码不对"},
	{"refused: not authorised", "拒绝:没有权限"},
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
	in := pick(lang, "client → broker (the client publishes)", "客户端 → broker(客户端在发布)")
	out := pick(lang, "broker → client (the broker delivers)", "broker → 客户端(broker 在投递)")
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
		1: {"PUBLISH (carries the message)", "PUBLISH(消息本身)"},
		2: {"PUBREC (the receiver has the message and remembers its id)", "PUBREC(接收方已拿到消息并记下编号)"},
		3: {"PUBREL (the sender lets the receiver release it)", "PUBREL(发送方通知接收方可以放行)"},
		4: {"PUBCOMP (the receiver confirms; nothing of this exchange is left in flight)", "PUBCOMP(接收方收尾,这次交接再无待办)"},
	}
	name := names[step][lang]
	if of == 2 && step == 2 {
		name = pick(lang, "PUBACK (the receiver acknowledges; nothing is left in flight)", "PUBACK(接收方确认,这次交接再无待办)")
	}
	qos := 1
	if of == 4 {
		qos = 2
	}
	return fmt.Sprintf(pick(lang, "QoS %d handshake, step %d of %d, %s: %s", "QoS %d 交接,共 %[3]d 步中的第 %[2]d 步,%[4]s:%[5]s"), qos, step, of, dir, name)
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
