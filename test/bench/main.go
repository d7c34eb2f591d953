// Command bench measures hadns against stock CoreDNS of the same module
// version on the same names: queries per second, mean and p99 latency, for
// service A and SRV questions (and, with -types, static records).
//
// It builds both binaries (or takes -hadns and -coredns), starts loopback
// TCP listeners as the services' backends (all healthy), and serves the
// zone bench.test. twice: hadns from a YAML zone whose services are checked
// by tcp connect, and CoreDNS's file plugin from an RFC 1035 zone holding
// the same static records plus, as static records, exactly the records of
// hadns's service answers. Before measuring it checks that both servers
// give the same records to every question.
//
// Each server is pinned to -server-cpu and dnsperf to -load-cpu (taskset).
// The servers alternate over -rounds rounds (the order flips every round),
// each run -duration long; the table gives the median over rounds, and the
// ratio hadns / CoreDNS is the median of the per-round ratios. The server's
// CPU use during a run (near 1.00 core: saturated) is printed beside it.
// dnsperf 2.10 (Debian bookworm) has no latency histogram, so the p99 comes
// from its per-query -v lines.
//
// With -profile (default on) it then loads hadns with every question kind
// once more and writes a CPU and an allocation profile taken under that load
// into -artifacts, and prints the top of each.
//
// Loopback only; bounded by -timeout and stops by itself.
//
//	go run ./test/bench
//	go run ./test/bench -rounds 5 -duration 20s
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/miekg/dns"

	"github.com/hadns/hadns/test/internal/loadtest"
)

type config struct {
	hadnsBin, corednsBin string
	rounds               int
	duration             time.Duration
	types                []string
	clients, outstanding int
	serverCPU, loadCPU   int
	profile              bool
	profileSeconds       int
	artifacts            string
}

func main() {
	var c config
	var types string
	flag.StringVar(&c.hadnsBin, "hadns", "", "hadns binary (default: build ./cmd/hadns)")
	flag.StringVar(&c.corednsBin, "coredns", "", "stock CoreDNS binary (default: build ./test/bench/coredns)")
	flag.IntVar(&c.rounds, "rounds", 3, "rounds; each runs every server on every query kind")
	flag.DurationVar(&c.duration, "duration", 10*time.Second, "length of one dnsperf run")
	flag.StringVar(&types, "types", "A,SRV", "query kinds, comma-separated: A, SRV (service answers), static (static A records)")
	flag.IntVar(&c.clients, "clients", 4, "dnsperf -c: client sockets")
	flag.IntVar(&c.outstanding, "outstanding", 200, "dnsperf -q: queries in flight")
	flag.IntVar(&c.serverCPU, "server-cpu", 0, "CPU the servers are pinned to (-1: not pinned)")
	flag.IntVar(&c.loadCPU, "load-cpu", 1, "CPU dnsperf is pinned to (-1: not pinned)")
	flag.BoolVar(&c.profile, "profile", true, "after the rounds, profile hadns under load (CPU and allocations)")
	flag.IntVar(&c.profileSeconds, "profile-seconds", 4, "length of the profiles (at most 4: the pprof plugin's HTTP write timeout is 5 s)")
	flag.StringVar(&c.artifacts, "artifacts", "test/artifacts", "where the profiles go")
	timeout := flag.Duration("timeout", 20*time.Minute, "give up after this long")
	flag.Parse()
	c.types = strings.Split(types, ",")

	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, c); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, c config) error {
	svcs := services()
	kinds := queryKinds(svcs)
	for _, t := range c.types {
		if _, ok := kinds[t]; !ok {
			return fmt.Errorf("-types: unknown kind %q (A, SRV, static)", t)
		}
	}
	if c.profileSeconds < 1 || c.profileSeconds > 4 {
		return fmt.Errorf("-profile-seconds %d: want 1 to 4", c.profileSeconds)
	}
	dir, err := os.MkdirTemp("", "hadns-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	for _, b := range []struct {
		bin *string
		pkg string
	}{{&c.hadnsBin, "./cmd/hadns"}, {&c.corednsBin, "./test/bench/coredns"}} {
		if *b.bin == "" {
			*b.bin = filepath.Join(dir, "bin", filepath.Base(b.pkg)) // dir/NAME holds that server's files
			fmt.Printf("building %s ...\n", b.pkg)
			if err := loadtest.Build(b.pkg, *b.bin); err != nil {
				return err
			}
		}
		if *b.bin, err = filepath.Abs(*b.bin); err != nil {
			return err
		}
	}

	// The backends: a listener on each host, its own free port.
	var hosts []string
	for _, s := range svcs {
		for _, h := range s.hosts {
			hosts = append(hosts, h+":0")
		}
	}
	lns, err := loadtest.Listen(hosts)
	if err != nil {
		return fmt.Errorf("backend listeners: %w", err)
	}
	defer lns.Close()
	i := 0
	for _, s := range svcs {
		s.addrs = lns.Addrs[i : i+len(s.hosts)]
		i += len(s.hosts)
	}

	hadns, err := startServer(ctx, "hadns", c.hadnsBin, dir, c.serverCPU, hadnsCorefile,
		map[string]string{"bench.test.yaml": hadnsZone(svcs)})
	if err != nil {
		return err
	}
	defer hadns.proc.Stop()
	if err := waitHealthy(ctx, hadns, svcs); err != nil {
		return err
	}

	// CoreDNS gets hadns's service answers as static records.
	var all []question
	for _, k := range []string{"A", "SRV", "static"} {
		all = append(all, kinds[k].questions...)
	}
	hadnsReplies, err := ask(hadns, all)
	if err != nil {
		return err
	}
	coredns, err := startServer(ctx, "coredns", c.corednsBin, dir, c.serverCPU, corednsCorefile,
		map[string]string{"bench.test.zone": corednsZone(serviceRecords(hadnsReplies[:len(all)-len(kinds["static"].questions)]))})
	if err != nil {
		return err
	}
	defer coredns.proc.Stop()
	corednsReplies, err := ask(coredns, all)
	if err != nil {
		return err
	}
	for i, q := range all {
		if d := sameRecords(hadnsReplies[i], corednsReplies[i]); d != "" {
			return fmt.Errorf("the servers answer %s differently: %s", q, d)
		}
	}
	fmt.Printf("hadns on %s, CoreDNS on %s: the same records for all %d questions; servers on CPU %d, dnsperf on CPU %d (-c %d -q %d)\n",
		hadns.addr, coredns.addr, len(all), c.serverCPU, c.loadCPU, c.clients, c.outstanding)

	files := map[string]string{}
	for _, t := range c.types {
		files[t] = filepath.Join(dir, t+".queries")
		if err := os.WriteFile(files[t], []byte(dnsperfData(kinds[t].questions)), 0o644); err != nil {
			return err
		}
	}
	samples, err := measureRounds(ctx, c, []*server{hadns, coredns}, files)
	if err != nil {
		return err
	}
	report(os.Stdout, c, samples)

	if c.profile {
		mixed := filepath.Join(dir, "mixed.queries")
		if err := os.WriteFile(mixed, []byte(dnsperfData(all)), 0o644); err != nil {
			return err
		}
		if err := profile(ctx, c, hadns, mixed); err != nil {
			return err
		}
	}
	for _, s := range []*server{hadns, coredns} {
		if !s.proc.Alive() {
			return fmt.Errorf("%s exited during the run:\n%s", s.name, s.proc.Out.String())
		}
	}
	return nil
}

// waitHealthy waits until every service answers with its site-a backends
// at the healthy TTL and no Extended DNS Error: every check has passed.
func waitHealthy(ctx context.Context, s *server, svcs []*service) error {
	for _, svc := range svcs {
		_, err := loadtest.WaitAnswer(ctx, s.addr, svc.name+"."+origin, dns.TypeA, 50*time.Millisecond, time.Now(), 30*time.Second,
			func(m *dns.Msg) bool {
				if len(m.Answer) != 2 || m.Answer[0].Header().Ttl != 10 {
					return false
				}
				if opt := m.IsEdns0(); opt != nil {
					for _, o := range opt.Option {
						if _, ok := o.(*dns.EDNS0_EDE); ok {
							return false
						}
					}
				}
				return true
			})
		if err != nil {
			return fmt.Errorf("backends not healthy: %w\n%s", err, s.proc.Out.String())
		}
	}
	return nil
}

// ask queries s without EDNS, as dnsperf does.
func ask(s *server, qs []question) ([]*dns.Msg, error) {
	var out []*dns.Msg
	for _, q := range qs {
		r, err := loadtest.Query(s.addr, q.name, q.qtype, false)
		if err != nil {
			return nil, fmt.Errorf("%s: %s: %w", s.name, q, err)
		}
		if r.Rcode != dns.RcodeSuccess || len(r.Answer) == 0 {
			return nil, fmt.Errorf("%s: %s: rcode %s, %d answers", s.name, q, dns.RcodeToString[r.Rcode], len(r.Answer))
		}
		out = append(out, r)
	}
	return out, nil
}
