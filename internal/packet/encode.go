package packet

// Encoders for every packet but CONNECT (connect.go). Each appends one whole
// packet to dst. v3 versions never carry reason codes or properties.

// AppendConnack appends a CONNACK. For v5 the properties follow Mosquitto's
// send__connack order (see connackOrder).
func AppendConnack(dst []byte, version byte, c *Connack) []byte {
	flags := bit(c.SessionPresent, 1)
	if version != V5 {
		return append(dst, byte(CONNACK)<<4, 2, flags, byte(c.Code))
	}
	ps := propsSize(&c.Props, connackOrder)
	dst = appendHeader(dst, byte(CONNACK)<<4, 2+varintSize(ps)+ps)
	dst = append(dst, flags, byte(c.Code))
	return appendProps(dst, &c.Props, connackOrder, ps)
}

// publishRemaining is the remaining length of p and its property size.
func publishRemaining(version byte, p *Publish) (n, ps int) {
	n = 2 + len(p.Topic) + len(p.Payload)
	if p.QoS > 0 {
		n += 2
	}
	if version == V5 {
		ps = propsSize(&p.Props, publishOrder)
		n += varintSize(ps) + ps
	}
	return n, ps
}

// PublishSize returns the encoded size of p, fixed header included, as
// AppendPublish would produce it.
func PublishSize(version byte, p *Publish) int {
	n, _ := publishRemaining(version, p)
	return 1 + varintSize(n) + n
}

// AppendPublish appends a PUBLISH. The packet id is written only for QoS > 0.
// It does not allocate when dst has room for PublishSize bytes.
func AppendPublish(dst []byte, version byte, p *Publish) []byte {
	n, ps := publishRemaining(version, p)
	first := byte(PUBLISH)<<4 | bit(p.Dup, 0x8) | p.QoS&3<<1 | bit(p.Retain, 1)
	dst = appendHeader(dst, first, n)
	dst = appendString(dst, p.Topic)
	if p.QoS > 0 {
		dst = appendU16(dst, p.PacketID)
	}
	if version == V5 {
		dst = appendProps(dst, &p.Props, publishOrder, ps)
	}
	return append(dst, p.Payload...)
}

// AppendAck appends a PUBACK, PUBREC, PUBREL (header flags 0x2) or PUBCOMP,
// chosen by a.Type. A v5 ack with reason 0 and no properties is sent with
// remaining length 2, as Mosquitto does [MQTT5-3.4.2.1].
func AppendAck(dst []byte, version byte, a *Ack) []byte {
	first := byte(a.Type) << 4
	if a.Type == PUBREL {
		first |= 0x2
	}
	return appendIDReason(dst, first, version, a.PacketID, a.Code, &a.Props)
}

// appendIDReason writes a packet id, then for v5 the reason code and
// properties, both omitted when they are 0 and empty.
func appendIDReason(dst []byte, first, version byte, id uint16, code ReasonCode, p *Properties) []byte {
	ps := 0
	if version == V5 {
		ps = propsSize(p, reasonOrder)
	}
	switch {
	case version != V5 || (code == 0 && ps == 0):
		dst = append(dst, first, 2)
		return appendU16(dst, id)
	case ps == 0:
		dst = append(dst, first, 3)
		return append(appendU16(dst, id), byte(code))
	}
	dst = appendHeader(dst, first, 3+varintSize(ps)+ps)
	dst = append(appendU16(dst, id), byte(code))
	return appendProps(dst, p, reasonOrder, ps)
}

// subOptionsByte encodes one subscription's options. For v3 only the QoS is
// sent.
func subOptionsByte(version byte, o SubOptions) byte {
	if version != V5 {
		return o.QoS
	}
	return o.QoS&3 | bit(o.NoLocal, 0x4) | bit(o.RetainAsPublished, 0x8) | o.RetainHandling&3<<4
}

// AppendSubscribe appends a SUBSCRIBE (header flags 0x2).
func AppendSubscribe(dst []byte, version byte, s *Subscribe) []byte {
	n, ps := 2, 0
	if version == V5 {
		ps = propsSize(&s.Props, subscribeOrder)
		n += varintSize(ps) + ps
	}
	for _, sub := range s.Subscriptions {
		n += 3 + len(sub.Filter)
	}
	dst = appendHeader(dst, byte(SUBSCRIBE)<<4|0x2, n)
	dst = appendU16(dst, s.PacketID)
	if version == V5 {
		dst = appendProps(dst, &s.Props, subscribeOrder, ps)
	}
	for _, sub := range s.Subscriptions {
		dst = append(appendString(dst, sub.Filter), subOptionsByte(version, sub.Options))
	}
	return dst
}

// AppendSuback appends a SUBACK with one code per subscription.
func AppendSuback(dst []byte, version byte, s *Suback) []byte {
	return appendCodes(dst, byte(SUBACK)<<4, version, s.PacketID, &s.Props, s.Codes)
}

// AppendUnsuback appends an UNSUBACK. v3 UNSUBACKs carry only the packet id;
// v5 ones carry properties and one reason code per filter.
func AppendUnsuback(dst []byte, version byte, u *Unsuback) []byte {
	if version != V5 {
		return appendU16(append(dst, byte(UNSUBACK)<<4, 2), u.PacketID)
	}
	return appendCodes(dst, byte(UNSUBACK)<<4, version, u.PacketID, &u.Props, u.Codes)
}

func appendCodes(dst []byte, first, version byte, id uint16, p *Properties, codes []ReasonCode) []byte {
	n, ps := 2+len(codes), 0
	if version == V5 {
		ps = propsSize(p, reasonOrder)
		n += varintSize(ps) + ps
	}
	dst = appendU16(appendHeader(dst, first, n), id)
	if version == V5 {
		dst = appendProps(dst, p, reasonOrder, ps)
	}
	for _, c := range codes {
		dst = append(dst, byte(c))
	}
	return dst
}

// AppendUnsubscribe appends an UNSUBSCRIBE (header flags 0x2).
func AppendUnsubscribe(dst []byte, version byte, u *Unsubscribe) []byte {
	n, ps := 2, 0
	if version == V5 {
		ps = propsSize(&u.Props, unsubscribeOrder)
		n += varintSize(ps) + ps
	}
	for _, f := range u.Filters {
		n += 2 + len(f)
	}
	dst = appendU16(appendHeader(dst, byte(UNSUBSCRIBE)<<4|0x2, n), u.PacketID)
	if version == V5 {
		dst = appendProps(dst, &u.Props, unsubscribeOrder, ps)
	}
	for _, f := range u.Filters {
		dst = appendString(dst, f)
	}
	return dst
}

// AppendPingreq appends a PINGREQ.
func AppendPingreq(dst []byte) []byte { return append(dst, byte(PINGREQ)<<4, 0) }

// AppendPingresp appends a PINGRESP.
func AppendPingresp(dst []byte) []byte { return append(dst, byte(PINGRESP)<<4, 0) }

// AppendDisconnect appends a DISCONNECT. v3 DISCONNECTs are empty; a v5 one
// omits the reason code and properties when they are 0 and empty
// [MQTT5-3.14.2.1].
func AppendDisconnect(dst []byte, version byte, d *Disconnect) []byte {
	return appendReason(dst, byte(DISCONNECT)<<4, version, d.Code, &d.Props, disconnectOrder)
}

// AppendAuth appends an MQTT 5 AUTH packet (reason and properties omitted
// when 0 and empty [MQTT5-3.15.2.1]).
func AppendAuth(dst []byte, a *Auth) []byte {
	return appendReason(dst, byte(AUTH)<<4, V5, a.Code, &a.Props, authOrder)
}

func appendReason(dst []byte, first, version byte, code ReasonCode, p *Properties, order []byte) []byte {
	if version != V5 {
		return append(dst, first, 0)
	}
	ps := propsSize(p, order)
	switch {
	case code == 0 && ps == 0:
		return append(dst, first, 0)
	case ps == 0:
		return append(dst, first, 1, byte(code))
	}
	dst = append(appendHeader(dst, first, 1+varintSize(ps)+ps), byte(code))
	return appendProps(dst, p, order, ps)
}
