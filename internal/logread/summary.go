package logread

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// Bounds on the summary state, so that any input size streams in bounded memory.
const (
	maxClients      = 20000  // distinct client ids tracked
	maxConnsKept    = 10     // connections listed per client (the most recent)
	maxTopics       = 20000  // distinct topics tracked; the rest go to otherTopics
	maxInflight     = 100000 // open QoS 1/2 exchanges tracked
	maxMinutes      = 50000  // per-minute buckets
	maxPending      = 20000  // accepted sockets waiting for their CONNECT
	topN            = 20     // rows in the text tables
	otherTopics     = "(other topics)"
	unknownEndLabel = "(still open at end of log)"
)

// Conn is one client connection as the summary sees it.
type Conn struct {
	From     string `json:"from,omitempty"`
	Start    string `json:"start,omitempty"`
	End      string `json:"end,omitempty"`
	Duration string `json:"duration,omitempty"`
	Ended    string `json:"ended"` // event that ended it, "takeover", or still open
	startT   time.Time
	hasStart bool
}

// ClientStat aggregates one client id.
type ClientStat struct {
	Client      string `json:"client"`
	Connections int    `json:"connections"`
	Published   int    `json:"published"` // PUBLISH received from it
	Delivered   int    `json:"delivered"` // PUBLISH sent to it
	BytesIn     int64  `json:"bytes_in"`  // payload bytes it published
	BytesOut    int64  `json:"bytes_out"` // payload bytes delivered to it
	Recent      []Conn `json:"recent_connections"`
	open        *Conn
	// sentDisconnect: its last line was "Received DISCONNECT", already
	// counted as a clean disconnect (2.0 follows it with "Client %s
	// disconnected.", 1.x prints nothing more).
	sentDisconnect bool
}

// TopicStat aggregates one topic.
type TopicStat struct {
	Topic     string `json:"topic"`
	Published int    `json:"published"`
	BytesIn   int64  `json:"bytes_in"`
	Delivered int    `json:"delivered"`
	BytesOut  int64  `json:"bytes_out"`
}

// Flight is a QoS 1/2 exchange that was never completed.
type Flight struct {
	Client    string `json:"client"`
	Direction string `json:"direction"` // "in" (client→broker) or "out" (broker→client)
	Mid       int64  `json:"mid"`
	QoS       int64  `json:"qos"`
	Topic     string `json:"topic,omitempty"`
	LastStep  string `json:"last_step"`
	Line      int    `json:"line"`
}

type flightKey struct {
	client string
	out    bool
	mid    int64
}

// Summary accumulates statistics over a stream of records.
type Summary struct {
	Records, Unknown int
	First, Last      string
	clients          map[string]*ClientStat
	droppedClients   int
	reasons          map[string]int
	topics           map[string]*TopicStat
	inflight         map[flightKey]*Flight
	droppedFlights   int
	minutes          map[string]int
	pending          map[string]Conn
	lastTimeout      string
}

// NewSummary returns an empty summary.
func NewSummary() *Summary {
	return &Summary{clients: map[string]*ClientStat{}, reasons: map[string]int{}, topics: map[string]*TopicStat{},
		inflight: map[flightKey]*Flight{}, minutes: map[string]int{}, pending: map[string]Conn{}}
}

// reasonEvents are the lines counted as ways a connection ended or was refused.
var reasonEvents = map[string]string{
	"client.disconnected": "disconnected (clean)", "client.closed": "closed by client, no DISCONNECT",
	"client.malformed": "malformed packet", "client.protocol_error": "protocol error",
	"client.not_authorised": "refused login (not authorised)", "client.no_longer_authorised": "no longer authorised",
	"client.timeout": "keepalive timeout", "client.oversize_packet": "oversize packet",
	"client.oversize_payload": "oversize payload", "client.out_of_memory": "out of memory",
	"client.not_supported": "not allowed feature", "client.admin": "administrative action",
	"client.errno": "socket error (errno)", "client.bad_socket": "bad socket read/write",
	"client.socket_error": "socket error (1.x, any abnormal close)", "connect.takeover": "takeover (client id reused)",
	"connect.bad_protocol": "invalid protocol name", "connect.bad_version": "invalid protocol version",
	"client.expired": "session expired",
}

func stampOf(r *Record) string {
	switch {
	case r.HasTime && r.Epoch:
		return r.Time.Format("2006-01-02 15:04:05")
	case r.HasTime:
		return r.Time.Format("2006-01-02 15:04:05")
	case r.Stamp != "":
		return r.Stamp
	}
	return "line " + strconv.Itoa(r.Line)
}

func (s *Summary) client(id string) *ClientStat {
	c := s.clients[id]
	if c == nil {
		if len(s.clients) >= maxClients {
			s.droppedClients++
			return nil
		}
		c = &ClientStat{Client: id}
		s.clients[id] = c
	}
	return c
}

func (s *Summary) topic(t string) *TopicStat {
	ts := s.topics[t]
	if ts == nil {
		if len(s.topics) >= maxTopics {
			t = otherTopics
			if ts = s.topics[t]; ts != nil {
				return ts
			}
		}
		ts = &TopicStat{Topic: t}
		s.topics[t] = ts
	}
	return ts
}

// Add accounts one record.
func (s *Summary) Add(r *Record) {
	s.Records++
	if r.Event == Unknown {
		if strings.TrimSpace(r.Raw) != "" {
			s.Unknown++
		}
		return
	}
	if r.Stamp != "" {
		if s.First == "" {
			s.First = stampOf(r)
		}
		s.Last = stampOf(r)
	}
	id := r.Get("client")
	if r.Event == "client.disconnected" {
		if c := s.clients[id]; c != nil && c.sentDisconnect {
			c.sentDisconnect = false
			return
		}
	}
	if label, ok := reasonEvents[r.Event]; ok {
		// 1.x logs a timeout and then "Socket error" for the same close.
		if r.Event == "client.socket_error" && s.lastTimeout == id {
			s.lastTimeout = ""
			return
		}
		s.reasons[label]++
		s.lastTimeout = ""
		if r.Event == "client.timeout" {
			s.lastTimeout = id
		}
		ended := strings.TrimPrefix(r.Event, "client.")
		if r.Event == "connect.takeover" {
			ended = "takeover"
		}
		if c := s.clients[id]; c != nil && c.open != nil {
			s.endConn(c, r, ended)
		}
		return
	}
	switch r.Event {
	case "disconnect.recv":
		// The connection ends here; 1.x logs no later line for it.
		if c := s.clients[id]; c != nil && c.open != nil {
			s.reasons[reasonEvents["client.disconnected"]]++
			s.endConn(c, r, "disconnected")
			c.sentDisconnect = true
		}
	case "conn.new":
		if r.HasTime && len(s.minutes) < maxMinutes {
			s.minutes[r.Time.Format("2006-01-02 15:04")]++
		}
		if len(s.pending) < maxPending {
			s.pending[peerKey(r)] = Conn{Start: stampOf(r), startT: r.Time, hasStart: r.HasTime}
		}
	case "connect.ok", "connect.ok_anon", "connect.bridge", "connect.bridge_anon":
		c := s.client(id)
		if c == nil {
			return
		}
		conn, ok := s.pending[peerKey(r)]
		delete(s.pending, peerKey(r))
		if !ok {
			conn = Conn{Start: stampOf(r), startT: r.Time, hasStart: r.HasTime}
		}
		conn.From = r.Get("address")
		if p := r.Get("port"); p != "" {
			conn.From += ":" + p
		}
		if c.open != nil { // previous connection ended without a line we know
			s.endConn(c, r, "unlogged")
		}
		c.sentDisconnect = false
		c.Connections++
		c.open = &conn
	case "publish.recv", "publish.send":
		s.publish(r, id)
	case "puback.send", "pubcomp.send":
		delete(s.inflight, flightKey{id, false, r.Int("mid")})
	case "puback.recv", "pubcomp.recv":
		delete(s.inflight, flightKey{id, true, r.Int("mid")})
	case "pubrec.send", "pubrel.recv":
		s.step(flightKey{id, false, r.Int("mid")}, r)
	case "pubrec.recv", "pubrel.send":
		s.step(flightKey{id, true, r.Int("mid")}, r)
	case "ack.recv":
		switch r.Get("packet") {
		case "PUBACK", "PUBCOMP":
			delete(s.inflight, flightKey{id, true, r.Int("mid")})
		case "PUBREC":
			s.step(flightKey{id, true, r.Int("mid")}, r)
		case "PUBREL":
			s.step(flightKey{id, false, r.Int("mid")}, r)
		}
	}
}

func peerKey(r *Record) string { return r.Get("address") + " " + r.Get("port") }

func (s *Summary) endConn(c *ClientStat, r *Record, how string) {
	conn := *c.open
	c.open = nil
	conn.End = stampOf(r)
	conn.Ended = how
	if conn.hasStart && r.HasTime {
		conn.Duration = r.Time.Sub(conn.startT).String()
	}
	c.Recent = append(c.Recent, conn)
	if len(c.Recent) > maxConnsKept {
		c.Recent = append(c.Recent[:0], c.Recent[1:]...)
	}
}

func (s *Summary) publish(r *Record, id string) {
	out := r.Event == "publish.send"
	n := r.Int("bytes")
	t := s.topic(r.Get("topic"))
	if c := s.client(id); c != nil {
		if out {
			c.Delivered++
			c.BytesOut += n
		} else {
			c.Published++
			c.BytesIn += n
		}
	}
	if out {
		t.Delivered++
		t.BytesOut += n
	} else {
		t.Published++
		t.BytesIn += n
	}
	if q := r.Int("qos"); q == 1 || q == 2 {
		k := flightKey{id, out, r.Int("mid")}
		if _, ok := s.inflight[k]; !ok && len(s.inflight) >= maxInflight {
			s.droppedFlights++
			return
		}
		s.inflight[k] = &Flight{Client: id, Direction: dirName(out), Mid: k.mid, QoS: q, Topic: r.Get("topic"),
			LastStep: "PUBLISH", Line: r.Line}
	}
}

func dirName(out bool) string {
	if out {
		return "out"
	}
	return "in"
}

func (s *Summary) step(k flightKey, r *Record) {
	if f := s.inflight[k]; f != nil {
		f.LastStep = strings.ToUpper(strings.SplitN(r.Event, ".", 2)[0])
		if r.Event == "ack.recv" {
			f.LastStep = r.Get("packet")
		}
		f.Line = r.Line
	}
}

// Report is the summary in its output form.
type Report struct {
	Records           int            `json:"records"`
	UnknownLines      int            `json:"unknown_lines"`
	First             string         `json:"first,omitempty"`
	Last              string         `json:"last,omitempty"`
	Clients           []*ClientStat  `json:"clients"`
	ClientsNotShown   int            `json:"clients_over_limit,omitempty"`
	Reasons           map[string]int `json:"disconnect_reasons"`
	Incomplete        []*Flight      `json:"incomplete_handshakes"`
	FlightsNotShown   int            `json:"handshakes_over_limit,omitempty"`
	Topics            []*TopicStat   `json:"topics"`
	ConnectionsPerMin map[string]int `json:"connections_per_minute"`
}

// Report finishes the summary: open connections are closed as still open
// and every list is sorted.
func (s *Summary) Report() *Report {
	rep := &Report{Records: s.Records, UnknownLines: s.Unknown, First: s.First, Last: s.Last,
		Reasons: s.reasons, ClientsNotShown: s.droppedClients, FlightsNotShown: s.droppedFlights,
		ConnectionsPerMin: s.minutes}
	for _, c := range s.clients {
		if c.open != nil {
			conn := *c.open
			conn.Ended = unknownEndLabel
			c.Recent = append(c.Recent, conn)
			c.open = nil
		}
		rep.Clients = append(rep.Clients, c)
	}
	sort.Slice(rep.Clients, func(i, j int) bool { return rep.Clients[i].Client < rep.Clients[j].Client })
	for _, f := range s.inflight {
		rep.Incomplete = append(rep.Incomplete, f)
	}
	sort.Slice(rep.Incomplete, func(i, j int) bool { return rep.Incomplete[i].Line < rep.Incomplete[j].Line })
	for _, t := range s.topics {
		rep.Topics = append(rep.Topics, t)
	}
	sort.Slice(rep.Topics, func(i, j int) bool {
		a, b := rep.Topics[i], rep.Topics[j]
		if a.Published+a.Delivered != b.Published+b.Delivered {
			return a.Published+a.Delivered > b.Published+b.Delivered
		}
		return a.Topic < b.Topic
	})
	return rep
}

// WriteJSON writes the report as one indented JSON document.
func (rep *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(rep)
}

// WriteText writes the report as plain text tables.
func (rep *Report) WriteText(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "Log: %d records, %d unknown lines", rep.Records, rep.UnknownLines)
	if rep.First != "" {
		fmt.Fprintf(tw, ", from %s to %s", rep.First, rep.Last)
	}
	fmt.Fprint(tw, "\n\nCONNECTIONS PER CLIENT\nclient\tfrom\tstart\tend\tduration\tended\n")
	for _, c := range rep.Clients {
		for _, k := range c.Recent {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", c.Client, k.From, k.Start, dash(k.End), dash(k.Duration), k.Ended)
		}
		if c.Connections > len(c.Recent) {
			fmt.Fprintf(tw, "%s\t(%d earlier connections not listed)\t\t\t\t\n", c.Client, c.Connections-len(c.Recent))
		}
	}
	if rep.ClientsNotShown > 0 {
		fmt.Fprintf(tw, "(%d lines about clients over the limit of %d not counted)\n", rep.ClientsNotShown, maxClients)
	}
	fmt.Fprint(tw, "\nDISCONNECT REASONS\nreason\tcount\n")
	for _, k := range sortedKeys(rep.Reasons, true) {
		fmt.Fprintf(tw, "%s\t%d\n", k, rep.Reasons[k])
	}
	fmt.Fprintf(tw, "\nINCOMPLETE QOS 1/2 HANDSHAKES (%d)\nclient\tdirection\tmid\tqos\ttopic\tlast step\tline\n", len(rep.Incomplete))
	for i, f := range rep.Incomplete {
		if i == topN {
			fmt.Fprintf(tw, "... %d more\n", len(rep.Incomplete)-topN)
			break
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%s\t%s\t%d\n", f.Client, f.Direction, f.Mid, f.QoS, dash(f.Topic), f.LastStep, f.Line)
	}
	fmt.Fprint(tw, "\nTOPICS\ntopic\tpublished\tbytes in\tdelivered\tbytes out\n")
	for i, t := range rep.Topics {
		if i == topN {
			fmt.Fprintf(tw, "... %d more\n", len(rep.Topics)-topN)
			break
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\n", t.Topic, t.Published, t.BytesIn, t.Delivered, t.BytesOut)
	}
	fmt.Fprint(tw, "\nCONNECTIONS PER MINUTE\nminute\tnew connections\n")
	mins := sortedKeys(rep.ConnectionsPerMin, false)
	if len(mins) > topN { // many minutes: show the busiest
		mins = sortedKeys(rep.ConnectionsPerMin, true)[:topN]
		fmt.Fprintf(tw, "(busiest %d of %d minutes)\n", topN, len(rep.ConnectionsPerMin))
	}
	for _, m := range mins {
		fmt.Fprintf(tw, "%s\t%d\n", m, rep.ConnectionsPerMin[m])
	}
	busy := append([]*ClientStat(nil), rep.Clients...)
	sort.SliceStable(busy, func(i, j int) bool {
		return busy[i].Published+busy[i].Delivered > busy[j].Published+busy[j].Delivered
	})
	fmt.Fprint(tw, "\nBUSIEST CLIENTS\nclient\tconnections\tpublished\tbytes in\tdelivered\tbytes out\n")
	for i, c := range busy {
		if i == topN {
			break
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\n", c.Client, c.Connections, c.Published, c.BytesIn, c.Delivered, c.BytesOut)
	}
	return tw.Flush()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// sortedKeys sorts by key, or by count descending then key.
func sortedKeys(m map[string]int, byCount bool) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if byCount && m[keys[i]] != m[keys[j]] {
			return m[keys[i]] > m[keys[j]]
		}
		return keys[i] < keys[j]
	})
	return keys
}
