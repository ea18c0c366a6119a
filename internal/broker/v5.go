package broker

import (
	"strings"
	"unicode/utf8"

	"github.com/midgemq/midge/internal/packet"
	"github.com/midgemq/midge/internal/session"
	"github.com/midgemq/midge/internal/topic"
)

// MQTT 5 checks that Mosquitto 2.0.20's reference does not describe, made as
// the specification allows (docs/CONFORMANCE-MQTT5.md lists every normative
// statement and where it is handled).

// payloadFormatInvalid reports whether a v5 message says its payload is
// UTF-8 (Payload Format Indicator 1) while it is not well-formed UTF-8
// [MQTT5-3.3.2.3.2] [MQTT5-3.1.3.2.3]. The specification lets a server check
// this and answer 0x99 (Payload format invalid); midge does.
func payloadFormatInvalid(p *packet.Properties, payload []byte) bool {
	return p.HasPayloadFormat && p.PayloadFormat == 1 && !utf8.Valid(payload)
}

// rejectPayloadFormat answers a PUBLISH whose payload contradicts its Payload
// Format Indicator: QoS 1/2 get PUBACK/PUBREC 0x99 and the message is
// dropped; QoS 0, which has no ack, gets DISCONNECT 0x99 and the connection
// closes (logged as Mosquitto's "Malformed UTF-8" socket error). It reports
// whether the connection stays open.
func (c *conn) rejectPayloadFormat(p *packet.Publish) bool {
	if p.QoS > 0 {
		c.ackPublish(p, packet.PayloadFormatInvalid)
		return true
	}
	c.writeDisconnect(packet.PayloadFormatInvalid)
	c.failText(reasonBadSocket, "Malformed UTF-8")
	return false
}

// refuseText answers a v5 CONNECT with a failure CONNACK (plus Maximum QoS
// when the listener limits it, as refuse does) and closes with Mosquitto's
// "Bad socket read/write" line carrying text.
func (c *conn) refuseText(who string, code packet.ReasonCode, text string) bool {
	var props *packet.Properties
	if mq := c.l.spec.MaxQoS; mq < 2 {
		props = &packet.Properties{MaximumQoS: mq, HasMaximumQoS: true}
	}
	c.sendConnack(who, false, code, props)
	c.failText(reasonBadSocket, text)
	return false
}

// duplicateProperty closes a connection whose packet repeats a property that
// may appear once. Mosquitto reports MOSQ_ERR_DUPLICATE_PROPERTY: a v5
// client past CONNACK gets DISCONNECT 0x82 and the line is "Bad socket
// read/write on client %s: Duplicate property in property list"
// [MQTT5-2.2.2-2] [MQTT5-4.13.1-1]. Before CONNACK nothing is sent
// [MQTT5-3.14.0-1].
func (c *conn) duplicateProperty() bool {
	if c.connected && c.version == packet.V5 {
		c.writeDisconnect(packet.ProtocolError)
	}
	c.failText(reasonBadSocket, "Duplicate property in property list")
	return false
}

// badSharedForm reports a "$share/..." filter that is otherwise well formed
// (wildcards, length, UTF-8) but has no group or no filter after the group
// ("$share/g/", "$share//a", "$share/g"). Mosquitto's filter check does not
// know $share, so these pass it and fail later as a protocol error
// (reference §6.6) [MQTT5-4.8.2-1] [MQTT5-4.8.2-2]; a filter that breaks the
// wildcard rules stays malformed.
func badSharedForm(f string) bool {
	if !strings.HasPrefix(f, "$share/") {
		return false
	}
	if _, _, _, err := topic.ParseShared(f); err == nil {
		return false
	}
	return topic.ValidFilter("x/"+f[len("$share/"):]) && packet.ValidUTF8(f)
}

// expiredResend drops an unacknowledged QoS 1 message whose Message Expiry
// Interval has passed instead of re-sending it on reconnect, as Mosquitto
// does (reference §6.6) [MQTT5-3.3.2-5]. A QoS 2 message already sent is kept
// and re-sent: the sender must not apply expiry once a QoS 2 PUBLISH has
// gone out [MQTT5-4.3.3-7] (Mosquitto drops it too; midge follows the
// specification here). ss.Mu held.
func (c *conn) expiredResend(ss *session.Session, o *session.Outbound, now int64) bool {
	if o.QoS != 1 || o.Msg.ExpiresAt <= 0 || o.Msg.ExpiresAt > now {
		return false
	}
	if ss.Puback(o.Mid) {
		c.srv.Stats.Dropped[DropExpired].Add(1)
	}
	return true
}
