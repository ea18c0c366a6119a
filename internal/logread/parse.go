package logread

import (
	"strconv"
	"strings"
	"time"
)

// Unknown is the event name of a line that matches no known form.
const Unknown = "unknown"

// A Field is one named value parsed out of a line.
type Field struct {
	Name  string
	Value string
	Num   bool // the value was a %d conversion
}

// A Record is one log line, parsed.
type Record struct {
	Line    int       // 1-based physical line number in the input
	Raw     string    // the record's text, timestamp included
	Stamp   string    // timestamp text without the ": " separator; "" if none
	Time    time.Time // parsed timestamp (UTC for epoch stamps)
	HasTime bool
	Epoch   bool // Stamp is epoch seconds
	Msg     string
	Event   string // catalog key or extra dotted name; Unknown if none matched
	Level   string // mosquitto log type of the form ("debug", "notice"...)
	Fields  []Field
	Note    string // why an unknown line was not matched, or a caveat
}

// Get returns the value of the named field, or "".
func (r *Record) Get(name string) string {
	for _, f := range r.Fields {
		if f.Name == name {
			return f.Value
		}
	}
	return ""
}

// Int returns the named field as an integer (-1 if absent or not a number).
func (r *Record) Int(name string) int64 {
	n, err := strconv.ParseInt(r.Get(name), 10, 64)
	if err != nil {
		return -1
	}
	return n
}

// ctxKind is what the preceding lines make the next context-only line mean.
type ctxKind uint8

const (
	ctxNone ctxKind = iota
	ctxSub
	ctxUnsub
	ctxWill
)

// A Parser parses the records of one stream; it keeps the small context
// that tab-indented and "<client> <qos> <filter>" lines need.
type Parser struct {
	ctx       ctxKind
	ctxClient string
	caps      [maxConv]string
}

// Parse parses one record (one line without its newline).
func (p *Parser) Parse(lineNo int, text string) Record {
	r := Record{Line: lineNo, Raw: text}
	r.Stamp, r.Msg = splitStamp(text)
	if r.Stamp != "" {
		r.Time, r.HasTime, r.Epoch = parseStamp(r.Stamp)
	}
	p.classify(&r)
	return r
}

func (p *Parser) classify(r *Record) {
	msg := r.Msg
	if p.contextual(r) {
		return
	}
	if f := forms.match(msg, p.caps[:]); f != nil {
		r.Event, r.Level = f.key, f.level
		r.Fields = make([]Field, 0, f.nconv)
		k := 0
		for _, s := range f.segs {
			if s.verb == 0 {
				continue
			}
			r.Fields = append(r.Fields, Field{Name: f.names[k], Value: p.caps[k], Num: s.verb == 'd'})
			k++
		}
		p.update(r)
		return
	}
	// A subscribe-type line with no SUBSCRIBE before it (log_type subscribe
	// without debug): accept only the strict "<id> <0-2> <filter>" shape.
	if a, b, c, ok := threeWords(msg); ok && len(b) == 1 && b[0] >= '0' && b[0] <= '2' {
		r.Event, r.Level = "subscribe.granted", "subscribe"
		r.Fields = []Field{{"client", a, false}, {"qos", b, true}, {"filter", c, false}}
		r.Note = "no preceding SUBSCRIBE line"
		p.ctx = ctxNone
		return
	}
	r.Event = Unknown
	if strings.HasPrefix(msg, "\t") {
		r.Note = "tab-indented line without a SUBSCRIBE, UNSUBSCRIBE or will line before it"
	}
	p.ctx = ctxNone
}

// contextual handles the lines whose meaning depends on the line before.
func (p *Parser) contextual(r *Record) bool {
	msg := r.Msg
	set := func(event, level string, fields ...Field) bool {
		r.Event, r.Level, r.Fields = event, level, fields
		return true
	}
	if body, ok := strings.CutPrefix(msg, "\t"); ok || p.ctx == ctxSub {
		// "\t<filter> (QoS n)"; copies of logs from web pages lose the tab.
		if i := strings.LastIndex(body, " (QoS "); i >= 0 && strings.HasSuffix(body, ")") {
			q := body[i+6 : len(body)-1]
			if numLen(q, 'd') == len(q) && len(q) > 0 {
				return set("subscribe.topic", "debug", Field{"filter", body[:i], false}, Field{"qos", q, true})
			}
		}
		if ok {
			switch p.ctx {
			case ctxWill:
				p.ctx = ctxNone
				return set("connect.will_topic", "debug", Field{"topic", body, false})
			case ctxUnsub:
				return set("unsubscribe.topic", "debug", Field{"filter", body, false})
			}
			return false
		}
	}
	if (p.ctx == ctxSub || p.ctx == ctxUnsub) && strings.HasPrefix(msg, p.ctxClient+" ") {
		rest := msg[len(p.ctxClient)+1:]
		if p.ctx == ctxUnsub {
			return set("unsubscribe.done", "unsubscribe", Field{"client", p.ctxClient, false}, Field{"filter", rest, false})
		}
		if n := numLen(rest, 'd'); n > 0 && n < len(rest) && rest[n] == ' ' {
			return set("subscribe.granted", "subscribe", Field{"client", p.ctxClient, false},
				Field{"qos", rest[:n], true}, Field{"filter", rest[n+1:], false})
		}
	}
	return false
}

// update sets the context from a line matched in the form table.
func (p *Parser) update(r *Record) {
	switch r.Event {
	case "subscribe.recv":
		p.ctx, p.ctxClient = ctxSub, r.Get("client")
	case "unsubscribe.recv":
		p.ctx, p.ctxClient = ctxUnsub, r.Get("client")
	case "connect.will":
		p.ctx, p.ctxClient = ctxWill, ""
	default:
		p.ctx = ctxNone
	}
}

// threeWords splits s into exactly three space-free words.
func threeWords(s string) (a, b, c string, ok bool) {
	a, rest, ok1 := strings.Cut(s, " ")
	b, c, ok2 := strings.Cut(rest, " ")
	if !ok1 || !ok2 || a == "" || b == "" || c == "" || strings.ContainsAny(c, " \t") || strings.ContainsRune(a, '\t') {
		return "", "", "", false
	}
	return a, b, c, true
}

// splitStamp separates a timestamp prefix from the message. An epoch stamp is
// 8 to 12 digits then ": "; any other stamp (log_timestamp_format) is a
// prefix before the first ": " that parses as a date or is made only of
// digits and date punctuation.
func splitStamp(s string) (stamp, msg string) {
	if n := numLen(s, 'x'); n >= 8 && n <= 12 && allDigits(s[:n]) && strings.HasPrefix(s[n:], ": ") {
		return s[:n], s[n+2:]
	}
	limit := min(len(s), 64)
	i := strings.Index(s[:limit], ": ")
	if i <= 0 {
		return "", s
	}
	if cand := s[:i]; looksLikeStamp(cand) {
		return cand, s[i+2:]
	}
	return "", s
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// looksLikeStamp accepts a date-like prefix: one a known layout parses, or
// one of digits and date punctuation with at least four digits.
func looksLikeStamp(s string) bool {
	if _, ok := parseLayouts(s); ok {
		return true
	}
	if !strings.ContainsAny(s, "-/:T") {
		return false // an IP address or a bare number is not a stamp
	}
	digits := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
			digits++
		case strings.IndexByte("-/:.T Z+,[]", c) >= 0:
		default:
			return false
		}
	}
	return digits >= 4
}

var layouts = []string{
	"2006-01-02T15:04:05", "2006-01-02 15:04:05", "2006/01/02 15:04:05", "2006-01-02T15:04:05Z07:00",
	"2006-01-02 15:04:05Z07:00", "Jan _2 15:04:05", "Mon Jan _2 15:04:05 2006", "Mon, 02 Jan 2006 15:04:05",
	"02/01/2006 15:04:05", "01/02/2006 15:04:05", "15:04:05", "2006-01-02",
}

func parseLayouts(s string) (time.Time, bool) {
	s = strings.Trim(s, "[]")
	for _, l := range layouts {
		if t, err := time.Parse(l, s); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

// parseStamp turns a timestamp prefix into a time. Epoch stamps are UTC;
// formatted stamps are the broker's local time and are kept as written.
func parseStamp(s string) (t time.Time, ok, epoch bool) {
	if allDigits(s) {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return time.Time{}, false, true
		}
		return time.Unix(n, 0).UTC(), true, true
	}
	t, ok = parseLayouts(s)
	return t, ok, false
}

// splitGlued cuts a physical line at each "<10-digit epoch>: " that is glued
// to the previous record (logs pasted from web pages lose their newlines). A
// cut is made only when the line itself starts with an epoch stamp and the
// glued epoch is within a day of it, so digits in topics or client ids that
// merely look like a stamp are left alone. The result reuses line.
func splitGlued(line string, out []string) []string {
	out = out[:0]
	n := numLen(line, 'd')
	if n != 10 || !strings.HasPrefix(line[n:], ": ") {
		return append(out, line)
	}
	base, _ := strconv.ParseInt(line[:n], 10, 64)
	start := 0
	for i := n + 2; i+12 <= len(line); {
		j := strings.Index(line[i:], ": ")
		if j < 0 {
			break
		}
		k := i + j // index of ": "
		if k-10 >= i && allDigits(line[k-10:k]) {
			if ts, _ := strconv.ParseInt(line[k-10:k], 10, 64); ts-base <= 86400 && base-ts <= 86400 {
				out = append(out, strings.TrimRight(line[start:k-10], " "))
				start = k - 10
			}
		}
		i = k + 2
	}
	return append(out, line[start:])
}
