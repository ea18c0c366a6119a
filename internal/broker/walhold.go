package broker

import "github.com/midgemq/midge/internal/store"

// Write-ahead for persistent sessions. A QoS 1/2 PUBLISH to a store-backed
// session goes on the wire only once its record (with its packet id) is
// durable. Otherwise a crash after the send but before the write would let
// the restarted broker forget the packet id while the client still holds it
// as a QoS 2 message awaiting PUBREL [MQTT-4.3.3-9]: the client would then
// take the next message given that id for a duplicate and drop it.
//
// Held packets wait in order in conn.held; one goroutine per connection
// (started only while something is held) waits for the store and moves them
// to the output buffer. Packets queued behind a held one wait too, so the
// order on the wire is the order of writePublish calls.

type heldPacket struct {
	seq uint64 // store sequence number to wait for (0 = none of its own)
	b   []byte // the encoded packet
}

// holdUntilDurable holds the packet enc produces until the store write seq
// is durable, or while earlier packets are held. It reports false when the
// packet needs no holding and the caller writes it as usual.
func (c *conn) holdUntilDurable(seq uint64, enc func([]byte) []byte) bool {
	db := c.srv.Store()
	if db == nil {
		return false
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if len(c.held) == 0 && (seq == 0 || db.Durable(seq)) {
		return false
	}
	if c.wclosed || c.closeAfter {
		return true // closing: the message stays in flight and is re-sent on reconnect
	}
	c.held = append(c.held, heldPacket{seq, enc(nil)})
	if !c.releasing {
		c.releasing = true
		go c.releaseHeld(db)
	}
	return true
}

// releaseHeld moves held packets to the output buffer as their writes
// become durable, then ends when nothing is held.
func (c *conn) releaseHeld(db *store.DB) {
	for {
		c.wmu.Lock()
		if len(c.held) == 0 {
			c.releasing = false
			c.wmu.Unlock()
			return
		}
		upto := uint64(0)
		for _, h := range c.held {
			upto = max(upto, h.seq)
		}
		c.wmu.Unlock()
		// On a store error the packets are sent anyway: they are in the
		// session's memory, as without persistence.
		db.Wait(upto)
		c.wmu.Lock()
		n := 0
		for _, h := range c.held {
			if h.seq > upto {
				break
			}
			if !c.wclosed && !c.closeAfter {
				c.out = append(c.outBuf(), h.b...)
			}
			n++
		}
		c.held = append(c.held[:0], c.held[n:]...)
		if !c.writing && len(c.out) > 0 {
			c.writing = true
			go c.flushFn()
		}
		c.wmu.Unlock()
	}
}
