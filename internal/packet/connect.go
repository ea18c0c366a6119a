package packet

// CONNECT decoding follows the order of Mosquitto's handle__connect, so that
// when a packet breaks several rules the error reported is the one Mosquitto
// would report. Reading a fixed CONNECT field past the end (protocol name,
// level, flags, keep alive, client id, username, password) is a protocol
// error, as in Mosquitto; truncated properties and will fields are
// malformed.

// Connect flag bits [MQTT-3.1.2].
const (
	flagReserved = 0x01
	flagClean    = 0x02
	flagWill     = 0x04
	flagWillQoS  = 0x18
	flagRetain   = 0x20
	flagPassword = 0x40
	flagUsername = 0x80
)

// DecodeConnect decodes a CONNECT body; flags is the low nibble of the first
// byte. On error it also returns the Connect filled with the fields parsed
// before the failure (never nil), so the broker can log the client id or
// answer an unsupported level with a v3 CONNACK.
func DecodeConnect(flags byte, body []byte) (*Connect, error) {
	return DecodeConnectInto(new(Connect), flags, body)
}

// DecodeConnectInto is DecodeConnect into a Connect the caller provides
// (overwritten, and returned): a broker reuses one rather than allocate
// about 900 bytes, two sets of properties, per connection.
func DecodeConnectInto(c *Connect, flags byte, body []byte) (*Connect, error) {
	*c = Connect{}
	r := reader{b: body}
	n, ok := r.u16()
	if !ok {
		return c, protocolErr("truncated protocol name")
	}
	if n != 4 && n != 6 {
		// Mosquitto closes without reading the name; the broker logs nothing
		// for names whose length is not 4 or 6.
		name, _ := r.str0(int(n))
		c.ProtocolName = name
		return c, &Error{Code: ProtocolError, Kind: KindProtocolName, Name: name, Msg: "bad protocol name"}
	}
	name, ok := r.str0(int(n))
	if !ok {
		return c, protocolErr("truncated protocol name")
	}
	c.ProtocolName = name
	level, ok := r.u8()
	if !ok {
		return c, protocolErr("truncated protocol level")
	}
	c.ProtocolLevel = level
	switch name {
	case "MQIsdp":
		if level&0x7F != V31 {
			return c, &Error{Code: ProtocolError, Kind: KindProtocolVersion, Level: level, Msg: "bad protocol level"}
		}
	case "MQTT":
		if level&0x7F != V311 && level&0x7F != V5 { // [MQTT-3.1.2-2]
			return c, &Error{Code: ProtocolError, Kind: KindProtocolVersion, Level: level, Msg: "bad protocol level"}
		}
		if flags != 0 { // [MQTT-2.2.2-2]; 3.1 is tolerated
			c.Version = level & 0x7F
			c.Bridge = level&0x80 != 0 && c.Version != V5
			return c, protocolErr("bad CONNECT fixed header flags")
		}
	default: // [MQTT-3.1.2-1]
		return c, &Error{Code: ProtocolError, Kind: KindProtocolName, Name: name, Msg: "bad protocol name"}
	}
	c.Version = level & 0x7F
	// Mosquitto only honours the bridge bit for v3.x ("try_private").
	c.Bridge = level&0x80 != 0 && c.Version != V5
	v := c.Version

	cf, ok := r.u8()
	if !ok {
		return c, protocolErr("truncated connect flags")
	}
	if cf&flagReserved != 0 && v != V31 { // [MQTT-3.1.2-3]
		return c, protocolErr("reserved connect flag set")
	}
	c.CleanStart = cf&flagClean != 0
	c.WillFlag = cf&flagWill != 0
	c.WillQoS = cf & flagWillQoS >> 3
	c.WillRetain = cf&flagRetain != 0
	c.PasswordFlag = cf&flagPassword != 0
	c.UsernameFlag = cf&flagUsername != 0
	if c.WillQoS == 3 { // [MQTT-3.1.2-14]
		return c, &Error{Code: ProtocolError, Kind: KindWillQoS, Msg: "will QoS 3"}
	}
	if c.KeepAlive, ok = r.u16(); !ok {
		return c, protocolErr("truncated keep alive")
	}
	if v == V5 {
		if err := readProps(&r, inConnect, &c.Props); err != nil {
			return c, err
		}
		// MQTT5 3.1.2.11.10: Authentication Data without a method is a protocol error.
		if c.Props.HasAuthData && !c.Props.HasAuthMethod {
			return c, protocolErr("authentication data without method")
		}
	}
	if c.ClientID, ok = r.str(); !ok {
		return c, protocolErr("truncated client id")
	}
	if err := readWill(&r, c); err != nil {
		return c, err
	}
	if err := readCredentials(&r, c); err != nil {
		return c, err
	}
	if r.left() != 0 { // Mosquitto: surplus data is a protocol error
		return c, protocolErr("surplus bytes at end of CONNECT")
	}
	return c, nil
}

// str0 reads n raw bytes as a string (the protocol name's length has already
// been read).
func (r *reader) str0(n int) (string, bool) {
	if r.left() < n {
		return "", false
	}
	s := string(r.b[r.off : r.off+n])
	r.off += n
	return s, true
}

func readWill(r *reader, c *Connect) error {
	if !c.WillFlag {
		// [MQTT-3.1.2-11] [MQTT-3.1.2-13] [MQTT-3.1.2-15]; 3.1 tolerated it.
		if c.Version != V31 && (c.WillQoS != 0 || c.WillRetain) {
			return protocolErr("will QoS or retain without will flag")
		}
		return nil
	}
	if c.Version == V5 {
		if err := readProps(r, inWill, &c.WillProps); err != nil {
			return err
		}
	}
	var ok bool
	if c.WillTopic, ok = r.str(); !ok {
		return malformed("truncated will topic")
	}
	if c.WillTopic == "" { // Mosquitto will__read: an empty will topic is a protocol error
		return protocolErr("empty will topic")
	}
	if c.WillPayload, ok = r.binary(); !ok {
		return malformed("truncated will payload")
	}
	return nil
}

// readCredentials reads the username and password. In 3.1 a flag whose data
// is missing is ignored (cleared); in 3.1.1 and 5 it is a protocol error.
func readCredentials(r *reader, c *Connect) error {
	var ok bool
	if c.UsernameFlag {
		if c.Username, ok = r.str(); !ok {
			if c.Version != V31 { // [MQTT-3.1.2-19]
				return protocolErr("username flag without username")
			}
			c.UsernameFlag = false
		}
	} else if c.PasswordFlag && c.Version != V5 { // [MQTT-3.1.2-22] (3.1.1)
		return &Error{Code: ProtocolError, Kind: KindPasswordWithoutUsername, Msg: "password without username"}
	}
	if c.PasswordFlag {
		if c.Password, ok = r.binary(); !ok {
			if c.Version != V31 { // [MQTT-3.1.2-21]
				return protocolErr("password flag without password")
			}
			c.PasswordFlag = false
		}
	}
	return nil
}

// AppendConnect appends c encoded as a CONNECT packet. The protocol name and
// level follow c.Version (c.ProtocolLevel is used when its low bits agree, so
// a bridge bit survives); the username and password flags are set from the
// flag fields or non-empty values.
func AppendConnect(dst []byte, c *Connect) []byte {
	v := c.Version
	name := "MQTT"
	if v == V31 {
		name = "MQIsdp"
	}
	level := v
	if c.ProtocolLevel&0x7F == v {
		level = c.ProtocolLevel
	} else if c.Bridge {
		level |= 0x80
	}
	uflag := c.UsernameFlag || c.Username != ""
	pflag := c.PasswordFlag || c.Password != nil
	var cf byte
	cf |= bit(c.CleanStart, flagClean) | bit(c.WillFlag, flagWill) | c.WillQoS&3<<3 |
		bit(c.WillRetain, flagRetain) | bit(pflag, flagPassword) | bit(uflag, flagUsername)

	n := 2 + len(name) + 1 + 1 + 2 + 2 + len(c.ClientID)
	var ps, wps int
	if v == V5 {
		ps = propsSize(&c.Props, connectOrder)
		n += varintSize(ps) + ps
	}
	if c.WillFlag {
		if v == V5 {
			wps = propsSize(&c.WillProps, willOrder)
			n += varintSize(wps) + wps
		}
		n += 4 + len(c.WillTopic) + len(c.WillPayload)
	}
	if uflag {
		n += 2 + len(c.Username)
	}
	if pflag {
		n += 2 + len(c.Password)
	}
	dst = appendHeader(dst, byte(CONNECT)<<4, n)
	dst = appendString(dst, name)
	dst = append(dst, level, cf)
	dst = appendU16(dst, c.KeepAlive)
	if v == V5 {
		dst = appendProps(dst, &c.Props, connectOrder, ps)
	}
	dst = appendString(dst, c.ClientID)
	if c.WillFlag {
		if v == V5 {
			dst = appendProps(dst, &c.WillProps, willOrder, wps)
		}
		dst = appendString(dst, c.WillTopic)
		dst = appendBinary(dst, c.WillPayload)
	}
	if uflag {
		dst = appendString(dst, c.Username)
	}
	if pflag {
		dst = appendBinary(dst, c.Password)
	}
	return dst
}

func bit(ok bool, b byte) byte {
	if ok {
		return b
	}
	return 0
}
