package broker

import (
	"time"

	"github.com/midgemq/midge/internal/logcat"
	"github.com/midgemq/midge/internal/packet"
	"github.com/midgemq/midge/internal/session"
	"github.com/midgemq/midge/internal/topic"
)

type retainedSend struct {
	m    *session.Message
	qos  byte
	subs []uint32
}

func (c *conn) handleSubscribe(p *packet.Subscribe) bool {
	s := c.srv
	o := s.Options()
	codes := make([]packet.ReasonCode, 0, len(p.Subscriptions))
	var pending []retainedSend
	var subSeq uint64 // store writes to wait for before the SUBACK (persist.go)
	for _, sub := range p.Subscriptions {
		f := sub.Filter
		if f == "" {
			s.log.Log(logcat.EmptySub, c.ip)
			c.fail(reasonMalformed)
			return false
		}
		if badSharedForm(f) { // v5.go
			c.fail(reasonProtocol)
			return false
		}
		// [MQTT-4.7.1-2] [MQTT-4.7.1-3] wildcards must occupy whole levels.
		if !topic.ValidFilter(f) || !packet.ValidUTF8(f) {
			s.log.Log(logcat.InvalidSub, c.ip)
			c.fail(reasonMalformed)
			return false
		}
		if sub.Options.QoS > 2 {
			s.log.Log(logcat.InvalidSubQ, c.ip)
			c.fail(reasonMalformed)
			return false
		}
		group, inner, shared, err := topic.ParseShared(f)
		if err != nil || (shared && sub.Options.NoLocal) {
			c.fail(reasonProtocol)
			return false
		}
		qos := sub.Options.QoS
		if qos > c.l.spec.MaxQoS {
			qos = c.l.spec.MaxQoS
		}
		full := c.mountFilter(f, group, inner, shared)
		c.logf(logcat.SubscribeTopic, full, int(qos))
		if !c.owner.allow(full, AccessSubscribe) { // authz.go
			codes = append(codes, c.subscribeDenied(sub.Options.QoS))
			continue
		}
		opts := topic.Options{QoS: qos, NoLocal: sub.Options.NoLocal, RetainAsPublished: sub.Options.RetainAsPublished,
			RetainHandling: sub.Options.RetainHandling}
		if c.version == packet.V5 && len(p.Props.SubscriptionIDs) > 0 {
			opts.ID = p.Props.SubscriptionIDs[0]
		}
		if c.bridge {
			opts.NoLocal, opts.RetainAsPublished = true, true
		}
		existed := s.subs.Subscribe(full, c.sess, opts)
		c.sess.Mu.Lock()
		if c.sess.Subs == nil {
			c.sess.Subs = map[string]topic.Options{}
		}
		c.sess.Subs[full] = opts
		subSeq = max(subSeq, s.persistSub(c.sess, full, &opts))
		c.sess.Mu.Unlock()
		codes = append(codes, packet.ReasonCode(qos))
		// Retained messages: never for $share; v5 by Retain Handling.
		if !shared && (c.version != packet.V5 || opts.RetainHandling == 0 || (opts.RetainHandling == 1 && !existed)) {
			var ids []uint32
			if opts.ID != 0 {
				ids = []uint32{opts.ID}
			}
			now := time.Now().Unix()
			s.retained.Match(full, func(_ string, m *session.Message) bool {
				if m.ExpiresAt > 0 && m.ExpiresAt <= now {
					return true
				}
				if o.CheckRetainSource && !retainSourceAllowed(m) { // authz.go
					return true
				}
				q := m.QoS
				if o.UpgradeOutgoingQoS || qos < q {
					q = qos
				}
				pending = append(pending, retainedSend{m, q, ids})
				return true
			})
		}
		c.logf(logcat.Subscribed, c.id, int(qos), full)
	}
	if !s.waitDurable(subSeq) {
		for i := range codes {
			codes[i] = packet.UnspecifiedError // 0x80, also the 3.1.1 failure code
		}
	}
	c.logf(logcat.SendSuback, c.id)
	b, ok := c.beginWrite()
	if !ok {
		return false
	}
	c.endControl(packet.AppendSuback(b, c.version, &packet.Suback{PacketID: p.PacketID, Codes: codes}))
	s.Stats.MessagesSent.Add(1)
	// Retained messages go out after the SUBACK, with the retain flag set.
	now := time.Now().Unix()
	for _, r := range pending {
		s.deliver(c.sess, r.m, r.qos, true, r.subs, now)
	}
	return true
}

func (c *conn) handleUnsubscribe(p *packet.Unsubscribe) bool {
	s := c.srv
	codes := make([]packet.ReasonCode, 0, len(p.Filters))
	var unsubSeq uint64 // persist.go
	for _, f := range p.Filters {
		if f == "" {
			s.log.Log(logcat.EmptyUnsub, c.id)
			c.fail(reasonMalformed)
			return false
		}
		if !topic.ValidFilter(f) || !packet.ValidUTF8(f) {
			s.log.Log(logcat.InvalidUnsub, c.id)
			c.fail(reasonMalformed)
			return false
		}
		group, inner, shared, _ := topic.ParseShared(f)
		full := c.mountFilter(f, group, inner, shared)
		c.logf(logcat.UnsubTopic, full)
		existed := s.subs.Unsubscribe(full, c.sess)
		c.sess.Mu.Lock()
		delete(c.sess.Subs, full)
		unsubSeq = max(unsubSeq, s.persistSub(c.sess, full, nil))
		c.sess.Mu.Unlock()
		c.logf(logcat.Unsubscribed, c.id, full)
		if existed {
			codes = append(codes, packet.Success)
		} else {
			codes = append(codes, packet.NoSubscriptionExisted)
		}
	}
	s.waitDurable(unsubSeq)
	c.logf(logcat.SendUnsuback, c.id)
	b, ok := c.beginWrite()
	if !ok {
		return false
	}
	c.endControl(packet.AppendUnsuback(b, c.version, &packet.Unsuback{PacketID: p.PacketID, Codes: codes}))
	s.Stats.MessagesSent.Add(1)
	return true
}

// mountFilter puts the listener's mount_point in front of a filter; for a
// shared subscription it goes in front of the inner filter.
func (c *conn) mountFilter(f, group, inner string, shared bool) string {
	mp := c.l.spec.MountPoint
	switch {
	case mp == "":
		return f
	case shared:
		return "$share/" + group + "/" + mp + inner
	}
	return mp + f
}
