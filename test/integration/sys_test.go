package integration

import (
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
)

// TestSysTree: $SYS values are retained QoS 2 messages refreshed every
// sys_interval (+1 s), so a late subscriber gets them at once with retain
// set; `#` does not match them (reference §3, §6.6).
func TestSysTree(t *testing.T) {
	t.Parallel()
	b := StartBroker(t, "sys_interval 1\n")
	var mu sync.Mutex
	got := map[string]string{}
	retained := map[string]bool{}
	c := pahoConnect(t, b, "sys-reader", "", true, 60*time.Second)
	tok := c.Subscribe("$SYS/#", 1, func(_ paho.Client, m paho.Message) {
		mu.Lock()
		got[m.Topic()] = string(m.Payload())
		if m.Retained() {
			retained[m.Topic()] = true
		}
		mu.Unlock()
	})
	if !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	value := func(topic string) (string, bool) {
		mu.Lock()
		defer mu.Unlock()
		v, ok := got[topic]
		return v, ok
	}
	eventually(t, 10*time.Second, "an uptime of at least 2 seconds", func() bool {
		v, ok := value("$SYS/broker/uptime")
		if !ok || !strings.HasSuffix(v, " seconds") {
			return false
		}
		n, _ := strconv.Atoi(strings.TrimSuffix(v, " seconds"))
		return n >= 2
	})
	if v, _ := value("$SYS/broker/version"); v != "mosquitto version 2.0.20" {
		t.Errorf("version %q", v)
	}
	mu.Lock()
	if !retained["$SYS/broker/version"] {
		t.Error("$SYS/broker/version should arrive retained to a new subscriber")
	}
	mu.Unlock()
	eventually(t, 10*time.Second, "clients/connected >= 1 and subscriptions/count >= 1", func() bool {
		cc, _ := value("$SYS/broker/clients/connected")
		sc, _ := value("$SYS/broker/subscriptions/count")
		n1, _ := strconv.Atoi(cc)
		n2, _ := strconv.Atoi(sc)
		return n1 >= 1 && n2 >= 1
	})
	for _, topic := range []string{"$SYS/broker/load/messages/received/1min", "$SYS/broker/retained messages/count",
		"$SYS/broker/publish/bytes/sent", "$SYS/broker/heap/current"} {
		if _, ok := value(topic); !ok {
			t.Errorf("missing %s", topic)
		}
	}
	// A plain '#' subscriber gets none of them.
	c2 := pahoConnect(t, b, "hash-reader", "", true, 60*time.Second)
	var leaked []string
	tok = c2.Subscribe("#", 0, func(_ paho.Client, m paho.Message) {
		mu.Lock()
		leaked = append(leaked, m.Topic())
		mu.Unlock()
	})
	tok.WaitTimeout(5 * time.Second)
	pub := pahoConnect(t, b, "hash-probe", "", true, 60*time.Second)
	pub.Publish("probe/x", 0, false, "1").WaitTimeout(5 * time.Second)
	eventually(t, 5*time.Second, "the probe message on #", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(leaked) > 0
	})
	mu.Lock()
	defer mu.Unlock()
	for _, l := range leaked {
		if strings.HasPrefix(l, "$") {
			t.Errorf("'#' matched %s", l)
		}
	}
}
