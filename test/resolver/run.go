package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/miekg/dns"
)

// Polling: the clients ask through the resolver every clientPoll, as the
// brief of this measurement says; the nameservers are asked directly every
// authPoll, to time each one's own detection.
const (
	clientPoll = 100 * time.Millisecond
	authPoll   = 50 * time.Millisecond
)

// budget is the service's row of `hadns check`.
type budget struct {
	detection, ttl, worst time.Duration
}

// placement is the answer one client got through the resolver.
type placement struct {
	mode, client, qtype string
	answer              []string
	ttl                 uint32
	site, want          string
}

// step kills one backend while some clients watch their answers.
type step struct {
	victim    string
	observers []string // the sites of the clients that watch
}

// plan is the order of kills in a mode. Without ECS every client gets the
// resolver's site (east), so both watch east's backends die; with ECS each
// client watches its own site's. The last kill of east's last backend makes
// its clients fail over to west.
func plan(ecs bool) []step {
	if !ecs {
		both := []string{"east", "west"}
		return []step{{"127.0.1.1", both}, {"127.0.1.2", both}, {"127.0.1.3", both}}
	}
	return []step{
		{"127.0.1.1", []string{"east"}},
		{"127.0.1.2", []string{"east"}},
		{"127.0.2.1", []string{"west"}},
		{"127.0.2.2", []string{"west"}},
		{"127.0.1.3", []string{"east"}},
	}
}

// wantSite is where a client of site client must be placed: without ECS the
// resolver's own address decides for everyone; with ECS, the client's.
func wantSite(ecs bool, client string) string {
	if !ecs {
		return siteOf(netip.MustParseAddr(resolverAddr))
	}
	return client
}

// sitesOf names the sites of an answer's addresses ("east", "east+west"),
// or "none".
func sitesOf(as []string) string {
	var names []string
	for _, a := range as {
		ip, err := netip.ParseAddr(a)
		if err != nil {
			continue
		}
		if n := siteOf(ip); n != "" && !slices.Contains(names, n) {
			names = append(names, n)
		}
	}
	if len(names) == 0 {
		return "none"
	}
	slices.Sort(names)
	return strings.Join(names, "+")
}

// observation is what one client saw after a kill.
type observation struct {
	client    string
	seen      time.Duration // kill → first answer without the victim; <0: never
	ttlAtKill uint32        // TTL of the first answer after the kill: what the resolver's cache had left
	refetched []uint32      // TTLs of answers the resolver fetched anew after the kill that still held the victim
	after     []string      // the first answer without it
	ttlAfter  uint32
	queries   int
	timeouts  int      // queries that got no reply within a second
	failures  []string // replies with an error rcode (SERVFAIL...)
}

// stepResult is one kill's figures.
type stepResult struct {
	mode    string
	victim  string
	wait    time.Duration   // random wait before the kill, while clients polled
	detect  []time.Duration // per nameserver: kill → first direct answer without the victim; <0: never
	obs     []observation
	pre     []string // problems before the kill (the victim missing from an answer)
	limited time.Duration
}

// run sets up the lab, checks placement and measures failover in both
// modes, and prints the figures. It returns false when a rule was broken.
func run(ctx context.Context, o options) (bool, error) {
	seed := o.seed
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	rng := rand.New(rand.NewPCG(seed, 0))
	started := time.Now()
	fmt.Printf("resolver: two hadns nameservers behind unbound (seed %d)\n", seed)

	l, err := startLab(ctx, o)
	if l != nil {
		defer l.stop()
	}
	if err != nil {
		return false, fmt.Errorf("%w\n%s", err, l.logs())
	}
	ver, _ := exec.Command(o.unbound, "-V").Output()
	fmt.Printf("unbound %s: cache-min-ttl %d, no prefetch, no serve-expired; ECS off: module-config \"iterator\"; ECS on: \"subnetcache iterator\", the client's /24 sent to both nameservers\n",
		strings.TrimPrefix(strings.SplitN(string(ver), "\n", 2)[0], "Version "), o.cacheMinTTL)

	out, err := exec.CommandContext(ctx, o.bin, "check", "-conf", filepath.Join(l.dir, "Corefile.ns1")).CombinedOutput()
	if err != nil {
		return false, fmt.Errorf("hadns check: %v\n%s", err, out)
	}
	b, err := parseBudget(string(out), serviceName)
	if err != nil {
		return false, err
	}
	fmt.Printf("%s: detection bound %v + TTL %v = worst case %v; allowed through the resolver: %v (margin %v)\n",
		serviceName, b.detection, b.ttl, b.worst, b.worst+o.margin, o.margin)

	var places []placement
	var steps []stepResult
	for _, ecs := range []bool{false, true} {
		p, s, err := runMode(ctx, l, ecs, rng, b, b.worst+o.margin)
		places = append(places, p...)
		steps = append(steps, s...)
		if err != nil {
			logs := l.logs()
			l.dumpServers()
			return false, fmt.Errorf("%s: %w\n%s", modeName(ecs), err, logs)
		}
	}

	fails := report(os.Stdout, places, steps, b, o.margin)
	fmt.Printf("\n%d checks failed; %v in all\n", len(fails), time.Since(started).Round(time.Second))
	for _, f := range fails {
		fmt.Println("FAIL:", f)
	}
	if len(fails) > 0 {
		fmt.Print(l.logs())
		return false, nil
	}
	fmt.Println("PASS: placement as expected in both modes; every client saw every kill within detection + TTL + margin")
	return true, nil
}

// runMode starts unbound in one mode, checks placement, runs the mode's
// kills, then brings every backend back.
func runMode(ctx context.Context, l *lab, ecs bool, rng *rand.Rand, b budget, allowed time.Duration) ([]placement, []stepResult, error) {
	mode := modeName(ecs)
	if err := l.startResolver(ctx, ecs); err != nil {
		return nil, nil, err
	}
	defer l.stopResolver(ecs)

	var places []placement
	for _, s := range sites {
		r, err := queryResolver(s.client, serviceName, dns.TypeA)
		if err != nil {
			return places, nil, fmt.Errorf("client %s: %s A: %w", s.client, serviceName, err)
		}
		as := addrs(r)
		places = append(places, placement{mode: mode, client: s.name, qtype: "A", answer: as, ttl: minTTL(r),
			site: sitesOf(as), want: wantSite(ecs, s.name)})

		// SRV carries every site, each a priority tier: the client's
		// site must be the first tier.
		r, err = queryResolver(s.client, srvName, dns.TypeSRV)
		if err != nil {
			return places, nil, fmt.Errorf("client %s: %s SRV: %w", s.client, srvName, err)
		}
		first := firstTier(r)
		places = append(places, placement{mode: mode, client: s.name, qtype: "SRV", answer: first, ttl: answerTTL(r),
			site: sitesOf(first), want: wantSite(ecs, s.name)})
	}

	// Kill anywhere in the cache lifetime of the answer the resolver
	// holds: a random wait of up to the service's TTL, or the resolver's
	// TTL floor when that is longer. Wait for the change for 10 s past
	// the allowed time, or past the floor, so late changes are measured
	// rather than cut off.
	life := max(b.ttl, time.Duration(l.o.cacheMinTTL)*time.Second)
	limit := max(allowed, life+b.detection) + 10*time.Second
	var results []stepResult
	for _, st := range plan(ecs) {
		wait := time.Duration(rng.Int64N(int64(life)))
		res, err := l.step(ctx, mode, st, wait, limit)
		results = append(results, res)
		fmt.Fprintf(os.Stderr, "%s %s: killed %s after %v; seen %s\n", time.Now().Format("15:04:05"), mode, st.victim,
			wait.Round(10*time.Millisecond), seenList(res))
		if err != nil {
			return places, results, err
		}
	}
	if err := l.restartBackends(ctx); err != nil {
		return places, results, err
	}
	return places, results, l.waitAllUp(ctx)
}

// step polls the observers through the resolver for wait (the victim must
// be in every answer), kills the victim, and then polls the observers
// (every clientPoll) and the nameservers (every authPoll) until each has
// dropped the victim, for at most limit after the kill.
func (l *lab) step(ctx context.Context, mode string, st step, wait, limit time.Duration) (stepResult, error) {
	res := stepResult{mode: mode, victim: st.victim, wait: wait, limited: limit}
	end := time.Now().Add(wait)
	missing := map[string]int{} // observer → answers before the kill without the victim
	for time.Now().Before(end) {
		for _, o := range st.observers {
			r, err := queryResolver(siteByName(o).client, serviceName, dns.TypeA)
			if err == nil && !slices.Contains(addrs(r), st.victim) {
				missing[o]++
			}
		}
		if err := pause(ctx, clientPoll); err != nil {
			return res, err
		}
	}

	for _, o := range st.observers {
		if n := missing[o]; n > 0 {
			res.pre = append(res.pre, fmt.Sprintf("%s client: %s missing from %d answers before the kill", o, st.victim, n))
		}
	}

	t0 := l.kill(st.victim)
	deadline := t0.Add(limit)
	victimNet := siteByName(siteOf(netip.MustParseAddr(st.victim))).net
	var wg sync.WaitGroup
	res.detect = make([]time.Duration, len(nameservers))
	for i, ns := range nameservers {
		wg.Go(func() {
			res.detect[i] = -1
			for time.Now().Before(deadline) && ctx.Err() == nil {
				r, err := queryDirect(ns.addr, victimNet)
				if err == nil && !slices.Contains(addrs(r), st.victim) {
					res.detect[i] = time.Since(t0)
					return
				}
				_ = pause(ctx, authPoll)
			}
		})
	}
	res.obs = make([]observation, len(st.observers))
	for i, name := range st.observers {
		wg.Go(func() {
			ob := observation{client: name, seen: -1}
			src := siteByName(name).client
			var last uint32
			first := true
			for time.Now().Before(deadline) && ctx.Err() == nil {
				r, err := queryResolver(src, serviceName, dns.TypeA)
				ob.queries++
				now := time.Now()
				switch {
				case isTimeout(err):
					ob.timeouts++
				case err != nil:
					ob.failures = append(ob.failures, fmt.Sprintf("%v after the kill: %v", now.Sub(t0).Round(time.Millisecond), err))
				case slices.Contains(addrs(r), st.victim):
					// A TTL above the last one means unbound asked a
					// nameserver again (a cached answer's TTL only
					// falls) and still got the victim: a nameserver had
					// not seen it die yet, or held it as suspect (TTL 1).
					ttl := minTTL(r)
					if first {
						ob.ttlAtKill, first = ttl, false
					} else if ttl > last {
						ob.refetched = append(ob.refetched, ttl)
					}
					last = ttl
				default:
					if first {
						ob.ttlAtKill = 0
					}
					ob.seen, ob.after, ob.ttlAfter = now.Sub(t0), addrs(r), minTTL(r)
					res.obs[i] = ob
					return
				}
				_ = pause(ctx, clientPoll)
			}
			res.obs[i] = ob
		})
	}
	wg.Wait()
	return res, context.Cause(ctx)
}

// seenList is each observer's kill-to-change time, for progress lines.
func seenList(res stepResult) string {
	var out []string
	for _, ob := range res.obs {
		out = append(out, ob.client+" "+fmtDur(ob.seen))
	}
	return strings.Join(out, ", ")
}

// pause waits d, or less if ctx ends.
func pause(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return context.Cause(ctx)
	case <-t.C:
		return nil
	}
}

// report prints the placement and failover tables and returns every rule
// broken.
func report(w io.Writer, places []placement, steps []stepResult, b budget, margin time.Duration) []string {
	var fails []string
	allowed := b.worst + margin

	fmt.Fprintf(w, "\nplacement: %s A, and the first tier of %s SRV, through unbound (listening and sending from %s, in site %s)\n",
		serviceName, srvName, resolverAddr, siteOf(netip.MustParseAddr(resolverAddr)))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "MODE\tCLIENT\tFROM\tTYPE\tANSWER\tTTL\tSITE\tWANT")
	for _, p := range places {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\n", p.mode, p.client, siteByName(p.client).client, p.qtype,
			strings.Join(p.answer, " "), p.ttl, p.site, p.want)
		if p.site != p.want {
			fails = append(fails, fmt.Sprintf("%s: %s: client in site %s placed in %s, want %s", p.mode, p.qtype, p.client, p.site, p.want))
		}
	}
	tw.Flush()

	fmt.Fprintf(w, "\nfailover: kill a backend (SIGKILL) → first answer without it; clients through unbound every %v, nameservers directly every %v\n", clientPoll, authPoll)
	fmt.Fprintln(w, "(WAIT: random wait before the kill; NS1/NS2: each nameserver's own detection; SEEN: the client's first answer without the backend;")
	fmt.Fprintln(w, " HELD: SEEN minus the first nameserver's detection, time spent in the resolver's cache; TTL: the cached answer's TTL left at the kill → the new answer's;")
	fmt.Fprintln(w, " REFETCH: TTLs of answers unbound fetched again after the kill that still held the backend, 1 = suspect)")
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "MODE\tKILLED\tCLIENT\tWAIT\tNS1\tNS2\tSEEN\tHELD\tTTL\tREFETCH\tANSWER AFTER\tQUERIES\tTIMEOUTS\tERRORS")
	seen := map[string][]time.Duration{}
	for _, s := range steps {
		fails = append(fails, prefixed(s.mode+": "+s.victim+": ", s.pre)...)
		first := time.Duration(-1)
		for i, d := range s.detect {
			if d < 0 {
				fails = append(fails, fmt.Sprintf("%s: %s: %s still handed it out %v after the kill", s.mode, s.victim, nameservers[i].name, s.limited))
			} else if first < 0 || d < first {
				first = d
			}
		}
		for _, ob := range s.obs {
			held := "-"
			if ob.seen >= 0 && first >= 0 {
				held = fmtDur(ob.seen - first)
			}
			ttls := "-"
			if ob.seen >= 0 {
				ttls = fmt.Sprintf("%d→%d", ob.ttlAtKill, ob.ttlAfter)
			} else if ob.queries > 0 {
				ttls = fmt.Sprintf("%d→", ob.ttlAtKill)
			}
			refetch := "-"
			if len(ob.refetched) > 0 {
				refetch = strings.Trim(fmt.Sprint(ob.refetched), "[]")
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t%d\t%d\n", s.mode, s.victim, ob.client,
				fmtDur(s.wait), fmtDur(s.detect[0]), fmtDur(s.detect[1]), fmtDur(ob.seen), held,
				ttls, refetch, strings.Join(ob.after, " "), ob.queries, ob.timeouts, len(ob.failures))
			if ob.seen >= 0 {
				seen[s.mode] = append(seen[s.mode], ob.seen)
			}
			switch {
			case ob.seen < 0:
				fails = append(fails, fmt.Sprintf("%s: %s: the %s client still got it %v after the kill (allowed %v)", s.mode, s.victim, ob.client, s.limited, allowed))
			case ob.seen > allowed:
				fails = append(fails, fmt.Sprintf("%s: %s: the %s client saw the change after %v, allowed %v (worst case %v + margin %v)",
					s.mode, s.victim, ob.client, fmtDur(ob.seen), allowed, b.worst, margin))
			}
			fails = append(fails, prefixed(fmt.Sprintf("%s: %s: %s client: ", s.mode, s.victim, ob.client), ob.failures)...)
		}
	}
	tw.Flush()

	fmt.Fprintln(w)
	for _, mode := range []string{"ecs-off", "ecs-on"} {
		d := seen[mode]
		if len(d) == 0 {
			continue
		}
		slices.Sort(d)
		var sum time.Duration
		for _, x := range d {
			sum += x
		}
		over := 0
		for _, x := range d {
			if x > allowed {
				over++
			}
		}
		fmt.Fprintf(w, "%s: %d changes seen, kill → client sees it: min %s, mean %s, max %s; %d over the allowed %v (worst case %v)\n",
			mode, len(d), fmtDur(d[0]), fmtDur(sum/time.Duration(len(d))), fmtDur(d[len(d)-1]), over, allowed, b.worst)
	}
	return fails
}

// isTimeout reports whether a query got no reply in time (a lost
// datagram or a busy machine: counted, not a failure).
func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func prefixed(prefix string, msgs []string) []string {
	var out []string
	for _, m := range msgs {
		out = append(out, prefix+m)
	}
	return out
}

// fmtDur prints a duration in seconds with two decimals, "never" below 0.
func fmtDur(d time.Duration) string {
	if d < 0 {
		return "never"
	}
	return fmt.Sprintf("%.2fs", d.Seconds())
}
