// Command failover measures what a DNS client sees when a backend crashes:
// the time from SIGKILL of a backend process to the backend leaving hadns's
// A answer, per check kind at its default settings, p50/p99/max over -kills
// crashes, beside the worst-case bound (detection bound; the answer TTL is
// what a caching client adds on top).
//
// It runs the real binary (-bin, or one it builds) with one service per
// row, each with three backends that are `hadns demo` child processes on
// their own loopback addresses. For each kill it waits a random moment (so
// kills fall anywhere in the probe schedule), kills one backend with
// SIGKILL, queries hadns every -poll until the backend is gone from the A
// answer, then starts it again and waits until it is back. It counts flaps:
// a backend that was not killed missing from an answer, first for -observe
// with nothing killed, then in the waits between kills.
//
// Rows:
//   - http: kind http, path /healthz, every other setting at its default.
//   - watch: kind watch at its defaults.
//   - watch+req: kind watch that sends an HTTP request and expects 200 on
//     connect. `hadns demo` is a Go HTTP server with a 5 s ReadHeaderTimeout:
//     it closes a connection that sends nothing, which a plain watch takes
//     for a crash (the flaps column shows it); after one request the server
//     keeps the idle connection open.
//
// With -load both (or on), hadns is pinned to -server-cpu and the kills run
// a second time while dnsperf, pinned to -load-cpu, keeps hadns's core
// saturated with queries for the rows' names: the check probes then compete
// with the query path for one core. The table gives both phases and the
// dnsperf rate that held meanwhile (apt-get install dnsperf).
//
// Loopback only, no root needed; bounded by -timeout and stops by itself.
//
//	go run ./test/failover -kills 20
//	go run ./test/failover -kills 20 -load both
package main

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/miekg/dns"

	"github.com/hadns/hadns/healthcheck"
	"github.com/hadns/hadns/test/internal/loadtest"
)

const zoneOrigin = "failover.test."

// row is one service: a check kind and its backends.
type row struct {
	name  string
	check string // the zone file's check mapping
	spec  healthcheck.Spec
	hosts []string

	backends []*loadtest.Demo
	kills    []time.Duration // kill → gone from the A answer
	backs    []time.Duration // restart → back in the A answer
	misses   int             // kills not seen within the wait limit
	flaps    int             // between kills: a backend not killed missing from an answer
	// stableFlaps is flaps while nothing was killed (the -observe window).
	stableFlaps int
	downs       int // "-> down" transitions hadns logged for this service
	err         error
}

func (r *row) qname() string { return r.name + "." + zoneOrigin }

func main() {
	bin := flag.String("bin", "", "hadns binary (default: build one)")
	kills := flag.Int("kills", 20, "kills per check kind")
	timeout := flag.Duration("timeout", 5*time.Minute, "give up after this long")
	poll := flag.Duration("poll", 5*time.Millisecond, "DNS query interval while waiting for a change")
	ttl := flag.Int("ttl", 10, "the services' TTL (the zone file default)")
	observe := flag.Duration("observe", 12*time.Second, "before the kills, watch the answers this long for flaps")
	var l loadOpts
	flag.StringVar(&l.mode, "load", "off", "off: kills without load; on: kills while dnsperf saturates hadns; both: without, then with")
	flag.IntVar(&l.serverCPU, "server-cpu", 0, "with -load: the CPU hadns is pinned to")
	flag.IntVar(&l.loadCPU, "load-cpu", 1, "with -load: the CPU dnsperf is pinned to")
	flag.IntVar(&l.outstanding, "outstanding", 200, "with -load: dnsperf's queries in flight")
	flag.Parse()
	switch l.mode {
	case "off", "on", "both":
	default:
		fmt.Fprintf(os.Stderr, "failover: -load %q: want off, on or both\n", l.mode)
		os.Exit(2)
	}

	if l.mode == "both" && !flagSet("timeout") {
		*timeout *= 2 // two runs of the kills
	}

	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()

	code, err := run(ctx, *bin, *kills, *poll, *ttl, *observe, l)
	if err != nil {
		fmt.Fprintln(os.Stderr, "failover:", err)
		if code == 0 {
			code = 1
		}
	}
	os.Exit(code)
}

// flagSet reports whether the command line set the flag name.
func flagSet(name string) bool {
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

// loadOpts say whether and how the kills run under query load.
type loadOpts struct {
	mode               string // off, on, both
	serverCPU, loadCPU int
	outstanding        int
}

// phases are the load phases to run: false without load, true with.
func (l loadOpts) phases() []bool {
	switch l.mode {
	case "on":
		return []bool{true}
	case "both":
		return []bool{false, true}
	}
	return []bool{false}
}

func run(ctx context.Context, bin string, kills int, poll time.Duration, ttl int, observe time.Duration, l loadOpts) (int, error) {
	dir, err := os.MkdirTemp("", "hadns-failover-")
	if err != nil {
		return 1, err
	}
	defer os.RemoveAll(dir)
	if bin == "" {
		bin = filepath.Join(dir, "hadns")
		fmt.Println("building hadns ...")
		out, err := exec.CommandContext(ctx, "go", "build", "-o", bin, "github.com/hadns/hadns/cmd/hadns").CombinedOutput()
		if err != nil {
			return 1, fmt.Errorf("go build: %v\n%s", err, out)
		}
	}
	if bin, err = filepath.Abs(bin); err != nil {
		return 1, err
	}

	rows := []*row{
		{name: "http", check: "{kind: http, path: /healthz}", spec: healthcheck.Spec{Kind: "http"},
			hosts: []string{"127.0.71.1", "127.0.71.2", "127.0.71.3"}},
		{name: "watch", check: "{kind: watch}", spec: healthcheck.Spec{Kind: "watch"},
			hosts: []string{"127.0.72.1", "127.0.72.2", "127.0.72.3"}},
		{name: "watch+req", check: `{kind: watch, send: "GET /healthz HTTP/1.1\nHost: demo\n", expect: " 200 "}`, spec: healthcheck.Spec{Kind: "watch"},
			hosts: []string{"127.0.73.1", "127.0.73.2", "127.0.73.3"}},
	}

	// Backends: every row's hosts on one port free on all of them.
	var all []string
	for _, r := range rows {
		all = append(all, r.hosts...)
	}
	port, bs, err := loadtest.StartDemos(ctx, bin, all, 0)
	defer func() {
		for _, b := range bs {
			b.Kill()
		}
	}()
	if err != nil {
		return 1, err
	}
	for i, r := range rows {
		r.backends = bs[3*i : 3*i+3]
	}

	cpu := -1
	if l.mode != "off" {
		cpu = l.serverCPU
	}
	srv, err := startServer(ctx, bin, dir, zone(rows, port, ttl), cpu)
	if srv != nil {
		defer srv.Stop()
	}
	if err != nil {
		return 1, err
	}
	fmt.Printf("hadns on %s, backends on port %d, %d kills per kind, polling every %v\n", srv.Addr, port, kills, poll)

	var results []phase
	code := 0
	for _, loaded := range l.phases() {
		p, err := runPhase(ctx, srv, rows, kills, poll, ttl, observe, loaded, l, dir)
		if err != nil {
			return 1, err
		}
		results = append(results, p)
		for _, r := range rows {
			if r.err != nil {
				fmt.Fprintf(os.Stderr, "%s: %v\n", r.name, r.err)
				code = 1
			}
			if r.misses > 0 {
				code = 1
			}
		}
		if ctx.Err() != nil {
			return 1, fmt.Errorf("stopped early: %v", context.Cause(ctx))
		}
	}
	if len(results) > 1 {
		compare(results, rows)
	}
	return code, nil
}

// phase is the outcome of one run of the kills: per row, its kill-to-change
// times; with load, what dnsperf measured meanwhile.
type phase struct {
	loaded  bool
	kills   map[string][]time.Duration
	load    loadtest.Result
	retries int64 // poll queries sent again after a timeout
}

// runPhase runs every row's kills once, under dnsperf load when loaded,
// and prints the table.
func runPhase(ctx context.Context, srv *loadtest.Server, rows []*row, kills int, poll time.Duration, ttl int, observe time.Duration, loaded bool, l loadOpts, dir string) (phase, error) {
	p := phase{loaded: loaded, kills: map[string][]time.Duration{}}
	for _, r := range rows {
		r.kills, r.backs, r.misses, r.flaps, r.stableFlaps, r.downs, r.err = nil, nil, 0, 0, 0, 0, nil
	}
	logStart := len(srv.Out.String())
	pollRetries.Store(0)

	loadCtx, stopLoad := context.WithCancel(ctx)
	defer stopLoad()
	loadDone := make(chan loadResult, 1)
	if loaded {
		if err := startLoad(loadCtx, srv, rows, l, dir, loadDone); err != nil {
			return p, err
		}
		fmt.Printf("\nunder load: hadns pinned to CPU %d, dnsperf on CPU %d (-q %d) querying the rows' A names\n", l.serverCPU, l.loadCPU, l.outstanding)
	} else {
		fmt.Println("\nwithout load")
	}

	var wg sync.WaitGroup
	for _, r := range rows {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.err = measure(ctx, srv.Addr, r, kills, poll, observe)
		}()
	}
	wg.Wait()
	if loaded {
		stopLoad()
		lr := <-loadDone
		if lr.err != nil {
			return p, lr.err
		}
		p.load = lr.res
	}
	if !srv.Alive() {
		return p, fmt.Errorf("hadns exited during the run:\n%s", srv.Out.String())
	}
	p.retries = pollRetries.Load()
	for _, r := range rows {
		r.downs = countDowns(srv.Out.String()[logStart:], r.qname())
		p.kills[r.name] = r.kills
	}
	report(rows, kills, ttl, observe)
	if loaded {
		fmt.Printf("load meanwhile: %.0f queries/s answered by hadns, mean latency %v, %d lost of %d\n",
			p.load.QPS, p.load.Mean, p.load.Lost, p.load.Sent)
	}
	fmt.Printf("poll queries retried after a 500 ms timeout: %d\n", p.retries)
	return p, nil
}

// loadResult is what the dnsperf run of a loaded phase reported.
type loadResult struct {
	res loadtest.Result
	err error
}

// startLoad runs dnsperf against srv until ctx ends, with the rows' A names
// as its questions; what it reported arrives on done.
func startLoad(ctx context.Context, srv *loadtest.Server, rows []*row, l loadOpts, dir string, done chan<- loadResult) error {
	var q strings.Builder
	for _, r := range rows {
		fmt.Fprintf(&q, "%s A\n", r.qname())
	}
	file := filepath.Join(dir, "load.queries")
	if err := os.WriteFile(file, []byte(q.String()), 0o644); err != nil {
		return err
	}
	ap, err := netip.ParseAddrPort(srv.Addr)
	if err != nil {
		return err
	}
	d := loadtest.Dnsperf{Server: ap.Addr().String(), Port: int(ap.Port()), QueryFile: file, Duration: time.Hour,
		Outstanding: l.outstanding, CPU: l.loadCPU}
	go func() {
		res, err := d.Run(ctx)
		done <- loadResult{res, err}
	}()
	return nil
}

// compare prints kill-to-answer-change without and with load side by side.
func compare(ps []phase, rows []*row) {
	fmt.Println()
	fmt.Println("kill-to-answer-change without load vs with hadns's core saturated by dnsperf")
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(w, "check\tp50 idle\tp99 idle\tp50 loaded\tp99 loaded\tdetection bound\t\n")
	for _, r := range rows {
		idle, loaded := ps[0].kills[r.name], ps[1].kills[r.name]
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t\n", r.name, ms(loadtest.Quantile(idle, 0.5)), ms(loadtest.Quantile(idle, 0.99)),
			ms(loadtest.Quantile(loaded, 0.5)), ms(loadtest.Quantile(loaded, 0.99)), ms(r.spec.WithDefaults().DetectionBound()))
	}
	w.Flush()
	fmt.Printf("load: %.0f queries/s answered meanwhile (mean latency %v, %d lost)\n", ps[1].load.QPS, ps[1].load.Mean, ps[1].load.Lost)
}

func zone(rows []*row, port, ttl int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "origin: %s\nsoa: {mname: ns1.%s, rname: hostmaster.%s, serial: 1}\nns: [ns1]\nrecords: |\n  ns1 A 127.0.0.1\nservices:\n",
		zoneOrigin, zoneOrigin, zoneOrigin)
	for _, r := range rows {
		fmt.Fprintf(&b, "  - name: %s\n    ttl: %d\n    port: %d\n    check: %s\n    backends:\n", r.name, ttl, port, r.check)
		for _, h := range r.hosts {
			fmt.Fprintf(&b, "      - {address: %s, site: a}\n", h)
		}
	}
	return b.String()
}

// measure runs the kills of one row.
func measure(ctx context.Context, addr string, r *row, kills int, poll, observe time.Duration) error {
	c := &dnsClient{addr: addr}
	hosts := r.hosts
	// Start: every backend in the answer.
	if _, err := waitFor(ctx, c, r.qname(), poll, time.Now(), 20*time.Second, func(got []string) bool { return len(got) == len(hosts) }); err != nil {
		return fmt.Errorf("start: not every backend in the answer: %v", err)
	}
	// Nothing killed: every backend should stay in the answer.
	flaps, err := watchFlaps(ctx, c, r.qname(), hosts, poll, observe)
	r.stableFlaps = flaps
	if err != nil {
		return err
	}
	limit := 15 * time.Second // per wait: far beyond any bound
	for i := 0; i < kills && ctx.Err() == nil; i++ {
		victim := r.backends[i%len(r.backends)]
		// Wait a random moment (and watch for flaps), so the kill falls
		// anywhere in the probe schedule.
		settle := time.Duration(rand.Int64N(int64(1500 * time.Millisecond)))
		flaps, err := watchFlaps(ctx, c, r.qname(), hosts, poll, settle)
		r.flaps += flaps
		if err != nil {
			return err
		}

		t0 := time.Now()
		victim.Kill()
		d, err := waitFor(ctx, c, r.qname(), poll, t0, limit, func(got []string) bool { return !slices.Contains(got, victim.Host) })
		switch {
		case ctx.Err() != nil:
			return nil
		case err != nil:
			r.misses++
			fmt.Fprintf(os.Stderr, "%s kill %d (%s): %v\n", r.name, i+1, victim.Host, err)
		default:
			r.kills = append(r.kills, d)
		}

		t1 := time.Now()
		if err := victim.Start(ctx); err != nil {
			return fmt.Errorf("restart %s: %v", victim.Addr, err)
		}
		back, err := waitFor(ctx, c, r.qname(), poll, t1, limit, func(got []string) bool { return len(got) == len(hosts) })
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("restarted %s: not back in the answer: %v", victim.Addr, err)
		}
		r.backs = append(r.backs, back) // restart began → back in the answer
	}
	return nil
}

// watchFlaps polls for d and counts the times the answer went from whole
// to short (a backend of hosts missing) or degraded: when every backend of
// a site goes down at once, fail-open hands them all out again, with an
// Extended DNS Error.
func watchFlaps(ctx context.Context, c *dnsClient, qname string, hosts []string, poll, d time.Duration) (int, error) {
	deadline := time.Now().Add(d)
	flaps, missing := 0, false
	for ctx.Err() == nil && time.Now().Before(deadline) {
		got, degraded, err := c.answer(qname)
		if err != nil {
			return flaps, err
		}
		short := len(got) < len(hosts) || degraded
		if short && !missing {
			flaps++
		}
		missing = short
		time.Sleep(poll)
	}
	return flaps, nil
}

// waitFor polls qname's A answer every poll until done(addresses) holds,
// and returns how long after start that was; an error after limit.
func waitFor(ctx context.Context, c *dnsClient, qname string, poll time.Duration, start time.Time, limit time.Duration, done func([]string) bool) (time.Duration, error) {
	deadline := start.Add(limit)
	var last []string
	var err error
	for ctx.Err() == nil {
		last, err = c.addrs(qname)
		now := time.Now()
		if err == nil && done(last) {
			return now.Sub(start), nil
		}
		if now.After(deadline) {
			return 0, fmt.Errorf("not within %v (last answer %v, %v)", limit, last, err)
		}
		time.Sleep(poll)
	}
	return 0, context.Cause(ctx)
}

type dnsClient struct{ addr string }

// pollRetries counts poll queries sent again after a timeout: under load a
// lost poll adds its timeout to the measured time.
var pollRetries atomic.Int64

// addrs returns qname's A answer, sorted. A lost datagram is retried.
func (c *dnsClient) addrs(qname string) ([]string, error) {
	out, _, err := c.answer(qname)
	return out, err
}

// answer returns qname's A answer, sorted, and whether it is degraded: an
// Extended DNS Error (fallback, fail-open) or the 1 s TTL of a suspect.
func (c *dnsClient) answer(qname string) ([]string, bool, error) {
	m := new(dns.Msg)
	m.SetQuestion(qname, dns.TypeA)
	m.RecursionDesired = false
	m.SetEdns0(1232, false)
	cl := &dns.Client{Net: "udp", Timeout: 500 * time.Millisecond}
	var r *dns.Msg
	var err error
	for try := 0; try < 3; try++ {
		if try > 0 {
			pollRetries.Add(1)
		}
		if r, _, err = cl.Exchange(m, c.addr); err == nil {
			break
		}
	}
	if err != nil {
		return nil, false, err
	}
	if r.Rcode != dns.RcodeSuccess {
		return nil, false, fmt.Errorf("rcode %s", dns.RcodeToString[r.Rcode])
	}
	degraded := false
	if opt := r.IsEdns0(); opt != nil {
		for _, o := range opt.Option {
			if _, ok := o.(*dns.EDNS0_EDE); ok {
				degraded = true
			}
		}
	}
	var out []string
	for _, rr := range r.Answer {
		if a, ok := rr.(*dns.A); ok {
			out = append(out, a.A.String())
			degraded = degraded || a.Hdr.Ttl <= 1
		}
	}
	slices.Sort(out)
	return out, degraded, nil
}

func report(rows []*row, kills, ttl int, observe time.Duration) {
	fmt.Println()
	fmt.Println("kill-to-answer-change: SIGKILL of a backend process → gone from hadns's A answer (polled)")
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(w, "check\tkills\tp50\tp99\tmax\tdetection bound\t+ TTL\tmissed\tflaps (%v idle)\tflaps (between kills)\tdowns logged\tback p50\tback max\t\n", observe)
	for _, r := range rows {
		bound := r.spec.WithDefaults().DetectionBound()
		fmt.Fprintf(w, "%s\t%d/%d\t%s\t%s\t%s\t%s\t%ds\t%d\t%d\t%d\t%d\t%s\t%s\t\n", r.name, len(r.kills), kills,
			ms(loadtest.Quantile(r.kills, 0.50)), ms(loadtest.Quantile(r.kills, 0.99)), ms(loadtest.Quantile(r.kills, 1)),
			ms(bound), ttl, r.misses, r.stableFlaps, r.flaps, r.downs, ms(loadtest.Quantile(r.backs, 0.5)), ms(loadtest.Quantile(r.backs, 1)))
	}
	w.Flush()
	fmt.Println()
	fmt.Println("detection bound: healthcheck.Spec.DetectionBound() at the row's settings (polling kinds: a silent host;")
	fmt.Println("  a refused connect drops the timeout terms: 1.25 s for http; watch: keepalive for a silent host, a crash is seen at once).")
	fmt.Println("+ TTL: what a caching client adds on top (worst-case failover = detection + TTL).")
	fmt.Println("missed: kills not seen within 15 s. flaps: times a backend that was not killed went missing from the")
	fmt.Println("  answer, or the answer degraded (EDE, suspect TTL), while nothing was killed (idle) and in the random")
	fmt.Println("  waits between kills. downs logged: transitions to down in hadns's log; more than kills means")
	fmt.Println("  backends that were never killed were taken out.")
	fmt.Println("back: restart of the process → back in the answer (rise probes).")
}

// countDowns counts the health transitions to down hadns logged for the
// service qname ("health: service NAME backend ADDR site S: up -> down").
func countDowns(log, qname string) int {
	n := 0
	for _, line := range strings.Split(log, "\n") {
		if strings.Contains(line, "health: service "+qname+" backend ") && strings.Contains(line, "-> down") {
			n++
		}
	}
	return n
}

func ms(d time.Duration) string {
	if d == 0 {
		return "-"
	}
	return fmt.Sprintf("%.0fms", float64(d)/float64(time.Millisecond))
}

// startServer writes the zone and a Corefile into dir and starts hadns on a
// free loopback port (pinned to cpu with taskset; -1: not pinned), retrying
// on a port race; it returns when the server answers.
func startServer(ctx context.Context, bin, dir, zoneText string, cpu int) (*loadtest.Server, error) {
	if err := os.WriteFile(filepath.Join(dir, "failover.test.yaml"), []byte(zoneText), 0o644); err != nil {
		return nil, err
	}
	corefile := func(port int) string {
		return fmt.Sprintf("%s:%d {\n    bind 127.0.0.1\n    errors\n    hadns {\n        zone failover.test.yaml\n        reload 0\n    }\n}\n", zoneOrigin, port)
	}
	return loadtest.StartServer(ctx, bin, dir, corefile, zoneOrigin, cpu)
}
