package broker

import (
	"strings"
	"sync"
	"time"

	"github.com/midgemq/midge/internal/logcat"
	"github.com/midgemq/midge/internal/packet"
	"github.com/midgemq/midge/internal/session"
	"github.com/midgemq/midge/internal/topic"
)

// handle dispatches one packet. It reports false when the connection must
// stop reading (after calling fail).
func (c *conn) handle(first byte, body []byte) bool {
	t := packet.Type(first >> 4)
	if t == packet.CONNECT {
		if c.connected {
			c.srv.log.Log(logcat.MultipleConnect, c.name())
			c.fail(reasonProtocol)
			return false
		}
		if c.parkable() {
			// This reader ends when the connection parks (after idleAfter
			// without input), and its stack with it: no need to keep it
			// small.
			return c.handleConnect(first, body)
		}
		return c.connectOffStack(first, body)
	}
	switch t {
	case packet.CONNACK, packet.SUBACK, packet.UNSUBACK, packet.PINGRESP:
		// Server-to-client packets are a protocol error whatever their body
		// (Mosquitto rejects them by type); only the remaining-length check
		// it makes on the fixed header comes first (reference §6.9).
		if (t == packet.PINGRESP && len(body) != 0) || (t == packet.UNSUBACK && c.version != packet.V5 && len(body) != 2) {
			c.fail(reasonMalformed)
		} else {
			c.fail(reasonProtocol)
		}
		return false
	case packet.SUBSCRIBE, packet.UNSUBSCRIBE:
		// Mosquitto logs the receipt as soon as the header flags are right,
		// before reading the body, so a body it then rejects (packet id 0,
		// no filters, truncated) still shows the line.
		if first&0x0F == 0x2 {
			e := logcat.RecvSubscribe
			if t == packet.UNSUBSCRIBE {
				e = logcat.RecvUnsub
			}
			c.logf(e, c.id)
		}
	}
	if t == packet.PUBLISH {
		return c.readPublish(first, body)
	}
	p, err := packet.Decode(first, body, c.version)
	if err != nil {
		return c.decodeError(err)
	}
	switch p := p.(type) {
	case *packet.Ack:
		return c.handleAck(p)
	case *packet.Subscribe:
		return c.handleSubscribe(p)
	case *packet.Unsubscribe:
		return c.handleUnsubscribe(p)
	case *packet.Pingreq:
		c.logf(logcat.RecvPingreq, c.id)
		c.logf(logcat.SendPingresp, c.id)
		b, ok := c.beginWrite()
		if ok {
			c.endControl(packet.AppendPingresp(b))
			c.srv.Stats.MessagesSent.Add(1)
		}
		return true
	case *packet.Disconnect:
		return c.handleDisconnect(p)
	}
	// CONNACK, SUBACK, UNSUBACK, PINGRESP, AUTH from a client: protocol error.
	c.fail(reasonProtocol)
	return false
}

// readPublish decodes a PUBLISH into a Publish on its own frame, not a new
// one per message: nothing keeps it past handlePublish, which copies what a
// message needs (topic, payload, properties). Not inlined, so that the
// Publish stays out of handle's frame, which every packet's handling puts
// on the reader's stack (CONNECT's too, where the stack grows).
//
//go:noinline
func (c *conn) readPublish(first byte, body []byte) bool {
	var p packet.Publish
	if err := packet.DecodePublish(&p, first, body, c.version); err != nil {
		return c.decodeError(err)
	}
	return c.handlePublish(&p)
}

// connectOffStack runs CONNECT handling (authentication, session attach and
// takeover, CONNACK, queued messages: several kilobytes of stack) on a
// short-lived goroutine while the reader waits. A goroutine's stack never
// shrinks below twice what it uses when parked, and an idle connection's
// reader parks for good right after CONNECT, so handling CONNECT on the
// reader's own stack left every idle connection with a 4 KiB stack instead
// of 2 KiB (docs/BENCHMARKS.md, "What each change bought").
func (c *conn) connectOffStack(first byte, body []byte) bool {
	done := make(chan bool, 1)
	go func() { done <- c.handleConnect(first, body) }()
	return <-done
}

func (c *conn) decodeError(err error) bool {
	pe, ok := err.(*packet.Error)
	if !ok {
		c.fail(reasonMalformed)
		return false
	}
	switch pe.Kind {
	case packet.KindPublishQoS:
		c.srv.log.Log(logcat.InvalidPubQoS, c.id)
	case packet.KindPublishDupQoS0:
		c.srv.log.Log(logcat.InvalidDupQoS0, c.id)
	case packet.KindDuplicateProperty:
		return c.duplicateProperty() // v5.go
	}
	if pe.Code == packet.ProtocolError {
		c.fail(reasonProtocol)
	} else {
		c.fail(reasonMalformed)
	}
	return false
}

// logf logs a debug-style line only when enabled, so disabled lines cost no
// formatting or allocation.
func (c *conn) logf(e *logcat.Entry, args ...any) {
	if c.srv.log.On(e) {
		c.srv.log.Log(e, args...)
	}
}

// logConnected logs the "New client connected" line. Its arguments are
// boxed only when the line goes somewhere: eight interface values were a
// tenth of a connection's allocations.
func (c *conn) logConnected(cp *packet.Connect, id string) {
	e := logcat.Connected
	switch {
	case cp.UsernameFlag && c.bridge:
		e = logcat.BridgeConnectedUser
	case cp.UsernameFlag:
		e = logcat.ConnectedUser
	case c.bridge:
		e = logcat.BridgeConnected
	}
	if !c.srv.log.On(e) {
		return
	}
	if cp.UsernameFlag {
		c.srv.log.Log(e, c.ip, c.port, id, protoNumber(cp.Version), b2i(cp.CleanStart), int(cp.KeepAlive), cp.Username)
	} else {
		c.srv.log.Log(e, c.ip, c.port, id, protoNumber(cp.Version), b2i(cp.CleanStart), int(cp.KeepAlive))
	}
}

func protoNumber(v byte) int {
	switch v {
	case packet.V31:
		return 1
	case packet.V311:
		return 2
	}
	return 5
}

// sendConnack writes a CONNACK and logs it. who is the id or the peer IP.
func (c *conn) sendConnack(who string, present bool, code packet.ReasonCode, props *packet.Properties) {
	sp := 0
	if present {
		sp = 1
	}
	c.logf(logcat.SendConnack, who, sp, int(code))
	b, ok := c.beginWrite()
	if !ok {
		return
	}
	ack := &packet.Connack{SessionPresent: present, Code: code}
	if props != nil {
		ack.Props = *props
	}
	c.endControl(packet.AppendConnack(b, c.version, ack))
	c.srv.Stats.MessagesSent.Add(1)
}

// refuse answers a CONNECT with a failure CONNACK and closes.
func (c *conn) refuse(who string, v3, v5 packet.ReasonCode, r closeReason) bool {
	code := v3
	var props *packet.Properties
	if c.version == packet.V5 {
		code = v5
		if mq := c.l.spec.MaxQoS; mq < 2 {
			props = &packet.Properties{MaximumQoS: mq, HasMaximumQoS: true}
		}
	}
	c.sendConnack(who, false, code, props)
	c.fail(r)
	return false
}

// connects holds decoded CONNECTs for reuse: nothing keeps a *Connect, or a
// pointer into one, past handleConnect (what a session keeps is copied out,
// as the body it was decoded from goes back to its pool too).
var connects = sync.Pool{New: func() any { return new(packet.Connect) }}

func putConnect(cp *packet.Connect) {
	*cp = packet.Connect{} // holds nothing for the pool
	connects.Put(cp)
}

func (c *conn) handleConnect(first byte, body []byte) bool {
	s := c.srv
	o := s.Options()
	sec := c.l.sec.Load()
	cp, err := packet.DecodeConnectInto(connects.Get().(*packet.Connect), first&0x0F, body)
	defer putConnect(cp)
	if err != nil {
		pe, _ := err.(*packet.Error)
		if pe == nil {
			c.fail(reasonMalformed)
			return false
		}
		switch pe.Kind {
		case packet.KindProtocolName:
			if n := len(pe.Name); n == 4 || n == 6 {
				c.logf(logcat.BadProtocolName, pe.Name, c.ip)
			}
		case packet.KindProtocolVersion:
			c.logf(logcat.BadProtocolVersion, int(pe.Level), c.ip)
			c.version = packet.V311 // the refusal is sent in the v3 form
			c.sendConnack(c.ip, false, packet.ConnRefusedVersion, nil)
			c.fail(reasonProtocol)
			return false
		case packet.KindWillQoS:
			s.log.Log(logcat.BadWillQoS, c.ip)
		case packet.KindPasswordWithoutUsername:
			s.log.Log(logcat.PasswordNoUsername, cp.ClientID)
		case packet.KindDuplicateProperty:
			return c.duplicateProperty() // v5.go; no DISCONNECT before CONNACK
		}
		if pe.Code == packet.ProtocolError {
			c.fail(reasonProtocol)
		} else {
			c.fail(reasonMalformed)
		}
		return false
	}
	c.version = cp.Version
	c.bridge = cp.Bridge
	c.clean = cp.CleanStart
	if cp.Version == packet.V5 && cp.Props.HasMaximumPacketSize {
		c.maxOutPkt = cp.Props.MaximumPacketSize
	}
	// [MQTT-3.1.3-4] the client id must be valid UTF-8.
	if !packet.ValidUTF8(cp.ClientID) {
		c.fail(reasonProtocol)
		return false
	}
	var assigned string
	id := cp.ClientID
	if id == "" {
		switch {
		case cp.Version == packet.V31:
			return c.refuse(c.ip, packet.ConnRefusedIdentifier, packet.ClientIDNotValid, reasonProtocol)
		case !sec.AllowZeroLengthClientID || (cp.Version == packet.V311 && !cp.CleanStart):
			// [MQTT-3.1.3-8] empty id with clean session 0 is refused with 2.
			return c.refuse(c.ip, packet.ConnRefusedIdentifier, packet.UnspecifiedError, reasonProtocol)
		}
		id = autoID(sec.AutoIDPrefix)
		if cp.Version == packet.V5 {
			assigned = id
		}
	}
	// Will checks.
	var will *session.Message
	if cp.WillFlag {
		wt := cp.WillTopic
		switch {
		case wt == "":
			c.fail(reasonProtocol)
			return false
		case !packet.ValidUTF8(wt):
			c.failText(reasonBadSocket, "Malformed UTF-8")
			return false
		case !topic.ValidName(wt):
			c.failText(reasonBadSocket, "Invalid arguments provided.")
			return false
		case strings.HasPrefix(wt, "$CONTROL/"):
			c.failText(reasonBadSocket, "Access denied by ACL.")
			return false
		}
		if cp.WillQoS > c.l.spec.MaxQoS {
			if cp.Version == packet.V5 {
				return c.refuse(c.ip, 0, packet.QoSNotSupported, reasonNotSupported)
			}
			c.fail(reasonNotSupported)
			return false
		}
		if cp.WillRetain && !o.RetainAvailable {
			if cp.Version == packet.V5 {
				return c.refuse(c.ip, 0, packet.RetainNotSupported, reasonNotSupported)
			}
			c.fail(reasonNotSupported)
			return false
		}
		if cp.Version == packet.V5 && payloadFormatInvalid(&cp.WillProps, cp.WillPayload) {
			return c.refuseText(c.ip, packet.PayloadFormatInvalid, "Malformed UTF-8") // v5.go
		}
		will = &session.Message{Topic: c.l.spec.MountPoint + wt, Payload: append([]byte(nil), cp.WillPayload...),
			QoS: cp.WillQoS, Retain: cp.WillRetain, Origin: id}
		if cp.Version == packet.V5 {
			will.Props = forwardProps(&cp.WillProps)
			if cp.WillProps.HasMessageExpiry {
				will.ExpiresAt = -int64(cp.WillProps.MessageExpiry) // made absolute when published
			}
		}
	}
	// [MQTT-1.5.3-1] [MQTT-1.5.3-2] the username must be valid UTF-8: a
	// protocol error, except in 3.1 where Mosquitto ignores a username it
	// cannot read, as it ignores a missing one.
	if cp.UsernameFlag && !packet.ValidUTF8(cp.Username) {
		if cp.Version != packet.V31 {
			c.fail(reasonProtocol)
			return false
		}
		cp.UsernameFlag, cp.Username = false, ""
	}
	c.id = id
	if will != nil && o.MessageSizeLimit > 0 && uint32(len(will.Payload)) > o.MessageSizeLimit {
		c.logf(logcat.WillTooLarge, id)
		return c.refuse(id, packet.ConnRefusedNotAuth, packet.PacketTooLarge, reasonOversizePayload)
	}
	// use_identity_as_username / use_subject_as_username (identity.go): the
	// CONNECT username and password are discarded (reference §4.2).
	if name, ok, active := certUsername(c.nc); active {
		if !ok {
			return c.refuse(id, packet.ConnRefusedBadAuth, packet.BadUsernameOrPassword, reasonNotAuthorised)
		}
		cp.Username, cp.UsernameFlag, cp.Password, cp.PasswordFlag = name, true, nil, false
		sec = certAuthenticated(sec)
	}
	if c.l.spec.UseUsernameAsClientID {
		if !cp.UsernameFlag {
			return c.refuse(id, packet.ConnRefusedNotAuth, packet.NotAuthorized, reasonNotAuthorised)
		}
		id = cp.Username
		c.id = id
		if will != nil {
			will.Origin = id
		}
	}
	if o.ClientIDPrefixes != "" && !strings.HasPrefix(id, o.ClientIDPrefixes) {
		return c.refuse(id, packet.ConnRefusedNotAuth, packet.NotAuthorized, reasonNotAuthorised)
	}
	// Authentication: with no password file, anonymous access decides for
	// everyone (reference §4.2).
	// [MQTT5-4.12.0-1] enhanced authentication is not offered: Mosquitto
	// refuses an Authentication Method before any password check.
	if cp.Version == packet.V5 && cp.Props.HasAuthMethod {
		return c.refuse(id, 0, packet.BadAuthenticationMethod, reasonNotSupported)
	}
	c.owner = &owner{client: Client{ID: id, Username: cp.Username, HasUser: cp.UsernameFlag, Listener: c.l.spec.Port},
		l: c.l, password: append([]byte(nil), cp.Password...), hasPassword: cp.PasswordFlag}
	c.owner.src = c.owner // no password to keep out of the messages' Source
	if c.owner.hasPassword || len(c.owner.password) > 0 {
		c.owner.src = &owner{client: c.owner.client, l: c.l}
	}
	if !c.login(sec, c.owner) { // authz.go: password file, anonymous access
		if c.onAccept == acceptRetry {
			return false // nothing sent: connectLater runs it again
		}
		return c.refuse(id, packet.ConnRefusedNotAuth, packet.NotAuthorized, reasonNotAuthorised)
	}

	expiry := uint32(0)
	switch {
	case cp.Version == packet.V5:
		expiry = cp.Props.SessionExpiry
	case !cp.CleanStart:
		expiry = ^uint32(0)
	}
	expiry = s.effectiveExpiry(expiry)
	lim := o.Limits
	if cp.Version == packet.V5 && cp.Props.HasReceiveMaximum {
		lim.MaxInflight = int(cp.Props.ReceiveMaximum)
	}

	var ss *session.Session
	var present bool
	switch {
	case c.onAccept != acceptInline:
		ss, present = s.attach(c, id, cp.CleanStart, expiry, lim)
	case s.mu.TryLock():
		ss, present = s.attachLocked(c, id, cp.CleanStart, expiry, lim)
	default:
		// The sessions' lock is held (a reload's recheck of every client,
		// the expiry scan): wait for it on the connection's own goroutine,
		// not on one that others wait for. Nothing was sent or logged yet.
		c.onAccept = acceptRetry
		return false
	}
	c.sess = ss
	// Under wmu: a takeover by another connection may call c.fail, which
	// reads connected, at the same time.
	c.wmu.Lock()
	c.connected = true
	c.wmu.Unlock()
	s.Stats.Connects.Add(1)
	c.l.countClient(c.version, 1) // undone by noteClosed (stats.go)

	c.logConnected(cp, id)
	if will != nil {
		c.logf(logcat.WillSpecified, len(will.Payload), b2i(will.Retain), int(will.QoS))
		c.logf(logcat.WillTopic, will.Topic)
	} else {
		c.logf(logcat.NoWill)
	}

	ka := cp.KeepAlive
	var props *packet.Properties
	if cp.Version == packet.V5 {
		props = &packet.Properties{}
		if o.MaxKeepalive > 0 && (ka == 0 || ka > o.MaxKeepalive) {
			ka = o.MaxKeepalive
			props.ServerKeepAlive, props.HasServerKeepAlive = ka, true
		}
		if ta := c.l.spec.MaxTopicAlias; ta > 0 {
			props.TopicAliasMaximum, props.HasTopicAliasMaximum = ta, true
		}
		props.AssignedClientID = assigned
		if !o.RetainAvailable {
			props.RetainAvailable, props.HasRetainAvailable = 0, true
		}
		if o.MaxPacketSize > 0 {
			props.MaximumPacketSize, props.HasMaximumPacketSize = o.MaxPacketSize, true
		}
		if o.Limits.MaxInflight > 0 {
			props.ReceiveMaximum, props.HasReceiveMaximum = uint16(o.Limits.MaxInflight), true
		}
		if c.l.spec.MaxQoS < 2 {
			props.MaximumQoS, props.HasMaximumQoS = c.l.spec.MaxQoS, true
		}
	} else if o.MaxKeepalive > 0 && (ka == 0 || ka > o.MaxKeepalive) {
		c.sendConnack(id, false, packet.ConnRefusedIdentifier, nil)
		c.failText(reasonBadSocket, "Invalid arguments provided.")
		return false
	}
	c.keepalive = time.Duration(ka) * time.Second
	c.startKeepalive()

	ss.Mu.Lock()
	// A connection taken over since attach no longer owns ss: its will
	// must not land on its successor's session.
	if will != nil && ss.Conn == c {
		will.Source = c.owner.src
		ss.Will = &session.Will{Msg: will, Owner: c.owner}
		if cp.Version == packet.V5 && cp.WillProps.HasWillDelay {
			ss.Will.Delay = cp.WillProps.WillDelay
		}
	}
	c.ready = true
	// [MQTT-3.2.2-2] session present is never set for MQTT 3.1.
	c.sendConnack(id, present && cp.Version != packet.V31, packet.Success, props)
	c.resume(ss)
	ss.Mu.Unlock()
	return true
}

// resume re-sends what a resumed session had in flight, with DUP set, then
// moves queued messages into the window (reference §6.2). ss.Mu held.
func (c *conn) resume(ss *session.Session) {
	c.srv.dropUnreadable(ss, true) // authz.go: the owner may have changed
	now := time.Now().Unix()
	for _, o := range append([]*session.Outbound(nil), ss.Inflight()...) {
		if c.expiredResend(ss, o, now) { // v5.go
			continue
		}
		if o.State == session.WaitPubcomp {
			c.sendAck(logcat.SendPubrel, packet.PUBREL, o.Mid, 0)
			continue
		}
		o.Dup = true
		c.writePublish(ss, o, now, false)
	}
	c.promote(ss, now)
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// forwardProps keeps the v5 properties a broker forwards with a message.
func forwardProps(p *packet.Properties) *packet.Properties {
	if !p.HasPayloadFormat && !p.HasContentType && !p.HasResponseTopic && !p.HasCorrelation && len(p.User) == 0 &&
		p.ContentType == "" && p.ResponseTopic == "" && len(p.CorrelationData) == 0 {
		return nil
	}
	f := &packet.Properties{
		PayloadFormat: p.PayloadFormat, HasPayloadFormat: p.HasPayloadFormat,
		ContentType: strings.Clone(p.ContentType), HasContentType: p.HasContentType,
		ResponseTopic: strings.Clone(p.ResponseTopic), HasResponseTopic: p.HasResponseTopic,
		CorrelationData: append([]byte(nil), p.CorrelationData...), HasCorrelation: p.HasCorrelation,
	}
	for _, u := range p.User {
		f.User = append(f.User, packet.UserProperty{Key: strings.Clone(u.Key), Value: strings.Clone(u.Value)})
	}
	return f
}

func (c *conn) handleDisconnect(d *packet.Disconnect) bool {
	c.logf(logcat.RecvDisconnect, c.id)
	ss := c.sess
	ss.Mu.Lock()
	switch {
	case ss.Conn != c:
		// Taken over: the session is its successor's, whose expiry and
		// will this DISCONNECT must not change.
	case c.version == packet.V5:
		if d.Props.HasSessionExpiry {
			if ss.Expiry == 0 && d.Props.SessionExpiry != 0 {
				ss.Mu.Unlock()
				c.fail(reasonProtocol)
				return false
			}
			ss.Expiry = c.srv.effectiveExpiry(d.Props.SessionExpiry)
		}
		if d.Code != packet.DisconnectWithWill {
			ss.Will = nil
		}
	default:
		ss.Will = nil
	}
	// Closing under the session lock: a delivery that takes the lock after
	// this sees a closing connection and queues the message for the next
	// connection instead of putting it in flight on this one.
	c.fail(reasonDisconnect)
	ss.Mu.Unlock()
	return false
}
