package integration

import (
	"bufio"
	"fmt"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/midgemq/midge/internal/packet"
)

// Idle connections park (docs/DESIGN.md, "Goroutines"): after a second
// without inbound bytes a plain TCP connection gives up its reader
// goroutine on Linux. These tests read the broker's goroutine count from
// its MIDGE_PPROF endpoint to see that the connections under test really
// parked, then check that everything still behaves as before.

// parkBroker is midge with MIDGE_PPROF on a free port.
type parkBroker struct {
	*Broker
	pprof string
}

func startParkBroker(t *testing.T) *parkBroker {
	t.Helper()
	if runtime.GOOS != "linux" {
		t.Skip("connections park on Linux only")
	}
	pp := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	b := &parkBroker{Broker: StartBrokerEnv(t, []string{"MIDGE_PPROF=" + pp}, logAll), pprof: pp}
	eventually(t, 5*time.Second, "the pprof endpoint", func() bool { return b.readers() >= 0 })
	return b
}

// readers is the number of goroutines in a connection's read loop, from the
// broker's goroutine profile; -1 when it cannot be read.
func (b *parkBroker) readers() int {
	resp, err := http.Get("http://" + b.pprof + "/debug/pprof/goroutine?debug=1")
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return -1
	}
	// debug=1 groups identical stacks: "N @ 0x...", then one "#" line per
	// frame, then a blank line.
	n, group := 0, 0
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		l := sc.Text()
		if c, _, ok := strings.Cut(l, " @ "); ok {
			group, _ = strconv.Atoi(c)
		} else if strings.Contains(l, "broker.(*conn).readLoop") {
			n += group
			group = 0 // count a group once
		}
	}
	if sc.Err() != nil {
		return -1
	}
	return n
}

// waitParked waits until no connection has a reader goroutine.
func (b *parkBroker) waitParked(t *testing.T) {
	t.Helper()
	eventually(t, 10*time.Second, "idle connections to park", func() bool { return b.readers() == 0 })
}

// TestIdleConnectionsPark: idle connections hold no goroutine; a parked one
// answers PINGREQ, and a PUBLISH from a parked publisher reaches a parked
// subscriber.
func TestIdleConnectionsPark(t *testing.T) {
	t.Parallel()
	b := startParkBroker(t)
	sub := mustConnect(t, b.Broker, "park-sub", true)
	sub.subscribe(1, 1, "park/#")
	pub, _ := rawConnect(t, b.Broker, "park-pub", true, 0)
	var idle []*rawClient
	for i := 0; i < 30; i++ {
		r, _ := rawConnect(t, b.Broker, fmt.Sprint("park-", i), true, uint16(i%2*60))
		idle = append(idle, r)
	}
	b.waitParked(t)
	for _, r := range idle {
		r.ping()
	}
	pub.publish(&packet.Publish{Topic: "park/a", QoS: 1, PacketID: 3, Payload: []byte("woken")})
	pub.expectAck(packet.PUBACK, 3)
	if p := sub.expectPublish(); p.Topic != "park/a" || string(p.Payload) != "woken" {
		t.Fatalf("got %#v", p)
	}
	b.waitParked(t)
}

// watchWills connects a client subscribed to will/#.
func watchWills(t *testing.T, b *Broker) *rawClient {
	t.Helper()
	watch := mustConnect(t, b, t.Name()+"-watch", true)
	watch.subscribe(1, 1, "will/#")
	return watch
}

// connectWithWill connects id with keepalive ka and a will on will/<id>.
func connectWithWill(t *testing.T, b *Broker, id string, ka uint16) *rawClient {
	t.Helper()
	r := dialRaw(t, b.Addr)
	if ack := r.connect(&packet.Connect{ClientID: id, CleanStart: true, KeepAlive: ka, WillFlag: true,
		WillTopic: "will/" + id, WillPayload: []byte("gone"), WillQoS: 1}); ack.Code != 0 {
		t.Fatalf("CONNACK %d", ack.Code)
	}
	return r
}

func (r *rawClient) expectWill(id string) {
	r.t.Helper()
	if p := r.expectPublish(); p.Topic != "will/"+id {
		r.t.Fatalf("got %#v, want the will of %s", p, id)
	}
}

// TestParkedKeepalive: a parked client silent for 1.5 x keepalive is
// dropped with Mosquitto's line, and its will is published.
func TestParkedKeepalive(t *testing.T) {
	t.Parallel()
	b := startParkBroker(t)
	watch := watchWills(t, b.Broker)
	m := b.Mark()
	r := connectWithWill(t, b.Broker, "pk-sleepy", 3)
	start := time.Now()
	b.waitParked(t)
	r.expectClosed(10 * time.Second)
	if el := time.Since(start); el < 4400*time.Millisecond || el > 8*time.Second {
		t.Fatalf("dropped after %v, want about 4.5 s (1.5 x 3 s)", el)
	}
	watch.expectWill("pk-sleepy")
	b.waitLines(t, m, q("Client pk-sleepy has exceeded timeout, disconnecting."))
}

// TestParkedTakeover: a CONNECT with a parked client's id closes the parked
// connection as Mosquitto does and hands its session over.
func TestParkedTakeover(t *testing.T) {
	t.Parallel()
	b := startParkBroker(t)
	old := mustConnect(t, b.Broker, "pk-take", false)
	old.subscribe(1, 1, "take/#")
	b.waitParked(t)
	takeOver(t, b.Broker, "pk-take", old)
}

// TestParkedPeerClose: a parked client closing its socket is logged as
// before, and its will is published.
func TestParkedPeerClose(t *testing.T) {
	t.Parallel()
	b := startParkBroker(t)
	watch := watchWills(t, b.Broker)
	r := connectWithWill(t, b.Broker, "pc-gone", 60)
	b.waitParked(t)
	m := b.Mark()
	r.nc.Close()
	watch.expectWill("pc-gone")
	b.waitLines(t, m, q("Client pc-gone closed its connection."))
}

// TestParkedShutdown: SIGTERM with parked connections closes them and the
// broker exits cleanly.
func TestParkedShutdown(t *testing.T) {
	t.Parallel()
	b := startParkBroker(t)
	var cs []*rawClient
	for i := 0; i < 20; i++ {
		r, _ := rawConnect(t, b.Broker, fmt.Sprint("down-", i), i%2 == 0, uint16(i%2*60))
		cs = append(cs, r)
	}
	b.waitParked(t)
	b.Signal(syscall.SIGTERM)
	if code := b.Exited(t, 10*time.Second); code != 0 {
		t.Fatalf("exit code %d", code)
	}
	for _, r := range cs {
		r.expectClosed(5 * time.Second)
	}
	b.WaitLog(t, `^mosquitto version \S+ terminating$`, 5*time.Second)
}

// TestShutdownWithSilentSockets: SIGTERM while sockets have sent no
// CONNECT, or half of one, exits at once as Mosquitto does, instead of
// waiting for their connect timeout (90 s).
func TestShutdownWithSilentSockets(t *testing.T) {
	t.Parallel()
	b := StartBroker(t, "listener PORT 127.0.0.1\nallow_anonymous true\n")
	b.WaitLog(t, "running$", 10*time.Second)
	m := b.Mark()
	silent := dialRaw(t, b.Addr)
	half := dialRaw(t, b.Addr)
	half.send([]byte{0x10})
	b.waitLines(t, m, `^New connection from 127\.0\.0\.1:\d+ on port \d+\.$`, `^New connection from 127\.0\.0\.1:\d+ on port \d+\.$`)
	b.Signal(syscall.SIGTERM)
	if code := b.Exited(t, 10*time.Second); code != 0 {
		t.Fatalf("exit code %d", code)
	}
	silent.expectClosed(5 * time.Second)
	half.expectClosed(5 * time.Second)
}
