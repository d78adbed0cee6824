// memberlist harness of the side-by-side benchmark (`cargo run --release -p peers`): one
// repetition of one scenario on hashicorp/memberlist, all nodes in this process on 127.0.0.1,
// printing the same flat JSON object of figures as the Rust drivers (impl/peers/src/cluster.rs).
//
// Built offline in GOPATH mode from Debian's packaged sources:
//
//	GOPATH=/usr/share/gocode GO111MODULE=off go build -o peers-memberlist memberlist_harness.go
//
// Settings: DefaultLANConfig with probe interval 200 ms, probe timeout 100 ms, 3 indirect
// checks, suspicion multiplier 4; everything else at the LAN defaults (gossip to 3 nodes every
// 200 ms, push-pull every 30 s over TCP, TCP fallback pings on, Lifeguard awareness on).
// Loss is applied on UDP sends only (the TCP fallback ping and push-pull are not dropped),
// and bytes count UDP payload only.
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io/ioutil"
	"log"
	"math"
	"math/rand"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/hashicorp/memberlist"
)

const (
	probePeriod = 200 * time.Millisecond
	suspect     = 0
	down        = 1
)

type report struct {
	node, about, kind int
	at                time.Time
}

// lossy wraps the UDP side of memberlist's NetTransport: drops sends with a probability and
// counts what it hands to the socket.
type lossy struct {
	*memberlist.NetTransport
	lossPPM   *int64
	datagrams *int64
	bytes     *int64
	mu        sync.Mutex
	rng       *rand.Rand
}

func (t *lossy) WriteTo(b []byte, addr string) (time.Time, error) {
	atomic.AddInt64(t.datagrams, 1)
	atomic.AddInt64(t.bytes, int64(len(b)))
	if p := atomic.LoadInt64(t.lossPPM); p > 0 {
		t.mu.Lock()
		drop := t.rng.Int63n(1000000) < p
		t.mu.Unlock()
		if drop {
			return time.Now(), nil
		}
	}
	return t.NetTransport.WriteTo(b, addr)
}

// WriteToAddress is what memberlist calls on a node-aware transport (NetTransport is one).
func (t *lossy) WriteToAddress(b []byte, addr memberlist.Address) (time.Time, error) {
	return t.WriteTo(b, addr.Addr)
}

type cluster struct {
	n         int
	nodes     []*memberlist.Memberlist
	addrs     []string
	lossPPM   int64
	datagrams int64
	bytes     int64
	raised    int64
	reports   chan report
	collect   bool
}

func index(name string) int {
	i, err := strconv.Atoi(strings.TrimPrefix(name, "n"))
	if err != nil {
		return -1
	}
	return i
}

// events turns NotifyLeave (dead or left) into reports.
type events struct {
	c    *cluster
	node int
}

func (e *events) NotifyJoin(*memberlist.Node)   {}
func (e *events) NotifyUpdate(*memberlist.Node) {}
func (e *events) NotifyLeave(n *memberlist.Node) {
	if e.c.collect {
		e.c.reports <- report{e.node, index(n.Name), down, time.Now()}
	}
}

// logs counts the prober's "Suspect <name> has failed, no acks received" lines: memberlist
// reports a suspicion nowhere else.
type logs struct {
	c    *cluster
	node int
}

func (l *logs) Write(p []byte) (int, error) {
	if i := bytes.Index(p, []byte("Suspect ")); i >= 0 && bytes.Contains(p, []byte("has failed")) {
		atomic.AddInt64(&l.c.raised, 1)
		if l.c.collect {
			fields := strings.Fields(string(p[i:]))
			if len(fields) > 1 {
				l.c.reports <- report{l.node, index(fields[1]), suspect, time.Now()}
			}
		}
	}
	return len(p), nil
}

func start(n int, collect bool) *cluster {
	c := &cluster{n: n, reports: make(chan report, 1<<16), collect: collect}
	for i := 0; i < n; i++ {
		conf := memberlist.DefaultLANConfig()
		conf.Name = fmt.Sprintf("n%d", i)
		conf.BindAddr = "127.0.0.1"
		conf.ProbeInterval = probePeriod
		conf.ProbeTimeout = 100 * time.Millisecond
		conf.IndirectChecks = 3
		conf.SuspicionMult = 4
		conf.LogOutput = &logs{c, i}
		conf.Events = &events{c, i}
		nt, err := memberlist.NewNetTransport(&memberlist.NetTransportConfig{
			BindAddrs: []string{"127.0.0.1"},
			BindPort:  0,
			Logger:    log.New(ioutil.Discard, "", 0),
		})
		if err != nil {
			fail("transport: %v", err)
		}
		port := nt.GetAutoBindPort()
		conf.BindPort, conf.AdvertisePort = port, port
		conf.Transport = &lossy{NetTransport: nt, lossPPM: &c.lossPPM, datagrams: &c.datagrams,
			bytes: &c.bytes, rng: rand.New(rand.NewSource(int64(7 + i)))}
		m, err := memberlist.Create(conf)
		if err != nil {
			fail("create: %v", err)
		}
		c.nodes = append(c.nodes, m)
		c.addrs = append(c.addrs, fmt.Sprintf("127.0.0.1:%d", port))
		time.Sleep(probePeriod / time.Duration(n))
	}
	return c
}

// joinAll joins every node but node 0 through node 0, node i after spread*i/n.
func (c *cluster) joinAll(spread time.Duration) {
	for i, m := range c.nodes[1:] {
		delay := spread * time.Duration(i+1) / time.Duration(c.n)
		// A join is one TCP push-pull with the seed; retry it as an application would when
		// the seed is busy (99 at once), as swim-checked's join retries on its own.
		go func(m *memberlist.Memberlist) {
			time.Sleep(delay)
			for t0 := time.Now(); time.Since(t0) < 60*time.Second; {
				if _, err := m.Join([]string{c.addrs[0]}); err == nil {
					return
				}
				time.Sleep(probePeriod)
			}
		}(m)
	}
}

func (c *cluster) view(i int) int { return c.nodes[i].NumMembers() }

// settled reads each node's (unexported) broadcast queue: memberlist exposes no count.
func (c *cluster) settled() bool {
	for _, m := range c.nodes {
		f := reflect.ValueOf(m).Elem().FieldByName("broadcasts")
		q := (*memberlist.TransmitLimitedQueue)(unsafe.Pointer(f.Pointer()))
		if q.NumQueued() > 0 {
			return false
		}
	}
	return true
}

func (c *cluster) shutdown() {
	for _, m := range c.nodes {
		m.Shutdown()
	}
}

func (c *cluster) converge(every, limit time.Duration) []float64 {
	t0 := time.Now()
	done := make([]float64, c.n)
	left := c.n
	for i := range done {
		done[i] = -1
	}
	for left > 0 {
		for i := range done {
			if done[i] < 0 && c.view(i) == c.n {
				done[i] = time.Since(t0).Seconds()
				left--
			}
		}
		if left > 0 {
			if time.Since(t0) > limit {
				fail("no convergence: %d of %d nodes short after %v", left, c.n, limit)
			}
			time.Sleep(every)
		}
	}
	return done
}

func (c *cluster) settle() {
	t0 := time.Now()
	for !c.settled() {
		if time.Since(t0) > 180*time.Second {
			fail("gossip never settled")
		}
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(probePeriod)
}

func (c *cluster) drain() {
	for {
		select {
		case <-c.reports:
		default:
			return
		}
	}
}

func cpuSeconds() float64 {
	paths, _ := filepath.Glob("/proc/self/task/*/schedstat")
	var total uint64
	for _, p := range paths {
		b, err := ioutil.ReadFile(p)
		if err != nil {
			continue
		}
		if f := strings.Fields(string(b)); len(f) > 0 {
			ns, _ := strconv.ParseUint(f[0], 10, 64)
			total += ns
		}
	}
	return float64(total) / 1e9
}

func rssBytes() float64 {
	b, _ := ioutil.ReadFile("/proc/self/status")
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "VmRSS:") {
			f := strings.Fields(l)
			kb, _ := strconv.ParseFloat(f[1], 64)
			return kb * 1024
		}
	}
	return 0
}

func orNull(d time.Duration, ok bool) interface{} {
	if !ok {
		return nil
	}
	return d.Seconds()
}

func detect(n int, secs float64, rep int) map[string]interface{} {
	c := start(n, true)
	c.joinAll(0)
	c.converge(10*time.Millisecond, 120*time.Second)
	c.settle()
	time.Sleep(5 * probePeriod)
	c.drain()
	time.Sleep(time.Duration((rep*7919+13)%int(probePeriod/time.Millisecond)) * time.Millisecond)
	victim := (rep*7 + 3) % n
	c.nodes[victim].Shutdown()
	crash := time.Now()
	var suspected, firstDead, allDead time.Duration
	var gotS, gotF, gotA bool
	dead := make([]bool, n)
	dead[victim] = true
	falseSuspicions := 0
	deadline := time.After(time.Duration(math.Max(secs, 1) * float64(time.Second)))
loop:
	for {
		select {
		case r := <-c.reports:
			if r.about != victim {
				if r.kind == suspect {
					falseSuspicions++
				}
				continue
			}
			since := r.at.Sub(crash)
			if !gotS {
				suspected, gotS = since, true
			}
			if r.kind == down {
				if !gotF {
					firstDead, gotF = since, true
				}
				dead[r.node] = true
				all := true
				for _, d := range dead {
					all = all && d
				}
				if all {
					allDead, gotA = since, true
					break loop
				}
			}
		case <-deadline:
			break loop
		}
	}
	c.shutdown()
	return map[string]interface{}{
		"first_suspicion_s":        orNull(suspected, gotS),
		"first_dead_s":             orNull(firstDead, gotF),
		"all_dead_s":               orNull(allDead, gotA),
		"suspicions_of_live_nodes": falseSuspicions,
	}
}

func loss(n int, secs, p float64) map[string]interface{} {
	c := start(n, true)
	c.joinAll(0)
	c.converge(10*time.Millisecond, 120*time.Second)
	c.settle()
	c.drain()
	raised0 := atomic.LoadInt64(&c.raised)
	atomic.StoreInt64(&c.lossPPM, int64(p*1e6))
	end := time.After(time.Duration(secs * float64(time.Second)))
	suspects, deads := 0, 0
loop:
	for {
		select {
		case r := <-c.reports:
			if r.kind == suspect {
				suspects++
			} else {
				deads++
			}
		case <-end:
			break loop
		}
	}
	out := 0
	for i := 0; i < n; i++ {
		out += n - c.view(i)
	}
	raised := atomic.LoadInt64(&c.raised) - raised0
	c.shutdown()
	return map[string]interface{}{
		"suspicions_raised":            raised,
		"suspect_events":               suspects,
		"dead_events_about_live_nodes": deads,
		"members_out_at_end":           out,
	}
}

func idle(n int, secs float64) map[string]interface{} {
	rss0 := rssBytes()
	t0 := time.Now()
	c := start(n, false)
	// Joins spread over 50 ms per node plus one period, as the Rust drivers do at idle.
	c.joinAll(50*time.Millisecond*time.Duration(n) + probePeriod)
	c.converge(100*time.Millisecond, 360*time.Second)
	converged := time.Since(t0).Seconds()
	c.settle()
	cpu0, d0, b0 := cpuSeconds(), atomic.LoadInt64(&c.datagrams), atomic.LoadInt64(&c.bytes)
	t1 := time.Now()
	time.Sleep(time.Duration(secs * float64(time.Second)))
	elapsed := time.Since(t1).Seconds()
	cpu1, d1, b1 := cpuSeconds(), atomic.LoadInt64(&c.datagrams), atomic.LoadInt64(&c.bytes)
	rss1 := rssBytes()
	lost := 0
	for i := 0; i < n; i++ {
		if c.view(i) != n {
			lost++
		}
	}
	c.shutdown()
	if lost > 0 {
		fail("%d nodes lost members while idle", lost)
	}
	per := float64(n) * elapsed
	dg := math.Max(float64(d1-d0), 1)
	return map[string]interface{}{
		"cpu_s_per_node_s":     (cpu1 - cpu0) / per,
		"rss_bytes_per_node":   math.Max(rss1-rss0, 0) / float64(n),
		"bytes_per_node_s":     float64(b1-b0) / per,
		"datagrams_per_node_s": float64(d1-d0) / per,
		"bytes_per_datagram":   float64(b1-b0) / dg,
		"converged_s":          converged,
	}
}

func join(n int) map[string]interface{} {
	c := start(n, false)
	c.joinAll(0)
	done := c.converge(2*time.Millisecond, 120*time.Second)
	c.shutdown()
	sort.Float64s(done)
	return map[string]interface{}{
		"all_see_all_s":          done[n-1],
		"median_node_sees_all_s": done[n/2],
	}
}

func fail(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "peers-memberlist: "+format+"\n", args...)
	os.Exit(1)
}

func main() {
	scenario := flag.String("scenario", "", "detect, loss, idle or join")
	n := flag.Int("n", 20, "cluster size")
	secs := flag.Float64("duration", 30, "measured seconds (detect: verdict timeout)")
	p := flag.Float64("loss", 0, "send-loss probability")
	rep := flag.Int("rep", 0, "repetition index")
	threads := flag.Int("threads", 2, "GOMAXPROCS")
	flag.Float64("floor-rate", 0, "ignored (the floor is a Rust mode)")
	flag.Int("floor-bytes", 0, "ignored (the floor is a Rust mode)")
	flag.Parse()
	if *threads > 0 {
		runtime.GOMAXPROCS(*threads)
	}
	if *n < 2 {
		*n = 2
	}
	var figures map[string]interface{}
	switch *scenario {
	case "detect":
		figures = detect(*n, *secs, *rep)
	case "loss":
		figures = loss(*n, *secs, *p)
	case "idle":
		figures = idle(*n, *secs)
	case "join":
		figures = join(*n)
	default:
		fail("unknown scenario %q", *scenario)
	}
	out, _ := json.Marshal(figures)
	fmt.Println(string(out))
}
