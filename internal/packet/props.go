package packet

// MQTT 5 properties: identifiers, which packets may carry them, decoding with
// Mosquitto's checks, and encoding in a fixed order per packet.

// Property identifiers [MQTT5-2.2.2.2].
const (
	propPayloadFormat        = 0x01
	propMessageExpiry        = 0x02
	propContentType          = 0x03
	propResponseTopic        = 0x08
	propCorrelationData      = 0x09
	propSubscriptionID       = 0x0B
	propSessionExpiry        = 0x11
	propAssignedClientID     = 0x12
	propServerKeepAlive      = 0x13
	propAuthMethod           = 0x15
	propAuthData             = 0x16
	propRequestProblemInfo   = 0x17
	propWillDelay            = 0x18
	propRequestResponseInfo  = 0x19
	propResponseInfo         = 0x1A
	propServerReference      = 0x1C
	propReasonString         = 0x1F
	propReceiveMaximum       = 0x21
	propTopicAliasMaximum    = 0x22
	propTopicAlias           = 0x23
	propMaximumQoS           = 0x24
	propRetainAvailable      = 0x25
	propUser                 = 0x26
	propMaximumPacketSize    = 0x27
	propWildcardSubAvailable = 0x28
	propSubIDAvailable       = 0x29
	propSharedSubAvailable   = 0x2A
	propMax                  = 0x2A
)

// propCtx is the set of packets a property may appear in, one bit per packet
// (the will properties of CONNECT count as their own packet).
type propCtx uint16

const (
	inConnect propCtx = 1 << iota
	inConnack
	inPublish
	inWill
	inAck // PUBACK, PUBREC, PUBREL, PUBCOMP
	inSubscribe
	inSuback
	inUnsubscribe
	inUnsuback
	inDisconnect
	inAuth
)

// propKind is a property's wire data type.
type propKind byte

const (
	kindNone propKind = iota
	kindByte
	kindU16
	kindU32
	kindVarint
	kindString
	kindBinary
	kindPair
)

// propInfo describes one property identifier.
type propInfo struct {
	kind    propKind
	allowed propCtx
}

// propTable is the property table of [MQTT5-2.2.2.2]; a zero kind marks an
// unknown identifier.
var propTable = [propMax + 1]propInfo{
	propPayloadFormat:        {kindByte, inPublish | inWill},
	propMessageExpiry:        {kindU32, inPublish | inWill},
	propContentType:          {kindString, inPublish | inWill},
	propResponseTopic:        {kindString, inPublish | inWill},
	propCorrelationData:      {kindBinary, inPublish | inWill},
	propSubscriptionID:       {kindVarint, inPublish | inSubscribe},
	propSessionExpiry:        {kindU32, inConnect | inConnack | inDisconnect},
	propAssignedClientID:     {kindString, inConnack},
	propServerKeepAlive:      {kindU16, inConnack},
	propAuthMethod:           {kindString, inConnect | inConnack | inAuth},
	propAuthData:             {kindBinary, inConnect | inConnack | inAuth},
	propRequestProblemInfo:   {kindByte, inConnect},
	propWillDelay:            {kindU32, inWill},
	propRequestResponseInfo:  {kindByte, inConnect},
	propResponseInfo:         {kindString, inConnack},
	propServerReference:      {kindString, inConnack | inDisconnect},
	propReasonString:         {kindString, inConnack | inAck | inSuback | inUnsuback | inDisconnect | inAuth},
	propReceiveMaximum:       {kindU16, inConnect | inConnack},
	propTopicAliasMaximum:    {kindU16, inConnect | inConnack},
	propTopicAlias:           {kindU16, inPublish},
	propMaximumQoS:           {kindByte, inConnack},
	propRetainAvailable:      {kindByte, inConnack},
	propUser:                 {kindPair, ^propCtx(0)},
	propMaximumPacketSize:    {kindU32, inConnect | inConnack},
	propWildcardSubAvailable: {kindByte, inConnack},
	propSubIDAvailable:       {kindByte, inConnack},
	propSharedSubAvailable:   {kindByte, inConnack},
}

// readProps reads a property block (varint length + properties) into p.
//
// Like Mosquitto (property__read_all, then mosquitto_property_check_all), a
// structural problem anywhere in the block (truncation, unknown identifier,
// invalid UTF-8) is malformed and wins over the semantic checks, which are
// reported for the earliest offending property:
//   - a value out of range (a byte flag > 1, Receive Maximum, Maximum Packet
//     Size or Topic Alias 0) is a protocol error;
//   - a property not allowed in this packet is a protocol error (Mosquitto's
//     mosquitto_property_check_command; the spec calls it malformed);
//   - a repeated property other than User Property (and Subscription
//     Identifier in PUBLISH) is a protocol error of KindDuplicateProperty.
func readProps(r *reader, ctx propCtx, p *Properties) *Error {
	n, ok := r.varint()
	if !ok {
		return malformed("bad property length")
	}
	if int(n) > r.left() {
		return malformed("property length exceeds packet")
	}
	pr := reader{b: r.b[r.off : r.off+int(n)]}
	r.off += int(n)

	var first [propMax + 1]int32 // index+1 of each identifier's first occurrence
	var check *Error             // earliest semantic error
	checkAt := int32(-1)
	setCheck := func(at int32, e *Error) {
		if checkAt < 0 || at < checkAt {
			check, checkAt = e, at
		}
	}
	for idx := int32(0); pr.left() > 0; idx++ {
		id, _ := pr.u8()
		if int(id) > propMax || propTable[id].kind == kindNone {
			return &Error{Code: MalformedPacket, Kind: KindUnknownProperty, Property: id, Msg: "unknown property"}
		}
		bad, err := readProp(&pr, id, p)
		if err != nil {
			return err
		}
		if bad {
			setCheck(idx, protocolErr("invalid property value"))
		}
		if propTable[id].allowed&ctx == 0 {
			setCheck(idx, protocolErr("property not allowed in this packet"))
		}
		if first[id] == 0 {
			first[id] = idx + 1
		} else if id != propUser && !(id == propSubscriptionID && ctx == inPublish) {
			setCheck(first[id]-1, &Error{Code: ProtocolError, Kind: KindDuplicateProperty, Property: id,
				Msg: "duplicate property"})
		}
	}
	if check != nil {
		return check
	}
	return nil
}

// readProp reads one property value into p. bad reports a value out of range.
func readProp(r *reader, id byte, p *Properties) (bad bool, err *Error) {
	switch propTable[id].kind {
	case kindByte:
		v, ok := r.u8()
		if !ok {
			return false, malformed("truncated property")
		}
		bad = v > 1 // every byte property is 0 or 1 (Maximum QoS included)
		switch id {
		case propPayloadFormat:
			p.PayloadFormat, p.HasPayloadFormat = v, true
		case propRequestProblemInfo:
			p.RequestProblemInfo, p.HasRequestProblemInfo = v, true
		case propRequestResponseInfo:
			p.RequestResponseInfo, p.HasRequestResponseInfo = v, true
		case propMaximumQoS:
			p.MaximumQoS, p.HasMaximumQoS = v, true
		case propRetainAvailable:
			p.RetainAvailable, p.HasRetainAvailable = v, true
		case propWildcardSubAvailable:
			p.WildcardSubAvailable, p.HasWildcardSubAvailable = v, true
		case propSubIDAvailable:
			p.SubIDAvailable, p.HasSubIDAvailable = v, true
		case propSharedSubAvailable:
			p.SharedSubAvailable, p.HasSharedSubAvailable = v, true
		}
	case kindU16:
		v, ok := r.u16()
		if !ok {
			return false, malformed("truncated property")
		}
		switch id {
		case propServerKeepAlive:
			p.ServerKeepAlive, p.HasServerKeepAlive = v, true
		case propReceiveMaximum:
			bad = v == 0 // [MQTT5-3.1.2.11.3] Receive Maximum 0 is a protocol error
			p.ReceiveMaximum, p.HasReceiveMaximum = v, true
		case propTopicAliasMaximum:
			p.TopicAliasMaximum, p.HasTopicAliasMaximum = v, true
		case propTopicAlias:
			bad = v == 0 // [MQTT5-3.3.2-8]; Mosquitto: protocol error
			p.TopicAlias, p.HasTopicAlias = v, true
		}
	case kindU32:
		v, ok := r.u32()
		if !ok {
			return false, malformed("truncated property")
		}
		switch id {
		case propMessageExpiry:
			p.MessageExpiry, p.HasMessageExpiry = v, true
		case propSessionExpiry:
			p.SessionExpiry, p.HasSessionExpiry = v, true
		case propWillDelay:
			p.WillDelay, p.HasWillDelay = v, true
		case propMaximumPacketSize:
			bad = v == 0 // Maximum Packet Size 0 is a protocol error
			p.MaximumPacketSize, p.HasMaximumPacketSize = v, true
		}
	case kindVarint:
		v, ok := r.varint()
		if !ok {
			return false, malformed("truncated property")
		}
		if v == 0 { // [MQTT5-3.8.2.1.2] 0 is not a valid Subscription Identifier; Mosquitto: malformed
			return false, malformed("subscription identifier 0")
		}
		p.SubscriptionIDs = append(p.SubscriptionIDs, v)
	case kindString:
		b, ok := r.binary()
		if !ok {
			return false, malformed("truncated property")
		}
		if !validUTF8Bytes(b) { // [MQTT5-1.5.4-1] Mosquitto's packet__read_string: malformed
			return false, malformed("invalid UTF-8 in property")
		}
		s := string(b)
		switch id {
		case propContentType:
			p.ContentType, p.HasContentType = s, true
		case propResponseTopic:
			// [MQTT5-3.3.2-14] no wildcards: the broker forwards the Response
			// Topic unaltered [MQTT5-3.3.2-15], so it refuses one it could
			// not send (Mosquitto does not check).
			bad = containsWildcard(s)
			p.ResponseTopic, p.HasResponseTopic = s, true
		case propAssignedClientID:
			p.AssignedClientID = s
		case propAuthMethod:
			p.AuthMethod, p.HasAuthMethod = s, true
		case propResponseInfo:
			p.ResponseInfo = s
		case propServerReference:
			p.ServerReference = s
		case propReasonString:
			p.ReasonString = s
		}
	case kindBinary:
		b, ok := r.binary()
		if !ok {
			return false, malformed("truncated property")
		}
		switch id {
		case propCorrelationData:
			p.CorrelationData, p.HasCorrelation = b, true
		case propAuthData:
			p.AuthData, p.HasAuthData = b, true
		}
	case kindPair:
		k, ok1 := r.binary()
		v, ok2 := r.binary()
		if !ok1 || !ok2 {
			return false, malformed("truncated property")
		}
		if !validUTF8Bytes(k) || !validUTF8Bytes(v) {
			return false, malformed("invalid UTF-8 in user property")
		}
		p.User = append(p.User, UserProperty{Key: string(k), Value: string(v)})
	}
	return bad, nil
}

// containsWildcard reports whether s has a '+' or '#'.
func containsWildcard(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == '+' || s[i] == '#' {
			return true
		}
	}
	return false
}

// Property encoding orders. CONNACK follows Mosquitto's send__connack order
// (some test suites compare CONNACK bytes); PUBLISH follows Mosquitto's
// outbound PUBLISH (subscription identifiers first, message expiry near the
// end). Other packets use ascending identifier order. Each order lists only
// the properties allowed in its packet, so encoders never emit a property
// the decoder would reject.
var (
	connectOrder = []byte{propSessionExpiry, propAuthMethod, propAuthData, propRequestProblemInfo,
		propRequestResponseInfo, propReceiveMaximum, propTopicAliasMaximum, propUser, propMaximumPacketSize}
	willOrder = []byte{propPayloadFormat, propMessageExpiry, propContentType, propResponseTopic,
		propCorrelationData, propWillDelay, propUser}
	connackOrder = []byte{propServerKeepAlive, propTopicAliasMaximum, propAssignedClientID, propAuthMethod,
		propAuthData, propRetainAvailable, propMaximumPacketSize, propReceiveMaximum, propMaximumQoS,
		propReasonString, propUser, propWildcardSubAvailable, propSubIDAvailable, propSharedSubAvailable,
		propSessionExpiry, propResponseInfo, propServerReference}
	publishOrder = []byte{propSubscriptionID, propContentType, propCorrelationData, propPayloadFormat,
		propResponseTopic, propUser, propMessageExpiry, propTopicAlias}
	reasonOrder      = []byte{propReasonString, propUser} // acks, SUBACK, UNSUBACK
	subscribeOrder   = []byte{propSubscriptionID, propUser}
	unsubscribeOrder = []byte{propUser}
	disconnectOrder  = []byte{propSessionExpiry, propServerReference, propReasonString, propUser}
	authOrder        = []byte{propAuthMethod, propAuthData, propReasonString, propUser}
)

// propsSize is the size of the properties of p listed in order, without the
// length prefix.
func propsSize(p *Properties, order []byte) int {
	n := 0
	for _, id := range order {
		switch id {
		case propPayloadFormat:
			n += has(p.HasPayloadFormat, 2)
		case propMessageExpiry:
			n += has(p.HasMessageExpiry, 5)
		case propContentType:
			n += has(p.HasContentType, 3+len(p.ContentType))
		case propResponseTopic:
			n += has(p.HasResponseTopic, 3+len(p.ResponseTopic))
		case propCorrelationData:
			n += has(p.HasCorrelation, 3+len(p.CorrelationData))
		case propSubscriptionID:
			for _, v := range p.SubscriptionIDs {
				n += 1 + varintSize(int(v))
			}
		case propSessionExpiry:
			n += has(p.HasSessionExpiry, 5)
		case propAssignedClientID:
			n += has(p.AssignedClientID != "", 3+len(p.AssignedClientID))
		case propServerKeepAlive:
			n += has(p.HasServerKeepAlive, 3)
		case propAuthMethod:
			n += has(p.HasAuthMethod || p.AuthMethod != "", 3+len(p.AuthMethod))
		case propAuthData:
			n += has(p.HasAuthData || p.AuthData != nil, 3+len(p.AuthData))
		case propRequestProblemInfo:
			n += has(p.HasRequestProblemInfo, 2)
		case propWillDelay:
			n += has(p.HasWillDelay, 5)
		case propRequestResponseInfo:
			n += has(p.HasRequestResponseInfo, 2)
		case propResponseInfo:
			n += has(p.ResponseInfo != "", 3+len(p.ResponseInfo))
		case propServerReference:
			n += has(p.ServerReference != "", 3+len(p.ServerReference))
		case propReasonString:
			n += has(p.ReasonString != "", 3+len(p.ReasonString))
		case propReceiveMaximum:
			n += has(p.HasReceiveMaximum, 3)
		case propTopicAliasMaximum:
			n += has(p.HasTopicAliasMaximum, 3)
		case propTopicAlias:
			n += has(p.HasTopicAlias, 3)
		case propMaximumQoS:
			n += has(p.HasMaximumQoS, 2)
		case propRetainAvailable:
			n += has(p.HasRetainAvailable, 2)
		case propUser:
			for _, u := range p.User {
				n += 5 + len(u.Key) + len(u.Value)
			}
		case propMaximumPacketSize:
			n += has(p.HasMaximumPacketSize, 5)
		case propWildcardSubAvailable:
			n += has(p.HasWildcardSubAvailable, 2)
		case propSubIDAvailable:
			n += has(p.HasSubIDAvailable, 2)
		case propSharedSubAvailable:
			n += has(p.HasSharedSubAvailable, 2)
		}
	}
	return n
}

func has(ok bool, n int) int {
	if ok {
		return n
	}
	return 0
}

// appendProps appends the properties of p listed in order; size must be
// propsSize(p, order).
func appendProps(dst []byte, p *Properties, order []byte, size int) []byte {
	dst = appendVarint(dst, size)
	if size == 0 {
		return dst
	}
	for _, id := range order {
		switch id {
		case propPayloadFormat:
			if p.HasPayloadFormat {
				dst = append(dst, id, p.PayloadFormat)
			}
		case propMessageExpiry:
			if p.HasMessageExpiry {
				dst = appendU32(append(dst, id), p.MessageExpiry)
			}
		case propContentType:
			if p.HasContentType {
				dst = appendString(append(dst, id), p.ContentType)
			}
		case propResponseTopic:
			if p.HasResponseTopic {
				dst = appendString(append(dst, id), p.ResponseTopic)
			}
		case propCorrelationData:
			if p.HasCorrelation {
				dst = appendBinary(append(dst, id), p.CorrelationData)
			}
		case propSubscriptionID:
			for _, v := range p.SubscriptionIDs {
				dst = appendVarint(append(dst, id), int(v))
			}
		case propSessionExpiry:
			if p.HasSessionExpiry {
				dst = appendU32(append(dst, id), p.SessionExpiry)
			}
		case propAssignedClientID:
			if p.AssignedClientID != "" {
				dst = appendString(append(dst, id), p.AssignedClientID)
			}
		case propServerKeepAlive:
			if p.HasServerKeepAlive {
				dst = appendU16(append(dst, id), p.ServerKeepAlive)
			}
		case propAuthMethod:
			if p.HasAuthMethod || p.AuthMethod != "" {
				dst = appendString(append(dst, id), p.AuthMethod)
			}
		case propAuthData:
			if p.HasAuthData || p.AuthData != nil {
				dst = appendBinary(append(dst, id), p.AuthData)
			}
		case propRequestProblemInfo:
			if p.HasRequestProblemInfo {
				dst = append(dst, id, p.RequestProblemInfo)
			}
		case propWillDelay:
			if p.HasWillDelay {
				dst = appendU32(append(dst, id), p.WillDelay)
			}
		case propRequestResponseInfo:
			if p.HasRequestResponseInfo {
				dst = append(dst, id, p.RequestResponseInfo)
			}
		case propResponseInfo:
			if p.ResponseInfo != "" {
				dst = appendString(append(dst, id), p.ResponseInfo)
			}
		case propServerReference:
			if p.ServerReference != "" {
				dst = appendString(append(dst, id), p.ServerReference)
			}
		case propReasonString:
			if p.ReasonString != "" {
				dst = appendString(append(dst, id), p.ReasonString)
			}
		case propReceiveMaximum:
			if p.HasReceiveMaximum {
				dst = appendU16(append(dst, id), p.ReceiveMaximum)
			}
		case propTopicAliasMaximum:
			if p.HasTopicAliasMaximum {
				dst = appendU16(append(dst, id), p.TopicAliasMaximum)
			}
		case propTopicAlias:
			if p.HasTopicAlias {
				dst = appendU16(append(dst, id), p.TopicAlias)
			}
		case propMaximumQoS:
			if p.HasMaximumQoS {
				dst = append(dst, id, p.MaximumQoS)
			}
		case propRetainAvailable:
			if p.HasRetainAvailable {
				dst = append(dst, id, p.RetainAvailable)
			}
		case propUser:
			for _, u := range p.User {
				dst = appendString(appendString(append(dst, id), u.Key), u.Value)
			}
		case propMaximumPacketSize:
			if p.HasMaximumPacketSize {
				dst = appendU32(append(dst, id), p.MaximumPacketSize)
			}
		case propWildcardSubAvailable:
			if p.HasWildcardSubAvailable {
				dst = append(dst, id, p.WildcardSubAvailable)
			}
		case propSubIDAvailable:
			if p.HasSubIDAvailable {
				dst = append(dst, id, p.SubIDAvailable)
			}
		case propSharedSubAvailable:
			if p.HasSharedSubAvailable {
				dst = append(dst, id, p.SharedSubAvailable)
			}
		}
	}
	return dst
}

// Clone returns a deep copy of p that shares no memory with a read buffer.
func (p *Properties) Clone() Properties {
	c := *p
	c.CorrelationData = cloneBytes(p.CorrelationData)
	c.AuthData = cloneBytes(p.AuthData)
	if p.SubscriptionIDs != nil {
		c.SubscriptionIDs = append([]uint32(nil), p.SubscriptionIDs...)
	}
	if p.User != nil {
		c.User = append([]UserProperty(nil), p.User...)
	}
	return c
}

func cloneBytes(b []byte) []byte {
	if b == nil {
		return nil
	}
	return append(make([]byte, 0, len(b)), b...)
}

// Clone returns a deep copy of p (topic, payload and properties) that no
// longer aliases the buffer it was decoded from.
func (p *Publish) Clone() *Publish {
	c := *p
	c.Payload = cloneBytes(p.Payload)
	c.Props = p.Props.Clone()
	return &c
}
