package broker

import (
	"strings"
	"time"

	"github.com/midgemq/midge/internal/logcat"
	"github.com/midgemq/midge/internal/packet"
	"github.com/midgemq/midge/internal/session"
	"github.com/midgemq/midge/internal/topic"
)

func (c *conn) handlePublish(p *packet.Publish) bool {
	s := c.srv
	s.Stats.PublishReceived.Add(1)
	s.Stats.PublishBytesIn.Add(int64(len(p.Payload)))
	if p.QoS > c.l.spec.MaxQoS {
		s.log.Log(logcat.PubQoSTooHigh, c.id)
		if c.version == packet.V5 {
			c.writeDisconnect(packet.QoSNotSupported)
		}
		c.failText(reasonBadSocket, "Requested QoS not supported on server.")
		return false
	}
	name := p.Topic
	if c.version == packet.V5 && p.Props.HasTopicAlias {
		a := p.Props.TopicAlias
		// [MQTT-3.3.2-9] [MQTT-3.3.2-10] alias 0 or above our maximum.
		if a == 0 || a > c.l.spec.MaxTopicAlias {
			c.writeDisconnect(packet.TopicAliasInvalid)
			c.failText(reasonBadSocket, "Unknown error.")
			return false
		}
		if name == "" {
			var ok bool
			if name, ok = c.aliases[a]; !ok {
				c.fail(reasonProtocol)
				return false
			}
		} else {
			if c.aliases == nil {
				c.aliases = map[uint16]string{}
			}
			c.aliases[a] = strings.Clone(name)
		}
	}
	// [MQTT-3.3.2-1] [MQTT-3.3.2-2] a valid topic name without wildcards.
	if !topic.ValidName(name) {
		c.fail(reasonMalformed)
		return false
	}
	if p.Retain && !s.Options().RetainAvailable {
		if c.version == packet.V5 {
			c.writeDisconnect(packet.RetainNotSupported)
		}
		c.failText(reasonBadSocket, "Unknown error.")
		return false
	}
	full := c.l.spec.MountPoint + name
	o := s.Options()
	args := func() []any {
		return []any{c.id, b2i(p.Dup), int(p.QoS), b2i(p.Retain), int(p.PacketID), full, len(p.Payload)}
	}
	if o.MessageSizeLimit > 0 && uint32(len(p.Payload)) > o.MessageSizeLimit {
		if s.log.On(logcat.TooLarge) {
			s.log.Log(logcat.TooLarge, args()...)
		}
		s.Stats.Dropped[DropMessageTooLarge].Add(1)
		c.ackPublish(p, packet.PacketTooLarge)
		return true
	}
	// WRITE check: $SYS and $share pre-check, then the ACL (authz.go).
	// Denied messages are still acknowledged (reference §4.5).
	if !c.owner.allow(full, AccessWrite) {
		if s.log.On(logcat.DeniedPublish) {
			s.log.Log(logcat.DeniedPublish, args()...)
		}
		s.Stats.Dropped[DropACLWrite].Add(1)
		c.ackPublish(p, packet.NotAuthorized)
		return true
	}
	if c.version == packet.V5 && payloadFormatInvalid(&p.Props, p.Payload) {
		return c.rejectPayloadFormat(p) // v5.go
	}
	if s.log.On(logcat.RecvPublish) {
		s.log.Log(logcat.RecvPublish, args()...)
	}
	m := &session.Message{Topic: full, Payload: append([]byte(nil), p.Payload...), QoS: p.QoS, Retain: p.Retain, Origin: c.id,
		Source: c.owner.src, RecvAt: monoNow()}
	if c.version == packet.V5 {
		m.Props = forwardProps(&p.Props)
		if p.Props.HasMessageExpiry {
			m.ExpiresAt = time.Now().Unix() + int64(p.Props.MessageExpiry)
		}
	}
	if p.QoS > 0 && s.storeFailed() {
		return c.refusePublish(p) // persist.go
	}
	switch p.QoS {
	case 0:
		s.route(m)
	case 1:
		n, seq := s.routeSeq(m)
		if !s.waitDurable(seq) {
			return c.refusePublish(p)
		}
		code := packet.Success
		if n == 0 && c.version == packet.V5 {
			code = packet.NoMatchingSubscribers
		}
		c.sendAck(logcat.SendPuback, packet.PUBACK, p.PacketID, code)
	case 2:
		return c.inboundQoS2(p, m)
	}
	return true
}

// inboundQoS2 stores a QoS 2 message until PUBREL ("method B"): subscribers
// get it when the handshake completes (reference §6.4).
func (c *conn) inboundQoS2(p *packet.Publish, m *session.Message) bool {
	ss := c.sess
	ss.Mu.Lock()
	old, exists := ss.InboundQoS2(p.PacketID)
	if exists {
		if old.Same(m) {
			ss.Mu.Unlock()
			// A duplicate: PUBREC again once; a third copy is a protocol error.
			if c.qos2Dups == nil {
				c.qos2Dups = map[uint16]uint8{}
			}
			c.qos2Dups[p.PacketID]++
			if c.qos2Dups[p.PacketID] > 1 {
				c.fail(reasonProtocol)
				return false
			}
			c.sendAck(logcat.SendPubrec, packet.PUBREC, p.PacketID, 0)
			return true
		}
		c.srv.log.Log(logcat.ReusedMid, int(p.PacketID), c.id)
	}
	// The receive quota is max_inflight_messages (reference §6.4).
	if q := c.srv.Options().Limits.MaxInflight; !exists && q > 0 && ss.InboundCount() >= q {
		ss.Mu.Unlock()
		c.srv.Stats.Dropped[DropInboundQuota].Add(1)
		c.sendAck(logcat.SendPubrec, packet.PUBREC, p.PacketID, packet.QuotaExceeded)
		return true
	}
	ss.StoreInbound(p.PacketID, m)
	seq := c.srv.persistInbound(ss, p.PacketID, m)
	ss.Mu.Unlock()
	if !c.srv.waitDurable(seq) {
		ss.Mu.Lock()
		ss.ReleaseInbound(p.PacketID)
		ss.Mu.Unlock()
		return c.refusePublish(p)
	}
	c.sendAck(logcat.SendPubrec, packet.PUBREC, p.PacketID, 0)
	return true
}

// ackPublish acknowledges a publish that is not forwarded. Mosquitto logs
// the reason code (e.g. "(m1, rc149)") for every protocol version; only v5
// puts it on the wire, which the encoder takes care of.
func (c *conn) ackPublish(p *packet.Publish, code packet.ReasonCode) {
	switch p.QoS {
	case 1:
		c.sendAck(logcat.SendPuback, packet.PUBACK, p.PacketID, code)
	case 2:
		c.sendAck(logcat.SendPubrec, packet.PUBREC, p.PacketID, code)
	}
}

// sendAck writes PUBACK/PUBREC/PUBREL/PUBCOMP and logs it.
func (c *conn) sendAck(e *logcat.Entry, t packet.Type, mid uint16, code packet.ReasonCode) {
	c.logf(e, c.id, int(mid), int(code))
	b, ok := c.beginWrite()
	if !ok {
		return
	}
	c.endReply(packet.AppendAck(b, c.version, &packet.Ack{Type: t, PacketID: mid, Code: code}))
	c.srv.Stats.MessagesSent.Add(1)
}

func (c *conn) writeDisconnect(code packet.ReasonCode) {
	b, ok := c.beginWrite()
	if !ok {
		return
	}
	c.endReply(packet.AppendDisconnect(b, packet.V5, &packet.Disconnect{Code: code}))
}

func (c *conn) handleAck(a *packet.Ack) bool {
	ss := c.sess
	switch a.Type {
	case packet.PUBACK, packet.PUBCOMP:
		if a.Type == packet.PUBACK {
			c.logf(logcat.RecvPuback, c.id, int(a.PacketID), int(a.Code))
		} else {
			c.logf(logcat.RecvPubcomp, c.id, int(a.PacketID), int(a.Code))
		}
		ss.Mu.Lock()
		var ok bool
		done := ss.FindInflight(a.PacketID) // its store record goes once acknowledged
		if a.Type == packet.PUBACK {
			ok = ss.Puback(a.PacketID)
		} else {
			ok = ss.Pubcomp(a.PacketID)
		}
		if ok {
			c.srv.persistOutDone(ss, done)
			// Through the session's current connection: during a takeover
			// this one may already be replaced.
			if cur := liveConn(ss); cur != nil {
				cur.promote(ss, time.Now().Unix())
			}
		}
		ss.Mu.Unlock()
		if !ok {
			c.srv.log.Log(logcat.UnknownAck, a.Type.String(), c.id, int(a.PacketID))
		}
	case packet.PUBREC:
		c.logf(logcat.RecvPubrec, c.id, int(a.PacketID))
		ss.Mu.Lock()
		ok := ss.Pubrec(a.PacketID)
		var recSeq uint64
		if ok && a.Code < 0x80 {
			recSeq = c.srv.persistOut(ss, ss.FindInflight(a.PacketID))
		}
		ss.Mu.Unlock()
		if !ok {
			c.srv.log.Log(logcat.UnknownPubrec, c.id, int(a.PacketID))
			if c.version != packet.V5 {
				// Mosquitto still answers a v3 PUBREC with PUBREL.
				c.sendAck(logcat.SendPubrel, packet.PUBREL, a.PacketID, 0)
			}
			return true
		}
		if a.Code >= 0x80 {
			ss.Mu.Lock()
			c.srv.persistOutDone(ss, ss.FindInflight(a.PacketID))
			if ss.Pubcomp(a.PacketID) {
				// The slot is free again: send what the window now admits.
				if cur := liveConn(ss); cur != nil {
					cur.promote(ss, time.Now().Unix())
				}
			}
			ss.Mu.Unlock()
			return true
		}
		// The PUBREL goes once the PUBREC state is durable, so a restart
		// re-sends PUBREL, not the message.
		if !c.srv.waitDurable(recSeq) {
			c.failText(reasonBadSocket, "Persistent store write failed.")
			return false
		}
		c.sendAck(logcat.SendPubrel, packet.PUBREL, a.PacketID, 0)
	case packet.PUBREL:
		c.logf(logcat.RecvPubrel, c.id, int(a.PacketID))
		// The routed copies and the removal of the inbound message are one
		// atomic store batch: after a crash either the publisher's PUBREL
		// finds the message again or its copies are queued, never both.
		release := c.srv.hold()
		ss.Mu.Lock()
		m, ok := ss.ReleaseInbound(a.PacketID)
		var relSeq uint64
		if ok {
			relSeq = c.srv.persistInbound(ss, a.PacketID, nil)
		}
		ss.Mu.Unlock()
		delete(c.qos2Dups, a.PacketID)
		if ok {
			_, seq := c.srv.routeSeq(m)
			relSeq = max(relSeq, seq)
		}
		release()
		if !c.srv.waitDurable(relSeq) {
			c.failText(reasonBadSocket, "Persistent store write failed.")
			return false
		}
		// PUBREL for an unknown id still gets PUBCOMP (reference §6.4).
		code := packet.Success
		if !ok && c.version == packet.V5 {
			code = packet.PacketIDNotFound
		}
		c.sendAck(logcat.SendPubcomp, packet.PUBCOMP, a.PacketID, code)
	}
	return true
}

// promote sends what the session's window now admits from its queue and
// counts queued messages that expired. ss.Mu held.
func (c *conn) promote(ss *session.Session, now int64) {
	out, expired := ss.Promote(now)
	if expired > 0 {
		c.srv.Stats.Dropped[DropExpired].Add(int64(expired))
	}
	for _, o := range out {
		if o.Seq != 0 { // stored: the record gets its packet id, or goes once a QoS 0 is sent
			if o.QoS > 0 {
				c.srv.persistOut(ss, o)
			} else {
				c.srv.persistOutDone(ss, o)
			}
		}
		c.writePublish(ss, o, now, false)
	}
	c.srv.maybePageIn(ss) // spilled messages back from the store (persist.go)
}

// writePublish encodes an outbound PUBLISH into the connection's buffer and
// logs it. ss.Mu is held. It reports false when the message was not written
// (connection closing or, for QoS 0, the outbound bound reached).
//
// live is true when the message is written as it is routed (not a resend,
// nor a message that waited in the session's queue): only those count in
// the latency histogram, so a session's offline hours are not latency.
func (c *conn) writePublish(ss *session.Session, o *session.Outbound, now int64, live bool) bool {
	m := o.Msg
	out := &packet.Publish{Dup: o.Dup, QoS: o.QoS, Retain: o.Retain, PacketID: o.Mid, Payload: m.Payload}
	out.Topic = m.Topic
	if mp := c.l.spec.MountPoint; mp != "" {
		out.Topic = strings.TrimPrefix(m.Topic, mp)
	}
	need := 0 // the packet's size, for growOut: exact for v5 (below)
	if c.version == packet.V5 {
		if m.Props != nil {
			out.Props = *m.Props
		}
		out.Props.SubscriptionIDs = o.SubIDs
		if m.ExpiresAt > 0 {
			left := m.ExpiresAt - now
			if left < 1 {
				left = 1
			}
			out.Props.MessageExpiry, out.Props.HasMessageExpiry = uint32(left), true
		}
		need = packet.PublishSize(c.version, out)
		if c.maxOutPkt > 0 {
			if size := need - 1; uint32(size) > c.maxOutPkt {
				c.srv.log.Log(logcat.DropOutgoingLarge, c.id, size)
				c.srv.Stats.Dropped[DropPacketTooLarge].Add(1)
				if o.QoS > 0 {
					// [MQTT5-3.1.2-25] dropped as if delivered: QoS 1 by
					// PUBACK, QoS 2 by PUBREC then PUBCOMP.
					ss.Puback(o.Mid)
					ss.Pubrec(o.Mid)
					ss.Pubcomp(o.Mid)
				}
				return false
			}
		}
	}
	if o.QoS > 0 && c.holdUntilDurable(o.WriteSeq, func(dst []byte) []byte { return packet.AppendPublish(dst, c.version, out) }) {
		c.countPublish(o, out)
		return true
	}
	b, ok := c.beginWrite()
	if !ok {
		return false
	}
	if o.QoS == 0 && c.full() {
		c.endWrite(b)
		c.srv.Stats.Dropped[DropOutboundFull].Add(1)
		if !ss.Dropping {
			ss.Dropping = true
			c.srv.log.Log(logcat.Dropping, c.id)
		}
		return false
	}
	if live && m.RecvAt != 0 && !o.Retain {
		c.noteLatency(m.RecvAt)
	}
	// Room first, from the pooled sizes, rather than append's growth. An
	// upper bound does for v3 (fixed header 5, topic length 2, id 2).
	if need == 0 {
		need = len(out.Topic) + len(out.Payload) + 9
	}
	c.endWrite(packet.AppendPublish(growOut(b, need), c.version, out))
	c.countPublish(o, out)
	return true
}

// countPublish logs an outbound PUBLISH and counts it.
func (c *conn) countPublish(o *session.Outbound, out *packet.Publish) {
	if c.srv.log.On(logcat.SendPublish) {
		c.srv.log.Log(logcat.SendPublish, c.id, b2i(o.Dup), int(o.QoS), b2i(o.Retain), int(o.Mid), out.Topic, len(out.Payload))
	}
	c.srv.Stats.MessagesSent.Add(1)
	c.srv.Stats.PublishSent.Add(1)
	c.srv.Stats.PublishBytesOut.Add(int64(len(out.Payload)))
}
