package integration

// Crash safety of persistence (issue 4, docs/PERSISTENCE.md): the real
// binary with `persistence true` is killed with SIGKILL at random points
// while a persistent publisher sends QoS 1, QoS 2 and retained messages to a
// persistent subscriber; after every restart the acknowledged state must be
// there. MIDGE_CRASH_ITERATIONS raises the number of kills (default 6).

import (
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
)

func persistConf(port int, dir string, extra string) string {
	return fmt.Sprintf("listener %d 127.0.0.1\npersistence true\npersistence_location %s\n%s", port, dir, extra)
}

// crashClient connects a persistent paho client; handler gets every message.
func crashClient(t *testing.T, addr, id string, handler paho.MessageHandler) (paho.Client, error) {
	o := paho.NewClientOptions().AddBroker("tcp://" + addr).SetClientID(id).SetCleanSession(false).
		SetProtocolVersion(4).SetAutoReconnect(false).SetConnectRetry(false).SetKeepAlive(30 * time.Second).
		SetOrderMatters(false)
	if handler != nil {
		o.SetDefaultPublishHandler(handler)
	}
	c := paho.NewClient(o)
	tok := c.Connect()
	if !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		return nil, fmt.Errorf("connect %s: %v", id, tok.Error())
	}
	return c, nil
}

type received struct {
	mu sync.Mutex
	n  map[string]int // topic + payload -> copies
}

func (r *received) handler(_ paho.Client, m paho.Message) {
	r.mu.Lock()
	r.n[m.Topic()+" "+string(m.Payload())]++
	r.mu.Unlock()
}

func (r *received) count(k string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.n[k]
}

func TestCrashKill9(t *testing.T) {
	iterations := 6
	if v, err := strconv.Atoi(os.Getenv("MIDGE_CRASH_ITERATIONS")); err == nil && v > 0 {
		iterations = v
	}
	seed := time.Now().UnixNano()
	t.Logf("seed %d, %d iterations", seed, iterations)
	rng := rand.New(rand.NewSource(seed))
	port := freePort(t)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	dir := t.TempDir()
	conf := persistConf(port, dir, "max_queued_messages 0\n")
	recv := &received{n: map[string]int{}}
	// The subscriber keeps its session state across broker crashes (see
	// sessionSub); the publisher is paho.
	subscriber := newSessionSub(recv)
	var acked []string  // "topic payload" acknowledged to the publisher, QoS 1
	var acked2 []string // QoS 2
	retained := map[string]string{}
	next := 0
	for it := 0; it <= iterations; it++ {
		b := StartBroker(t, conf)
		var filters map[string]byte
		if it == 0 {
			// Subscribed once: the subscriptions must survive every crash.
			filters = map[string]byte{"crash/q1": 1, "crash/q2": 2}
		}
		subDone, err := subscriber.connect(addr, "crash-sub", filters)
		if err != nil {
			t.Fatal(err)
		}
		if it == iterations {
			// The last run only checks.
			b.Stop()
			<-subDone
			break
		}
		pub, err := crashClient(t, addr, "crash-pub", nil)
		if err != nil {
			t.Fatal(err)
		}
		stop := make(chan struct{})
		var wg sync.WaitGroup
		var mu sync.Mutex
		for w := 0; w < 4; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					select {
					case <-stop:
						return
					default:
					}
					mu.Lock()
					next++
					i := next
					mu.Unlock()
					qos := byte(1 + i%2)
					topic := fmt.Sprintf("crash/q%d", qos)
					payload := strconv.Itoa(i)
					retain := i%10 == 0
					if retain {
						topic = fmt.Sprintf("crash/r/%d", i%7)
					}
					tok := pub.Publish(topic, qos, retain, payload)
					if !tok.WaitTimeout(3*time.Second) || tok.Error() != nil {
						return // the broker is gone
					}
					mu.Lock()
					switch {
					case retain:
						retained[topic] = payload
					case qos == 1:
						acked = append(acked, topic+" "+payload)
					default:
						acked2 = append(acked2, topic+" "+payload)
					}
					mu.Unlock()
				}
			}()
		}
		// Kill at a random point once some traffic has been acknowledged.
		time.Sleep(time.Duration(50+rng.Intn(400)) * time.Millisecond) // the random crash point
		b.cmd.Process.Kill()
		<-b.done
		close(stop)
		wg.Wait()
		pub.Disconnect(0)
		<-subDone
	}
	// Final run: the subscriber has everything acknowledged.
	b := StartBroker(t, conf)
	subDone, err := subscriber.connect(addr, "crash-sub", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { b.Stop(); <-subDone }()
	missing := func() []string {
		var out []string
		for _, k := range append(append([]string(nil), acked...), acked2...) {
			if recv.count(k) == 0 {
				out = append(out, k)
			}
		}
		return out
	}
	deadline := time.Now().Add(15 * time.Second)
	for len(missing()) > 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond) // polling interval
	}
	if m := missing(); len(m) > 0 {
		t.Fatalf("%d of %d acknowledged messages lost after %d kills, e.g. %v", len(m), len(acked)+len(acked2), iterations, m[:min(5, len(m))])
	}
	dups := 0
	for _, k := range acked2 {
		if n := recv.count(k); n != 1 {
			dups++
			t.Errorf("QoS 2 message %q received %d times", k, n)
		}
	}
	// Retained messages: a new subscriber sees the last acknowledged value
	// of each topic (or a later one whose ack was lost in the crash).
	got := map[string]string{}
	var gmu sync.Mutex
	rc, err := crashClient(t, addr, "crash-retained", func(_ paho.Client, m paho.Message) {
		gmu.Lock()
		got[m.Topic()] = string(m.Payload())
		gmu.Unlock()
	})
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Disconnect(0)
	rc.Subscribe("crash/r/#", 1, nil).WaitTimeout(5 * time.Second)
	eventually(t, 5*time.Second, "retained messages", func() bool {
		gmu.Lock()
		defer gmu.Unlock()
		return len(got) >= len(retained)
	})
	gmu.Lock()
	for topic, want := range retained {
		w, _ := strconv.Atoi(want)
		g, _ := strconv.Atoi(got[topic])
		if g < w {
			t.Errorf("retained %s = %q, acknowledged %q", topic, got[topic], want)
		}
	}
	gmu.Unlock()
	t.Logf("%d kills: %d QoS 1 and %d QoS 2 acknowledged messages delivered, %d retained topics kept", iterations, len(acked), len(acked2), len(retained))
	_ = b
}

// TestImportMosquittoDB makes a mosquitto.db with Debian's mosquitto (a
// persistent subscriber with queued messages, a retained message, SIGTERM
// to save) and starts midge on it: the state is imported.
func TestImportMosquittoDB(t *testing.T) {
	const bin = "/usr/sbin/mosquitto"
	if _, err := os.Stat(bin); err != nil {
		t.Skip("Debian's mosquitto is not installed")
	}
	dir := t.TempDir()
	port := freePort(t)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	confPath := filepath.Join(dir, "mosquitto.conf")
	os.WriteFile(confPath, []byte(fmt.Sprintf("listener %d 127.0.0.1\nallow_anonymous true\npersistence true\npersistence_location %s/\nuser root\n", port, dir)), 0o644)
	mq := startBin(t, bin, "-c", confPath)
	mq.WaitLog(t, "running", 10*time.Second)
	sub, err := crashClient(t, addr, "imported-sub", nil)
	if err != nil {
		t.Fatal(err)
	}
	sub.Subscribe("imp/#", 1, nil).WaitTimeout(5 * time.Second)
	sub.Disconnect(100)
	pub, err := crashClient(t, addr, "imported-pub", nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 3; i++ {
		pub.Publish("imp/q", 1, false, fmt.Sprintf("m%d", i)).WaitTimeout(5 * time.Second)
	}
	pub.Publish("imp/r", 1, true, "kept").WaitTimeout(5 * time.Second)
	pub.Disconnect(100)
	mq.Stop()
	if _, err := os.Stat(filepath.Join(dir, "mosquitto.db")); err != nil {
		t.Fatalf("mosquitto wrote no database: %v", err)
	}

	b := StartBroker(t, persistConf(port, dir, ""))
	line := b.WaitLog(t, "^Imported Mosquitto database ", 5*time.Second)
	if !strings.Contains(line, ": 1 retained messages, 2 sessions, 1 subscriptions, 4 queued messages.") {
		t.Errorf("import line: %s", line)
	}
	recv := &received{n: map[string]int{}}
	sub, err = crashClient(t, addr, "imported-sub", recv.handler)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Disconnect(0)
	eventually(t, 5*time.Second, "imported queued messages", func() bool {
		return recv.count("imp/q m1") == 1 && recv.count("imp/q m2") == 1 && recv.count("imp/q m3") == 1 && recv.count("imp/r kept") == 1
	})
	// The retained message is there for a new subscriber.
	recv2 := &received{n: map[string]int{}}
	c2, err := crashClient(t, addr, "imported-new", recv2.handler)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Disconnect(0)
	c2.Subscribe("imp/#", 1, nil).WaitTimeout(5 * time.Second)
	eventually(t, 5*time.Second, "imported retained message", func() bool { return recv2.count("imp/r kept") == 1 })
	// A second start does not import again.
	b.Stop()
	b = StartBroker(t, persistConf(port, dir, ""))
	if n := b.countLines(0, "^Imported"); n != 0 {
		t.Errorf("imported again on the second start")
	}
}
