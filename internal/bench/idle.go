package bench

import (
	"fmt"
	"strconv"
	"sync"
	"time"
)

// runIdle opens cfg.Conns connections at cfg.ConnectRate per second, each
// sending CONNECT and waiting for CONNACK (the time from dialling to CONNACK
// is the connect latency), keeps them open and idle for cfg.Hold, and
// reports the broker's RSS growth per connection.
func runIdle(cfg Config) (*Result, error) {
	epoch := time.Now()
	run := strconv.FormatInt(epoch.UnixNano()%1e9, 36)
	base := sampleProc(cfg.Pid)
	self0, gc0 := selfCPU(), selfGCs()
	st0, stOK0 := stealTime()
	var (
		mu      sync.Mutex
		h       hist // dial to CONNACK
		hd      hist // dial alone (the TCP handshake, done by the kernel)
		clients = make([]*client, 0, cfg.Conns)
		failed  int
		errs    []string
		wg      sync.WaitGroup
	)
	start := time.Now()
	for i := 0; i < cfg.Conns; i++ {
		at := start.Add(time.Duration(float64(i) / cfg.ConnectRate * float64(time.Second)))
		if d := time.Until(at); d > 0 {
			time.Sleep(d)
		}
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			t := time.Now()
			c, err := dial(cfg.Addr, dialTimeout)
			dialled := time.Since(t)
			if err == nil {
				// The keepalive is 0 so idle connections send nothing.
				err = c.connect("mb-"+run+"-i"+strconv.Itoa(i), cfg.Version, dialTimeout)
				if err != nil {
					c.nc.Close()
				}
			}
			lat := time.Since(t)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				failed++
				if len(errs) < 10 {
					errs = append(errs, err.Error())
				}
				return
			}
			h.record(int64(lat))
			hd.record(int64(dialled))
			clients = append(clients, c)
		}(i)
	}
	wg.Wait()
	connected := time.Since(start)
	gc1 := selfGCs()
	st1, stOK1 := stealTime()
	b1 := sampleProc(cfg.Pid)
	time.Sleep(cfg.Hold)
	b2 := sampleProc(cfg.Pid)
	self1 := selfCPU()
	for _, c := range clients {
		c.nc.Close()
	}
	res := &Result{Name: cfg.Name, Label: cfg.Label, Scenario: "idle", Rate: cfg.ConnectRate, Window: connected.Seconds(), Errors: errs}
	res.Idle = &IdleStats{Conns: cfg.Conns, Connected: len(clients), Failed: failed,
		ConnectRate: float64(len(clients)) / connected.Seconds(), Connack: h.summary(), Dial: hd.summary()}
	res.SelfCPU = (self1 - self0).Seconds() / time.Since(start).Seconds()
	// Collections and steal during the connects, not the hold.
	res.SelfGCs = ptr(gc1 - gc0)
	if stOK0 && stOK1 {
		res.StealMS = ptr(float64(st1-st0) / float64(time.Millisecond))
	}
	if base.ok && b2.ok {
		res.Idle.RSSBaseKB, res.Idle.RSSKB = base.rssKB, b2.rssKB
		if len(clients) > 0 {
			res.Idle.RSSPerConn = float64(b2.rssKB-base.rssKB) * 1024 / float64(len(clients))
		}
		res.Broker = &BrokerStats{Pid: cfg.Pid, CPU: (b1.cpu - base.cpu).Seconds() / connected.Seconds(),
			RSSKB: b2.rssKB, HWMKB: b2.hwmKB}
	}
	if len(clients) == 0 {
		return res, fmt.Errorf("no connection succeeded: %v", errs)
	}
	return res, nil
}
