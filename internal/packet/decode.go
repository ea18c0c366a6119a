package packet

// Decode: every packet except CONNECT (connect.go).

// Decode decodes the body of any packet other than CONNECT for a connection
// speaking version (V31, V311 or V5). first is the fixed header's first
// byte. It returns *Publish, *Ack (PUBACK, PUBREC, PUBREL, PUBCOMP),
// *Subscribe, *Unsubscribe, *Pingreq, *Disconnect or *Auth, and also the
// server-to-client *Connack, *Suback, *Unsuback and *Pingresp. CONNECT and
// type 0 are protocol errors, as is AUTH before v5. Strings are copied; the
// payload and other byte slices alias body.
func Decode(first byte, body []byte, version byte) (any, error) {
	r := reader{b: body}
	flags := first & 0x0F
	strict := version != V31 // 3.1 brokers never checked header flags
	switch Type(first >> 4) {
	case PUBLISH:
		p := new(Publish)
		if err := decodePublishInto(p, flags, &r, version); err != nil {
			return nil, err
		}
		return p, nil
	case PUBACK, PUBREC, PUBCOMP, PUBREL:
		want := byte(0)
		if Type(first>>4) == PUBREL {
			want = 0x2 // [MQTT-3.6.1-1]
		}
		if strict && flags != want { // [MQTT-2.2.2-2]
			return nil, malformed("bad fixed header flags")
		}
		return decodeAck(Type(first>>4), &r, version)
	case SUBSCRIBE:
		return decodeSubscribe(flags, &r, version)
	case UNSUBSCRIBE:
		return decodeUnsubscribe(flags, &r, version)
	case PINGREQ, PINGRESP:
		if strict && flags != 0 {
			return nil, malformed("bad fixed header flags")
		}
		if len(body) != 0 {
			return nil, malformed("non-empty PINGREQ/PINGRESP")
		}
		if Type(first>>4) == PINGREQ {
			return &Pingreq{}, nil
		}
		return &Pingresp{}, nil
	case DISCONNECT:
		return decodeDisconnect(first, &r, version)
	case AUTH:
		if version != V5 {
			return nil, protocolErr("AUTH before MQTT 5")
		}
		if flags != 0 { // [MQTT5-3.15.1-1]
			return nil, malformed("bad fixed header flags")
		}
		a := &Auth{}
		if err := readReasonProps(&r, &a.Code, &a.Props, inAuth); err != nil {
			return nil, err
		}
		return a, nil
	case CONNACK:
		if strict && flags != 0 {
			return nil, malformed("bad fixed header flags")
		}
		return decodeConnack(&r, version)
	case SUBACK:
		if strict && flags != 0 {
			return nil, malformed("bad fixed header flags")
		}
		return decodeSuback(&r, version)
	case UNSUBACK:
		if strict && flags != 0 {
			return nil, malformed("bad fixed header flags")
		}
		return decodeUnsuback(&r, version)
	}
	return nil, protocolErr("unexpected packet type " + Type(first>>4).String())
}

// DecodePublish decodes the body of a PUBLISH (first is its fixed header's
// first byte) into p, all of which it overwrites: Decode for a caller that
// keeps the Publish where it wants it (the broker's reader: on its stack,
// one allocation fewer per inbound message). The topic is a string of its
// own; the payload is a slice of body.
func DecodePublish(p *Publish, first byte, body []byte, version byte) error {
	r := reader{b: body}
	return decodePublishInto(p, first&0x0F, &r, version)
}

// decodePublishInto decodes into p (Decode's new Publish, or
// DecodePublish's caller's), in the order of Mosquitto's handle__publish.
func decodePublishInto(p *Publish, flags byte, r *reader, version byte) error {
	*p = Publish{Dup: flags&0x8 != 0, QoS: flags >> 1 & 3, Retain: flags&1 != 0}
	if p.QoS == 3 { // [MQTT-3.3.1-4]
		return &Error{Code: MalformedPacket, Kind: KindPublishQoS, Msg: "PUBLISH QoS 3"}
	}
	if p.Dup && p.QoS == 0 && version != V31 { // [MQTT-3.3.1-2]
		return &Error{Code: MalformedPacket, Kind: KindPublishDupQoS0, Msg: "PUBLISH DUP with QoS 0"}
	}
	var ok bool
	if p.Topic, ok = r.str(); !ok {
		return malformed("truncated topic")
	}
	if p.QoS > 0 {
		if p.PacketID, ok = r.u16(); !ok {
			return malformed("truncated packet id")
		}
		if p.PacketID == 0 { // [MQTT-2.3.1-1]
			return protocolErr("packet id 0")
		}
	}
	if version == V5 {
		if err := readProps(r, inPublish, &p.Props); err != nil {
			return err
		}
	}
	p.Payload = r.b[r.off:len(r.b):len(r.b)] // an append to it cannot write past the packet
	return nil
}

// decodeAck decodes PUBACK, PUBREC, PUBREL and PUBCOMP. v3 bodies are
// exactly the packet id; v5 adds an optional reason code and properties
// [MQTT5-3.4.2.1].
func decodeAck(t Type, r *reader, version byte) (*Ack, error) {
	if version != V5 && r.left() != 2 {
		return nil, malformed("ack length is not 2")
	}
	a := &Ack{Type: t}
	var ok bool
	if a.PacketID, ok = r.u16(); !ok {
		return nil, malformed("truncated packet id")
	}
	if a.PacketID == 0 { // [MQTT-2.3.1-1]
		return nil, protocolErr("packet id 0")
	}
	if version == V5 {
		if err := readReasonProps(r, &a.Code, &a.Props, inAck); err != nil {
			return nil, err
		}
	}
	return a, nil
}

// readReasonProps reads the optional v5 reason code and property block that
// ends acks, DISCONNECT and AUTH: both may be omitted when the body ends.
func readReasonProps(r *reader, code *ReasonCode, p *Properties, ctx propCtx) error {
	if r.left() == 0 {
		return nil
	}
	c, _ := r.u8()
	*code = ReasonCode(c)
	if r.left() == 0 {
		return nil
	}
	if err := readProps(r, ctx, p); err != nil {
		return err
	}
	return surplus(r)
}

func surplus(r *reader) error {
	if r.left() != 0 {
		return malformed("surplus bytes at end of packet")
	}
	return nil
}

func decodeSubscribe(flags byte, r *reader, version byte) (*Subscribe, error) {
	if flags != 0x2 { // [MQTT-3.8.1-1]; all versions in Mosquitto
		return nil, malformed("bad fixed header flags")
	}
	s := &Subscribe{}
	var ok bool
	if s.PacketID, ok = r.u16(); !ok {
		return nil, malformed("truncated packet id")
	}
	if s.PacketID == 0 { // Mosquitto: malformed for SUBSCRIBE/UNSUBSCRIBE
		return nil, malformed("packet id 0")
	}
	if version == V5 {
		if err := readProps(r, inSubscribe, &s.Props); err != nil {
			return nil, err
		}
	}
	for r.left() > 0 {
		filter, ok := r.str()
		if !ok {
			return nil, malformed("truncated topic filter")
		}
		o, ok := r.u8()
		if !ok {
			return nil, malformed("truncated subscription options")
		}
		var opts SubOptions
		if version == V5 {
			if o&0xC0 != 0 { // [MQTT5-3.8.3-5]
				return nil, malformed("reserved subscription option bits set")
			}
			opts = SubOptions{QoS: o & 3, NoLocal: o&0x4 != 0, RetainAsPublished: o&0x8 != 0,
				RetainHandling: o >> 4 & 3}
			if opts.RetainHandling == 3 { // [MQTT5-3.8.3.1] "It is a Protocol Error to send 3"
				return nil, protocolErr("retain handling 3")
			}
		} else {
			// [MQTT-3.8.3-4] makes reserved bits malformed. Mosquitto reads the
			// whole byte as the QoS and logs "Invalid QoS in subscription
			// command" for anything > 2, so the byte is returned as QoS and the
			// broker's QoS > 2 check covers both cases.
			opts.QoS = o
		}
		s.Subscriptions = append(s.Subscriptions, Subscription{Filter: filter, Options: opts})
	}
	if len(s.Subscriptions) == 0 && version != V31 { // [MQTT-3.8.3-3]
		return nil, malformed("SUBSCRIBE without topic filters")
	}
	return s, nil
}

func decodeUnsubscribe(flags byte, r *reader, version byte) (*Unsubscribe, error) {
	if flags != 0x2 { // [MQTT-3.10.1-1]
		return nil, malformed("bad fixed header flags")
	}
	u := &Unsubscribe{}
	var ok bool
	if u.PacketID, ok = r.u16(); !ok {
		return nil, malformed("truncated packet id")
	}
	if u.PacketID == 0 {
		return nil, malformed("packet id 0")
	}
	if version == V5 {
		if err := readProps(r, inUnsubscribe, &u.Props); err != nil {
			return nil, err
		}
	}
	for r.left() > 0 {
		filter, ok := r.str()
		if !ok {
			return nil, malformed("truncated topic filter")
		}
		u.Filters = append(u.Filters, filter)
	}
	if len(u.Filters) == 0 && version != V31 { // [MQTT-3.10.3-2]
		return nil, malformed("UNSUBSCRIBE without topic filters")
	}
	return u, nil
}

func decodeDisconnect(first byte, r *reader, version byte) (*Disconnect, error) {
	if first != 0xE0 { // [MQTT-3.14.1-1]; Mosquitto checks all versions
		return nil, malformed("bad fixed header flags")
	}
	d := &Disconnect{}
	if version != V5 {
		if r.left() != 0 {
			return nil, malformed("non-empty DISCONNECT")
		}
		return d, nil
	}
	if err := readReasonProps(r, &d.Code, &d.Props, inDisconnect); err != nil {
		return nil, err
	}
	return d, nil
}

func decodeConnack(r *reader, version byte) (*Connack, error) {
	if version != V5 && r.left() != 2 {
		return nil, malformed("CONNACK length is not 2")
	}
	f, ok1 := r.u8()
	c, ok2 := r.u8()
	if !ok1 || !ok2 {
		return nil, malformed("truncated CONNACK")
	}
	if f&^1 != 0 { // [MQTT-3.2.2-1] reserved acknowledge flags
		return nil, malformed("reserved CONNACK flags set")
	}
	ca := &Connack{SessionPresent: f&1 != 0, Code: ReasonCode(c)}
	if version == V5 {
		if err := readProps(r, inConnack, &ca.Props); err != nil {
			return nil, err
		}
		if err := surplus(r); err != nil {
			return nil, err
		}
	}
	return ca, nil
}

func decodeSuback(r *reader, version byte) (*Suback, error) {
	s := &Suback{}
	var ok bool
	if s.PacketID, ok = r.u16(); !ok {
		return nil, malformed("truncated packet id")
	}
	if version == V5 {
		if err := readProps(r, inSuback, &s.Props); err != nil {
			return nil, err
		}
	}
	if r.left() > 0 {
		s.Codes = make([]ReasonCode, r.left())
		for i, c := range r.b[r.off:] {
			s.Codes[i] = ReasonCode(c)
		}
	}
	return s, nil
}

func decodeUnsuback(r *reader, version byte) (*Unsuback, error) {
	if version != V5 && r.left() != 2 {
		return nil, malformed("UNSUBACK length is not 2")
	}
	u := &Unsuback{}
	var ok bool
	if u.PacketID, ok = r.u16(); !ok {
		return nil, malformed("truncated packet id")
	}
	if version == V5 {
		if err := readProps(r, inUnsuback, &u.Props); err != nil {
			return nil, err
		}
		if r.left() > 0 {
			u.Codes = make([]ReasonCode, r.left())
			for i, c := range r.b[r.off:] {
				u.Codes[i] = ReasonCode(c)
			}
		}
	}
	return u, nil
}
