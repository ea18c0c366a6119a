package packet

import "testing"

func benchPublish() *Publish {
	return &Publish{QoS: 1, PacketID: 42, Topic: "sensors/building-7/floor-3/temperature",
		Payload: make([]byte, 256),
		Props: Properties{ContentType: "application/json", HasContentType: true,
			MessageExpiry: 60, HasMessageExpiry: true, User: []UserProperty{{"k", "v"}}}}
}

func BenchmarkAppendPublish(b *testing.B) {
	for _, v := range []byte{V311, V5} {
		b.Run(map[byte]string{V311: "v311", V5: "v5"}[v], func(b *testing.B) {
			p := benchPublish()
			buf := make([]byte, 0, PublishSize(v, p))
			b.ReportAllocs()
			b.SetBytes(int64(cap(buf)))
			for b.Loop() {
				buf = AppendPublish(buf[:0], v, p)
			}
		})
	}
}

func BenchmarkDecodePublish(b *testing.B) {
	for _, v := range []byte{V311, V5} {
		b.Run(map[byte]string{V311: "v311", V5: "v5"}[v], func(b *testing.B) {
			pk := AppendPublish(nil, v, benchPublish())
			first, _, n, _ := ParseFixedHeader(pk)
			body := pk[n:]
			b.ReportAllocs()
			b.SetBytes(int64(len(pk)))
			for b.Loop() {
				if _, err := Decode(first, body, v); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
