package integration

import (
	"net"
	"sync"
	"time"

	"github.com/midgemq/midge/internal/packet"
)

// sessionSub is a persistent subscriber that keeps its own MQTT session
// state across connections, as exactly-once requires of both ends: the
// packet ids of QoS 2 messages it has PUBREC'd and not yet seen PUBREL for
// [MQTT-4.3.3-9] (v3.1.1 §4.3.3 method B). A re-sent PUBLISH with such an id
// is acknowledged again but not delivered twice. paho.mqtt.golang clients
// lose that state when the client object is recreated, so after a broker
// crash they may deliver a re-sent QoS 2 message again; that would be the
// test client's duplicate, not the broker's.
type sessionSub struct {
	recv *received

	mu      sync.Mutex
	pending map[uint16]bool
}

func newSessionSub(recv *received) *sessionSub {
	return &sessionSub{recv: recv, pending: map[uint16]bool{}}
}

// connect opens a clean-session-0 connection, subscribes when asked, and
// serves it until the connection ends (the broker is killed) or stop is
// closed. It returns once CONNACK (and SUBACK) arrived.
func (s *sessionSub) connect(addr, id string, filters map[string]byte) (done <-chan struct{}, err error) {
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return nil, err
	}
	r := &rawClient{nc: nc, v: packet.V311}
	c := &packet.Connect{ProtocolName: "MQTT", ProtocolLevel: 4, Version: 4, ClientID: id}
	if _, err := nc.Write(packet.AppendConnect(nil, c)); err != nil {
		nc.Close()
		return nil, err
	}
	if p, err := r.tryRead(5 * time.Second); err != nil {
		nc.Close()
		return nil, err
	} else if ack, ok := p.(*packet.Connack); !ok || ack.Code != 0 {
		nc.Close()
		return nil, net.ErrClosed
	}
	if len(filters) > 0 {
		sub := &packet.Subscribe{PacketID: 1}
		for f, q := range filters {
			sub.Subscriptions = append(sub.Subscriptions, packet.Subscription{Filter: f, Options: packet.SubOptions{QoS: q}})
		}
		nc.Write(packet.AppendSubscribe(nil, packet.V311, sub))
	}
	ch := make(chan struct{})
	subacked := make(chan struct{})
	go func() {
		defer close(ch)
		defer nc.Close()
		once := sync.Once{}
		if len(filters) == 0 {
			once.Do(func() { close(subacked) })
		}
		for {
			p, err := r.tryRead(time.Hour)
			if err != nil {
				once.Do(func() { close(subacked) })
				return
			}
			var out []byte
			switch p := p.(type) {
			case *packet.Suback:
				once.Do(func() { close(subacked) })
			case *packet.Publish:
				k := p.Topic + " " + string(p.Payload)
				switch p.QoS {
				case 0:
					s.count(k)
				case 1:
					s.count(k)
					out = packet.AppendAck(nil, packet.V311, &packet.Ack{Type: packet.PUBACK, PacketID: p.PacketID})
				case 2:
					s.mu.Lock()
					dup := s.pending[p.PacketID]
					s.pending[p.PacketID] = true
					s.mu.Unlock()
					if !dup {
						s.count(k)
					}
					out = packet.AppendAck(nil, packet.V311, &packet.Ack{Type: packet.PUBREC, PacketID: p.PacketID})
				}
			case *packet.Ack:
				if p.Type == packet.PUBREL {
					s.mu.Lock()
					delete(s.pending, p.PacketID)
					s.mu.Unlock()
					out = packet.AppendAck(nil, packet.V311, &packet.Ack{Type: packet.PUBCOMP, PacketID: p.PacketID})
				}
			}
			if out != nil {
				if _, err := nc.Write(out); err != nil {
					return
				}
			}
		}
	}()
	select {
	case <-subacked:
	case <-time.After(5 * time.Second):
	}
	return ch, nil
}

func (s *sessionSub) count(k string) {
	s.recv.mu.Lock()
	s.recv.n[k]++
	s.recv.mu.Unlock()
}
