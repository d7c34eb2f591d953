// Command chaos runs the real hadns binary under steady query load while it
// crashes and restarts backends and whole sites at random, records every
// answer with its time, and fails when an answer breaks a promise:
//
//   - every query gets a NOERROR answer with at least one backend (no
//     SERVFAIL, no timeout, no empty answer);
//   - no answer holds a backend that has been dead longer than the check's
//     detection bound (healthcheck.Spec.DetectionBound) + one interval;
//   - an answer to a client whose own site has had a backend alive for longer
//     than rise × interval (+ a margin, -margin) holds a backend of that site.
//
// Three sites (a, b, c) of four backends each: `hadns demo` processes on
// 127.0.71.1-4, 127.0.72.1-4 and 127.0.73.1-4, each site falling back to the
// other two. One service with A and SRV answers, checked over HTTP with a
// fast check (interval 300 ms, timeout 200 ms) so a minute holds many
// events. Clients send from inside each site's network (127.0.7x.100,
// 127.0.7x.101) and, for each site, one client outside every network whose
// ECS option names the site. The load is half of the capacity measured
// closed-loop for -calibrate before the run (or -qps).
//
// The driver's events come from a seeded generator (-seed, printed): at most
// one whole site and three single backends down at once, so some backend is
// always healthy. Loopback only, no root; bounded by -duration and -events,
// and stops by itself.
//
//	go run ./test/chaos -duration 60s
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
	"sort"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/miekg/dns"

	"github.com/hadns/hadns/healthcheck"
	"github.com/hadns/hadns/test/internal/loadtest"
)

const (
	zoneOrigin = "chaos.test."
	zoneFile   = "chaos.test.yaml"
	qname      = "api." + zoneOrigin
	srvName    = "_http._tcp.api." + zoneOrigin
)

var siteNames = []string{"a", "b", "c"}

// spec is the check every backend gets: fast, so a minute holds many events.
var spec = healthcheck.Spec{Kind: "http", Path: "/healthz", Interval: 300 * time.Millisecond, Timeout: 200 * time.Millisecond, Rise: 2, Fall: 2}

func main() {
	bin := flag.String("bin", os.Getenv("HADNS_BIN"), "hadns binary (default $HADNS_BIN, else build one)")
	duration := flag.Duration("duration", 60*time.Second, "length of the loaded run (events stop early enough to recover inside it)")
	seed := flag.Uint64("seed", 0, "seed of the event generator (default: from the clock; printed)")
	events := flag.Int("events", 60, "most kills (single backends and whole sites)")
	qps := flag.Float64("qps", 0, "queries per second in total (default: half the capacity measured with -calibrate)")
	maxQPS := flag.Float64("max-qps", 20000, "upper limit of the measured load, to bound memory")
	calibrate := flag.Duration("calibrate", 3*time.Second, "closed-loop capacity measurement before the run")
	margin := flag.Duration("margin", 100*time.Millisecond, "processing margin added to rise × interval for the own-site rule")
	timeout := flag.Duration("timeout", 2*time.Second, "a query without reply for this long is a timeout")
	flag.Parse()
	if *seed == 0 {
		*seed = uint64(time.Now().UnixNano())
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, *duration+2*time.Minute) // start-up, calibration and checks included
	defer cancel()

	ok, err := run(ctx, config{
		bin: *bin, duration: *duration, seed: *seed, events: *events, qps: *qps, maxQPS: *maxQPS,
		calibrate: *calibrate, margin: *margin, timeout: *timeout,
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "chaos:", err)
		os.Exit(1)
	}
	if !ok {
		os.Exit(1)
	}
}

type config struct {
	bin               string
	duration          time.Duration
	seed              uint64
	events            int
	qps, maxQPS       float64
	calibrate, margin time.Duration
	timeout           time.Duration
}

func run(ctx context.Context, cfg config) (bool, error) {
	fmt.Printf("seed %d (rerun with -seed %d)\n", cfg.seed, cfg.seed)
	dir, err := os.MkdirTemp("", "hadns-chaos-")
	if err != nil {
		return false, err
	}
	defer os.RemoveAll(dir)
	bin := cfg.bin
	if bin == "" {
		bin = filepath.Join(dir, "hadns")
		fmt.Println("building hadns ...")
		out, err := exec.CommandContext(ctx, "go", "build", "-o", bin, "github.com/hadns/hadns/cmd/hadns").CombinedOutput()
		if err != nil {
			return false, fmt.Errorf("go build: %v\n%s", err, out)
		}
	}
	if bin, err = filepath.Abs(bin); err != nil {
		return false, err
	}

	// Backends: 127.0.71.1-4 in site a, 127.0.72.x in b, 127.0.73.x in c.
	var hosts []string
	var siteOf []int
	for s := range siteNames {
		for i := 1; i <= 4; i++ {
			hosts = append(hosts, fmt.Sprintf("127.0.%d.%d", 71+s, i))
			siteOf = append(siteOf, s)
		}
	}
	port, bs, err := loadtest.StartDemos(ctx, bin, hosts, 0)
	defer func() {
		for _, b := range bs {
			b.Kill()
		}
	}()
	if err != nil {
		return false, err
	}
	srv, err := startServer(ctx, bin, dir, zone(hosts, siteOf, port), corefile())
	if err != nil {
		return false, err
	}
	defer srv.Stop()

	nm := &names{byAddr: map[netip.Addr]int{}, byTarget: map[string]int{}}
	for i, h := range hosts {
		a := netip.MustParseAddr(h)
		nm.byAddr[a] = i
		nm.byTarget[strings.ReplaceAll(h, ".", "-")+"."+qname] = i
	}
	clients := makeClients()
	var ws []*worker
	for i, c := range clients {
		w, err := newWorker(i, c, srv.Addr, qname, srvName)
		if err != nil {
			return false, err
		}
		defer w.conn.Close()
		ws = append(ws, w)
	}

	// Every backend in the SRV answer before anything else.
	if err := waitAll(ctx, ws[0], len(hosts), nm); err != nil {
		return false, fmt.Errorf("start: %v\nhadns output:\n%s", err, srv.Out.String())
	}
	bound := spec.WithDefaults().DetectionBound()
	r := rules{
		deadBound: bound + spec.Interval,
		upBound:   time.Duration(spec.WithDefaults().Rise)*spec.Interval + cfg.margin,
	}
	fmt.Printf("hadns on %s; 3 sites × 4 backends on port %d; %d clients (%d with ECS)\n", srv.Addr, port, len(clients), len(siteNames))
	fmt.Printf("check: http every %v, timeout %v, rise %d, fall %d; detection bound %v\n",
		spec.Interval, spec.Timeout, spec.WithDefaults().Rise, spec.WithDefaults().Fall, bound)
	fmt.Printf("rules: no backend dead longer than %v (bound + interval); own site once a backend is alive %v (rise × interval + %v margin)\n",
		r.deadBound, r.upBound, cfg.margin)

	qps := cfg.qps
	if qps == 0 {
		capacity, bad := measureCapacity(ctx, ws, cfg.calibrate, cfg.timeout, nm)
		qps = min(capacity/2, cfg.maxQPS)
		fmt.Printf("capacity: %.0f answers/s closed-loop over %v (%d not NOERROR); load: %.0f queries/s\n", capacity, cfg.calibrate, bad, qps)
		if bad > 0 {
			return false, fmt.Errorf("%d failed answers while measuring capacity, before any fault", bad)
		}
	} else {
		fmt.Printf("load: %.0f queries/s\n", qps)
	}

	// The run: load from t0 for duration; kills until there is time left for
	// the longest outage and a recovery after it.
	gap := [2]time.Duration{300 * time.Millisecond, 1500 * time.Millisecond}
	hold := [2]time.Duration{1500 * time.Millisecond, 4 * time.Second}
	recovery := 2 * r.upBound
	t0 := time.Now()
	d := &driver{rng: rand.New(rand.NewPCG(cfg.seed, cfg.seed^0x9e3779b97f4a7c15)), backends: bs, siteOf: siteOf,
		sites: len(siteNames), t0: t0, down: make([]bool, len(bs)), siteDown: -1}
	loadCtx, stopLoad := context.WithDeadline(ctx, t0.Add(cfg.duration))
	defer stopLoad()
	answersCh := make(chan []answer, 1)
	go func() { answersCh <- runLoad(loadCtx, ws, qps, t0, cfg.timeout, nm) }()
	lastKill := t0.Add(cfg.duration - hold[1] - hold[0] - recovery)
	driveErr := d.run(ctx, lastKill, cfg.events, gap, hold)
	answers := <-answersCh
	elapsed := time.Since(t0)
	if driveErr != nil {
		return false, driveErr
	}
	if ctx.Err() != nil {
		return false, fmt.Errorf("stopped early: %v", context.Cause(ctx))
	}
	if !srv.Alive() {
		return false, fmt.Errorf("hadns exited during the run:\n%s", srv.Out.String())
	}

	clientSite := make([]int, len(clients))
	for i, c := range clients {
		clientSite[i] = c.site
	}
	res := check(siteOf, clientSite, d.outages, answers, r)
	report(res, d, cfg.seed, bs, clients, elapsed, bound, r.upBound)
	return len(res.violations) == 0 && len(res.undetected) == 0, nil
}

// makeClients: two clients inside each site's network, and one per site
// from outside every network with an ECS option for the site's /24.
func makeClients() []client {
	var cs []client
	for s, name := range siteNames {
		for _, host := range []int{100, 101} {
			src := netip.MustParseAddr(fmt.Sprintf("127.0.%d.%d", 71+s, host))
			cs = append(cs, client{name: src.String(), src: src, site: s})
		}
		ecs := netip.MustParsePrefix(fmt.Sprintf("127.0.%d.0/24", 71+s))
		cs = append(cs, client{name: "ecs " + name, src: netip.MustParseAddr("127.0.70.100"), ecs: ecs, site: s})
	}
	return cs
}

func zone(hosts []string, siteOf []int, port int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "origin: %s\nsoa: {mname: ns1, rname: hostmaster, serial: 1}\nns: [ns1]\nrecords: |\n  ns1 A 127.0.0.1\n", zoneOrigin)
	fmt.Fprintf(&b, "services:\n  - name: api\n    ttl: 10\n    port: %d\n    srv: [_http._tcp]\n", port)
	fmt.Fprintf(&b, "    check: {kind: %s, path: %s, interval: %v, timeout: %v, rise: %d, fall: %d}\n    backends:\n",
		spec.Kind, spec.Path, spec.Interval, spec.Timeout, spec.Rise, spec.Fall)
	for i, h := range hosts {
		fmt.Fprintf(&b, "      - {address: %s, site: %s}\n", h, siteNames[siteOf[i]])
	}
	return b.String()
}

// corefile is a format with one %d: the port.
func corefile() string {
	return zoneOrigin + `:%d {
    bind 127.0.0.1
    errors
    hadns {
        zone ` + zoneFile + `
        reload 0
        site a 127.0.71.0/24 fallback b c
        site b 127.0.72.0/24 fallback c a
        site c 127.0.73.0/24 fallback a b
    }
}
`
}

// waitAll polls SRV answers until one holds every backend (at most 20 s).
func waitAll(ctx context.Context, w *worker, n int, nm *names) error {
	t0 := time.Now()
	var last answer
	for i := 0; i < 200 && ctx.Err() == nil; i++ {
		for j := 0; j < 2; j++ { // the worker alternates A and SRV
			last = w.query(t0, time.Second, nm)
		}
		if last.qtype == dns.TypeSRV && last.rcode == dns.RcodeSuccess && last.backends == 1<<n-1 {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("not every backend in the SRV answer within 20s (last: rcode %d, backends %b)", last.rcode, last.backends)
}

func report(res result, d *driver, seed uint64, bs []*loadtest.Demo, clients []client, elapsed, bound, upBound time.Duration) {
	kills, sites := 0, 0
	for _, e := range d.events {
		if strings.Contains(e, "kill site") {
			sites++
		} else if strings.Contains(e, "kill backend") {
			kills++
		}
	}
	fmt.Println()
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintf(w, "events\t%d backend kills, %d site kills, %d backend outages (seed %d)\n", kills, sites, len(d.outages), seed)
	fmt.Fprintf(w, "answers checked\t%d in %.1fs (%.0f queries/s)\n", res.checked, elapsed.Seconds(), float64(res.checked)/elapsed.Seconds())
	fmt.Fprintf(w, "detection\tp50 %s, p99 %s, max %s over %d outages (kill → first answer without the backend; bound %s)\n",
		ms(loadtest.Quantile(res.detections, 0.5)), ms(loadtest.Quantile(res.detections, 0.99)), ms(loadtest.Quantile(res.detections, 1)), len(res.detections), ms(bound))
	fmt.Fprintf(w, "return\tp50 %s, p99 %s, max %s over %d restarts (listening again → first answer with the backend; own-site rule at %s)\n",
		ms(loadtest.Quantile(res.returns, 0.5)), ms(loadtest.Quantile(res.returns, 0.99)), ms(loadtest.Quantile(res.returns, 1)), len(res.returns), ms(upBound))
	fmt.Fprintf(w, "undetected\t%d\n", len(res.undetected))
	byKind := map[string]int{}
	for _, v := range res.violations {
		byKind[v.kind]++
	}
	var kinds []string
	for k := range byKind {
		kinds = append(kinds, fmt.Sprintf("%s %d", k, byKind[k]))
	}
	sort.Strings(kinds)
	fmt.Fprintf(w, "violations\t%d %s\n", len(res.violations), strings.Join(kinds, ", "))
	w.Flush()
	for i, v := range res.violations {
		if i == 20 {
			fmt.Printf("... and %d more\n", len(res.violations)-20)
			break
		}
		qt := "A"
		if v.a.qtype == dns.TypeSRV {
			qt = "SRV"
		}
		fmt.Printf("VIOLATION %s: %s %s sent %s, reply %s, backends %s: %s\n", v.kind, clients[v.a.client].name, qt,
			ms(v.a.sent), ms(v.a.recv), backendList(v.a.backends, bs), v.what)
	}
	for _, o := range res.undetected {
		fmt.Printf("UNDETECTED: backend %s down %s-%s: no answer without it\n", bs[o.backend].Addr, ms(o.start), ms(o.end))
	}
	if len(res.violations) == 0 && len(res.undetected) == 0 {
		fmt.Println("PASS")
	} else {
		fmt.Println("FAIL")
	}
}

func backendList(mask uint64, bs []*loadtest.Demo) string {
	var out []string
	for i, b := range bs {
		if mask&(1<<i) != 0 {
			out = append(out, b.Host)
		}
	}
	return "[" + strings.Join(out, " ") + "]"
}
