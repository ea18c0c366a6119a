package packet

import "unicode/utf8"

// ValidUTF8 reports whether s is a valid MQTT UTF-8 string under Mosquitto's
// strict rules (mosquitto_validate_utf8): well-formed UTF-8 without overlong
// forms or surrogates [MQTT-1.5.3-1], no U+0000 [MQTT-1.5.3-2], no control
// characters U+0001-U+001F and U+007F-U+009F, and no non-characters
// (U+FDD0-U+FDEF and U+xFFFE/U+xFFFF in every plane). It does not allocate.
func ValidUTF8(s string) bool {
	for i := 0; i < len(s); {
		c := s[i]
		if c < 0x80 {
			if c < 0x20 || c == 0x7F {
				return false
			}
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if n <= 1 || !validRune(r) { // n == 1 with a byte >= 0x80 is an encoding error
			return false
		}
		i += n
	}
	return true
}

// validUTF8Bytes is ValidUTF8 for a byte slice.
func validUTF8Bytes(b []byte) bool {
	for i := 0; i < len(b); {
		c := b[i]
		if c < 0x80 {
			if c < 0x20 || c == 0x7F {
				return false
			}
			i++
			continue
		}
		r, n := utf8.DecodeRune(b[i:])
		if n <= 1 || !validRune(r) {
			return false
		}
		i += n
	}
	return true
}

// validRune checks a decoded non-ASCII code point (utf8 already rejects
// surrogates and overlong forms).
func validRune(r rune) bool {
	switch {
	case r <= 0x9F: // C1 controls
		return false
	case r >= 0xFDD0 && r <= 0xFDEF:
		return false
	case r&0xFFFE == 0xFFFE:
		return false
	}
	return true
}
