package packet

// Error helpers, the fixed header and the body reader shared by all decoders.

func malformed(msg string) *Error   { return &Error{Code: MalformedPacket, Msg: msg} }
func protocolErr(msg string) *Error { return &Error{Code: ProtocolError, Msg: msg} }

// ParseFixedHeader parses the fixed header at the start of b: the first byte,
// the remaining length and the header length n (2..5). n == 0 with a nil
// error means b does not hold a whole header yet. A fourth length byte with
// the continuation bit set (a fifth length byte) is malformed. It never
// allocates on success.
func ParseFixedHeader(b []byte) (first byte, remaining int, n int, err error) {
	for i := 0; i < 4; i++ {
		if 1+i >= len(b) {
			return 0, 0, 0, nil
		}
		c := b[1+i]
		remaining |= int(c&0x7F) << (7 * i)
		if c&0x80 == 0 {
			return b[0], remaining, 2 + i, nil
		}
	}
	return 0, 0, 0, malformed("remaining length longer than 4 bytes")
}

// reader walks a packet body. Failed reads do not advance it, so a caller
// that tolerates a missing field (MQTT 3.1 username/password) keeps its
// position like Mosquitto does.
type reader struct {
	b   []byte
	off int
}

func (r *reader) left() int { return len(r.b) - r.off }

func (r *reader) u8() (byte, bool) {
	if r.off >= len(r.b) {
		return 0, false
	}
	c := r.b[r.off]
	r.off++
	return c, true
}

func (r *reader) u16() (uint16, bool) {
	if r.left() < 2 {
		return 0, false
	}
	v := uint16(r.b[r.off])<<8 | uint16(r.b[r.off+1])
	r.off += 2
	return v, true
}

func (r *reader) u32() (uint32, bool) {
	if r.left() < 4 {
		return 0, false
	}
	b := r.b[r.off:]
	v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	r.off += 4
	return v, true
}

// varint reads a variable byte integer of at most four bytes.
func (r *reader) varint() (uint32, bool) {
	var v uint32
	for i := 0; i < 4; i++ {
		if r.off+i >= len(r.b) {
			return 0, false
		}
		c := r.b[r.off+i]
		v |= uint32(c&0x7F) << (7 * i)
		if c&0x80 == 0 {
			r.off += i + 1
			return v, true
		}
	}
	return 0, false
}

// binary reads two-byte-length-prefixed data aliasing the body.
func (r *reader) binary() ([]byte, bool) {
	if r.left() < 2 {
		return nil, false
	}
	n := int(r.b[r.off])<<8 | int(r.b[r.off+1])
	if r.left()-2 < n {
		return nil, false
	}
	s := r.b[r.off+2 : r.off+2+n : r.off+2+n]
	r.off += 2 + n
	return s, true
}

func (r *reader) str() (string, bool) {
	b, ok := r.binary()
	if !ok {
		return "", false
	}
	return string(b), true
}

// varintSize is the encoded size of v as a variable byte integer.
func varintSize(v int) int {
	switch {
	case v < 128:
		return 1
	case v < 16384:
		return 2
	case v < 2097152:
		return 3
	default:
		return 4
	}
}

func appendVarint(dst []byte, v int) []byte {
	for {
		c := byte(v & 0x7F)
		v >>= 7
		if v > 0 {
			dst = append(dst, c|0x80)
		} else {
			return append(dst, c)
		}
	}
}

func appendU16(dst []byte, v uint16) []byte { return append(dst, byte(v>>8), byte(v)) }

func appendU32(dst []byte, v uint32) []byte {
	return append(dst, byte(v>>24), byte(v>>16), byte(v>>8), byte(v))
}

func appendString(dst []byte, s string) []byte {
	dst = appendU16(dst, uint16(len(s)))
	return append(dst, s...)
}

func appendBinary(dst []byte, b []byte) []byte {
	dst = appendU16(dst, uint16(len(b)))
	return append(dst, b...)
}

// appendHeader writes the first byte and the remaining length.
func appendHeader(dst []byte, first byte, remaining int) []byte {
	return appendVarint(append(dst, first), remaining)
}
