package packet

import "testing"

func TestValidUTF8(t *testing.T) {
	cases := []struct {
		in   string
		want bool
	}{
		{"", true},
		{"a/b/c", true},
		{"héllo wörld", true},
		{"日本語", true},
		{"\U0001F600", true},   // 4-byte form
		{"\uFFFD", true},       // the replacement character itself is fine
		{"\uFDCF\uFDF0", true}, // just outside the non-character block
		{"a\x00b", false},      // U+0000 [MQTT-1.5.3-2]
		{"\x01", false},        // C0 control
		{"\x1F", false},
		{"\x7F", false},   // DEL
		{"\u0080", false}, // C1 control
		{"\u009F", false},
		{"\uFDD0", false}, // non-character
		{"\uFDEF", false},
		{"\uFFFE", false},
		{"\uFFFF", false},
		{"\U0001FFFE", false}, // plane 1 non-character
		{"\U0010FFFF", false},
		{"\xed\xa0\x80", false},     // UTF-16 surrogate D800 [MQTT-1.5.3-1]
		{"\xc0\xaf", false},         // overlong '/'
		{"\xe0\x80\xaf", false},     // overlong
		{"\xf4\x90\x80\x80", false}, // beyond U+10FFFF
		{"\xff", false},
		{"a\xc3", false}, // truncated sequence
		{"\x80", false},  // lone continuation byte
	}
	for _, tc := range cases {
		if got := ValidUTF8(tc.in); got != tc.want {
			t.Errorf("ValidUTF8(%q) = %v, want %v", tc.in, got, tc.want)
		}
		if got := validUTF8Bytes([]byte(tc.in)); got != tc.want {
			t.Errorf("validUTF8Bytes(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

func TestNoAllocs(t *testing.T) {
	s := "sensors/héllo/temperature"
	if n := testing.AllocsPerRun(100, func() { ValidUTF8(s) }); n != 0 {
		t.Errorf("ValidUTF8 allocates %v", n)
	}
	hdr := raw(0x30, 0xFF, 0x7F)
	if n := testing.AllocsPerRun(100, func() { ParseFixedHeader(hdr) }); n != 0 {
		t.Errorf("ParseFixedHeader allocates %v", n)
	}
	p := benchPublish()
	buf := make([]byte, 0, PublishSize(V5, p))
	if n := testing.AllocsPerRun(100, func() { AppendPublish(buf[:0], V5, p) }); n != 0 {
		t.Errorf("AppendPublish allocates %v", n)
	}
}

func TestPublishSize(t *testing.T) {
	p := benchPublish()
	for _, v := range []byte{V31, V311, V5} {
		if got, want := PublishSize(v, p), len(AppendPublish(nil, v, p)); got != want {
			t.Errorf("v%d: PublishSize %d, encoded %d", v, got, want)
		}
	}
	big := &Publish{Topic: "t", Payload: make([]byte, 20000)}
	if got, want := PublishSize(V311, big), len(AppendPublish(nil, V311, big)); got != want {
		t.Errorf("big: PublishSize %d, encoded %d", got, want)
	}
}

func TestPublishClone(t *testing.T) {
	body := pkt(0x32, s("t"), 0, 1, "payload")
	pk, err := decodeRaw(t, V311, body)
	if err != nil {
		t.Fatal(err)
	}
	c := pk.(*Publish).Clone()
	for i := range body {
		body[i] = 0
	}
	if string(c.Payload) != "payload" || c.Topic != "t" {
		t.Fatalf("clone aliases the buffer: %+v", c)
	}
}
