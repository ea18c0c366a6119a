package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/midgemq/midge/internal/broker"
)

// Options describe the broker to the collector.
type Options struct {
	// CompatVersion is the Mosquitto version midge answers as (the
	// midge_build_info label, $SYS/broker/version).
	CompatVersion string
	// Start is when the broker started (midge_start_time_seconds).
	Start time.Time
}

// counter is a Stats counter exported as a Prometheus counter.
type counter struct {
	desc *prometheus.Desc
	read func(*broker.Stats) int64
}

// Collector reads the broker's counters and state on each scrape. It keeps
// no counters of its own.
type Collector struct {
	srv  *broker.Server
	opts Options

	counters []counter

	dropped, disconnects                              *prometheus.Desc
	buildInfo, startTime                              *prometheus.Desc
	clients, sockets                                  *prometheus.Desc
	sessions, subs, sharedSubs                        *prometheus.Desc
	inflight, queued, inbound, retained, retainedSize *prometheus.Desc
	inflightSize, queuedSize                          *prometheus.Desc
	latency                                           *prometheus.Desc
	storeUp, storeDisk, storeBatches, storeSyncs      *prometheus.Desc
}

var _ prometheus.Collector = (*Collector)(nil)

func desc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc(name, help, labels, nil)
}

// NewCollector returns a collector over srv.
func NewCollector(srv *broker.Server, o Options) *Collector {
	c := &Collector{srv: srv, opts: o}
	add := func(name, help string, read func(*broker.Stats) int64) {
		c.counters = append(c.counters, counter{desc(name, help), read})
	}
	add("midge_packets_received_total", "MQTT packets received, of every type.",
		func(s *broker.Stats) int64 { return s.MessagesReceived.Load() })
	add("midge_packets_sent_total", "MQTT packets sent, of every type.",
		func(s *broker.Stats) int64 { return s.MessagesSent.Load() })
	add("midge_publish_messages_received_total", "PUBLISH packets received from clients, refused ones included.",
		func(s *broker.Stats) int64 { return s.PublishReceived.Load() })
	add("midge_publish_messages_sent_total", "PUBLISH packets sent to clients, $SYS messages included.",
		func(s *broker.Stats) int64 { return s.PublishSent.Load() })
	add("midge_publish_received_bytes_total", "Payload bytes of the PUBLISH packets received.",
		func(s *broker.Stats) int64 { return s.PublishBytesIn.Load() })
	add("midge_publish_sent_bytes_total", "Payload bytes of the PUBLISH packets sent.",
		func(s *broker.Stats) int64 { return s.PublishBytesOut.Load() })
	add("midge_network_received_bytes_total", "Bytes read from client sockets.",
		func(s *broker.Stats) int64 { return s.BytesReceived.Load() })
	add("midge_network_sent_bytes_total", "Bytes written to client sockets.",
		func(s *broker.Stats) int64 { return s.BytesSent.Load() })
	add("midge_sockets_accepted_total", "Client sockets accepted by the listeners.",
		func(s *broker.Stats) int64 { return s.SocketsAccepted.Load() })
	add("midge_connects_total", "CONNECT packets accepted (a session attached).",
		func(s *broker.Stats) int64 { return s.Connects.Load() })
	add("midge_sessions_expired_total", "Sessions ended by session expiry or persistent_client_expiration.",
		func(s *broker.Stats) int64 { return s.ClientsExpired.Load() })

	c.dropped = desc("midge_publish_messages_dropped_total",
		"Messages not delivered, by reason; a reason counts one per message or per delivery as docs/METRICS.md says.", "reason")
	c.disconnects = desc("midge_disconnects_total",
		"Client connections ended, by reason, whether or not their CONNECT was accepted.", "reason")
	c.buildInfo = desc("midge_build_info", "Always 1; the label is the Mosquitto version midge answers as.",
		"mosquitto_version")
	c.startTime = desc("midge_start_time_seconds", "Unix time at which the broker started.")
	c.clients = desc("midge_clients_connected", "Connected clients (CONNECT accepted), by listener and MQTT protocol version.",
		"listener", "protocol")
	c.sockets = desc("midge_sockets_open", "Open client sockets, by listener, including those that have not sent CONNECT yet.",
		"listener")
	c.sessions = desc("midge_sessions", "Known sessions: connected clients and disconnected persistent sessions.")
	c.subs = desc("midge_subscriptions", "Non-shared subscriptions.")
	c.sharedSubs = desc("midge_shared_subscriptions", "Shared ($share) subscriptions.")
	c.inflight = desc("midge_inflight_messages", "Outbound messages sent and not yet acknowledged, by QoS.", "qos")
	c.queued = desc("midge_queued_messages", "Outbound messages waiting in session queues, in memory or in the store.")
	c.inflightSize = desc("midge_inflight_bytes", "Payload bytes of the outbound messages in flight.")
	c.queuedSize = desc("midge_queued_bytes", "Payload bytes of the outbound messages in session queues, in memory or in the store.")
	c.inbound = desc("midge_inbound_qos2_messages", "Inbound QoS 2 messages received and awaiting the publisher's PUBREL.")
	c.retained = desc("midge_retained_messages", "Retained messages, $SYS ones included.")
	c.retainedSize = desc("midge_retained_bytes", "Payload bytes of the retained messages, $SYS ones included.")
	c.latency = desc("midge_publish_latency_seconds",
		"Time from a client's PUBLISH arriving to each copy being written to a subscriber connection.")
	c.storeUp = desc("midge_store_up", "1 while the persistent store can write, 0 after a write error (persistence only).")
	c.storeDisk = desc("midge_store_disk_bytes", "Disk space used by the persistent store's files (persistence only).")
	c.storeBatches = desc("midge_store_batches_total", "Write batches applied to the persistent store (persistence only).")
	c.storeSyncs = desc("midge_store_syncs_total", "fsyncs of the persistent store (persistence only).")
	return c
}

// Describe sends every descriptor the collector may use.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, k := range c.counters {
		ch <- k.desc
	}
	for _, d := range []*prometheus.Desc{c.dropped, c.disconnects, c.buildInfo, c.startTime, c.clients, c.sockets,
		c.sessions, c.subs, c.sharedSubs, c.inflight, c.queued, c.inflightSize, c.queuedSize, c.inbound,
		c.retained, c.retainedSize, c.latency,
		c.storeUp, c.storeDisk, c.storeBatches, c.storeSyncs} {
		ch <- d
	}
}

// Collect reads the figures once per scrape.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	st := &c.srv.Stats
	counterOf := func(d *prometheus.Desc, v int64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	for _, k := range c.counters {
		counterOf(k.desc, k.read(st))
	}
	for i := range st.Dropped {
		counterOf(c.dropped, st.Dropped[i].Load(), broker.DropCause(i).String())
	}
	for i := range st.Disconnects {
		if name := broker.DisconnectReason(i); name != "" {
			counterOf(c.disconnects, st.Disconnects[i].Load(), name)
		}
	}
	gauge(c.buildInfo, 1, c.opts.CompatVersion)
	if !c.opts.Start.IsZero() {
		gauge(c.startTime, float64(c.opts.Start.UnixNano())/1e9)
	}
	c.collectListeners(ch)

	sf := c.srv.SessionFigures()
	gauge(c.sessions, float64(sf.Sessions))
	gauge(c.inflight, float64(sf.InflightQoS1), "1")
	gauge(c.inflight, float64(sf.InflightQoS2), "2")
	gauge(c.queued, float64(sf.Queued))
	gauge(c.inflightSize, float64(sf.InflightBytes))
	gauge(c.queuedSize, float64(sf.QueuedBytes))
	gauge(c.inbound, float64(sf.InboundQoS2))
	normal, shared := c.srv.Subscriptions()
	gauge(c.subs, float64(normal))
	gauge(c.sharedSubs, float64(shared))
	n, size := c.srv.RetainedFigures()
	gauge(c.retained, float64(n))
	gauge(c.retainedSize, float64(size))

	count, sum, per := st.Latency.Snapshot()
	buckets := make(map[float64]uint64, len(broker.LatencyBuckets))
	var cum uint64
	for i, b := range broker.LatencyBuckets {
		cum += per[i]
		buckets[b.Seconds()] = cum
	}
	ch <- prometheus.MustNewConstHistogram(c.latency, count, sum.Seconds(), buckets)

	if db := c.srv.Store(); db != nil {
		up := 1.0
		if db.Err() != nil {
			up = 0
		}
		gauge(c.storeUp, up)
		if size, ok := db.DiskSize(); ok {
			gauge(c.storeDisk, float64(size))
		}
		batches, syncs := db.Stats()
		counterOf(c.storeBatches, int64(batches))
		counterOf(c.storeSyncs, int64(syncs))
	}
}

// collectListeners sums the listener figures by name: two sockets with one
// address would otherwise make the scrape fail on a duplicate series.
func (c *Collector) collectListeners(ch chan<- prometheus.Metric) {
	type sums struct {
		sockets int64
		clients [3]int64
	}
	var order []string
	by := map[string]*sums{}
	for _, f := range c.srv.ListenerFigures() {
		s := by[f.Name]
		if s == nil {
			s = &sums{}
			by[f.Name] = s
			order = append(order, f.Name)
		}
		s.sockets += f.Sockets
		for i, n := range f.Clients {
			s.clients[i] += n
		}
	}
	for _, name := range order {
		s := by[name]
		ch <- prometheus.MustNewConstMetric(c.sockets, prometheus.GaugeValue, float64(s.sockets), name)
		for i, n := range s.clients {
			ch <- prometheus.MustNewConstMetric(c.clients, prometheus.GaugeValue, float64(n), name, broker.ProtocolNames[i])
		}
	}
}
