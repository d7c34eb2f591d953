package main

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/hadns/hadns/test/internal/loadtest"
)

// sample is one dnsperf run against one server.
type sample struct {
	server string
	kind   string
	round  int
	res    loadtest.Result
	cpu    float64 // server CPU cores used during the run
}

// measureRounds runs dnsperf on every server and query kind, -rounds times,
// flipping the servers' order every round so neither always goes first.
func measureRounds(ctx context.Context, c config, servers []*server, files map[string]string) ([]sample, error) {
	var out []sample
	for r := 0; r < c.rounds; r++ {
		order := slices.Clone(servers)
		if r%2 == 1 {
			slices.Reverse(order)
		}
		for _, s := range order {
			for _, kind := range c.types {
				if ctx.Err() != nil {
					return nil, context.Cause(ctx)
				}
				smp, err := measure(ctx, c, s, kind, files[kind])
				if err != nil {
					return nil, err
				}
				smp.round = r
				fmt.Printf("round %d  %-7s %-6s %8.0f q/s  mean %-8s p99 %-8s server CPU %.2f  lost %d\n",
					r+1, s.name, kind, smp.res.QPS, msf(smp.res.Mean), msf(smp.res.P99()), smp.cpu, smp.res.Lost)
				out = append(out, smp)
			}
		}
	}
	return out, nil
}

// measure is one dnsperf run against s, with the server's CPU use.
func measure(ctx context.Context, c config, s *server, kind, file string) (sample, error) {
	d := loadtest.Dnsperf{Server: "127.0.0.1", Port: s.port, QueryFile: file, Duration: c.duration,
		Clients: c.clients, Outstanding: c.outstanding, CPU: c.loadCPU, Latencies: true}
	cpu0, err := s.proc.CPUTime()
	if err != nil {
		return sample{}, err
	}
	t0 := time.Now()
	res, err := d.Run(ctx)
	wall := time.Since(t0)
	if err != nil {
		return sample{}, fmt.Errorf("%s %s: %w", s.name, kind, err)
	}
	cpu1, err := s.proc.CPUTime()
	if err != nil {
		return sample{}, err
	}
	if res.Completed == 0 {
		return sample{}, fmt.Errorf("%s %s: no query answered", s.name, kind)
	}
	if n := res.Rcodes["NOERROR"]; n != res.Completed {
		return sample{}, fmt.Errorf("%s %s: %d of %d answers not NOERROR: %v", s.name, kind, res.Completed-n, res.Completed, res.Rcodes)
	}
	return sample{server: s.name, kind: kind, res: res, cpu: float64(cpu1-cpu0) / float64(wall)}, nil
}

// report prints per kind and server the medians over rounds, then the
// ratios hadns / CoreDNS (median of the per-round ratios).
func report(w io.Writer, c config, samples []sample) {
	fmt.Fprintf(w, "\n%d rounds of %v per server and kind; median over rounds\n", c.rounds, c.duration)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "kind\tserver\tQPS\tmean\tp99\tserver CPU\tlost\tQPS per round\t\n")
	for _, kind := range c.types {
		for _, srv := range []string{"hadns", "coredns"} {
			ss := pick(samples, srv, kind)
			var qps, cpu []float64
			var mean, p99 []time.Duration
			var per []string
			lost := 0
			for _, s := range ss {
				qps = append(qps, s.res.QPS)
				cpu = append(cpu, s.cpu)
				mean = append(mean, s.res.Mean)
				p99 = append(p99, s.res.P99())
				per = append(per, fmt.Sprintf("%.0f", s.res.QPS))
				lost += s.res.Lost
			}
			fmt.Fprintf(tw, "%s\t%s\t%.0f\t%s\t%s\t%.2f\t%d\t%s\t\n", kind, srv, loadtest.Median(qps),
				msf(loadtest.MedianDuration(mean)), msf(loadtest.MedianDuration(p99)), loadtest.Median(cpu), lost, strings.Join(per, " "))
		}
	}
	tw.Flush()
	fmt.Fprintf(w, "\nhadns / CoreDNS (median of per-round ratios)\n")
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "kind\tQPS\tmean latency\tp99 latency\t\n")
	for _, kind := range c.types {
		r := ratios(samples, kind)
		fmt.Fprintf(tw, "%s\t%.2f\t%.2f\t%.2f\t\n", kind, r.qps, r.mean, r.p99)
	}
	tw.Flush()
	fmt.Fprintln(w, "\nQPS: answers per second with dnsperf keeping the server busy; latency includes the time queued")
	fmt.Fprintln(w, "behind the other queries in flight (-outstanding). server CPU near 1.00: the server's core was saturated.")
}

func pick(samples []sample, server, kind string) []sample {
	var out []sample
	for _, s := range samples {
		if s.server == server && s.kind == kind {
			out = append(out, s)
		}
	}
	return out
}

type ratio struct{ qps, mean, p99 float64 }

// ratios pairs each round's hadns and CoreDNS runs of kind and returns the
// median of their ratios.
func ratios(samples []sample, kind string) ratio {
	var qps, mean, p99 []float64
	for _, h := range pick(samples, "hadns", kind) {
		for _, c := range pick(samples, "coredns", kind) {
			if c.round != h.round {
				continue
			}
			qps = append(qps, div(h.res.QPS, c.res.QPS))
			mean = append(mean, div(float64(h.res.Mean), float64(c.res.Mean)))
			p99 = append(p99, div(float64(h.res.P99()), float64(c.res.P99())))
		}
	}
	return ratio{loadtest.Median(qps), loadtest.Median(mean), loadtest.Median(p99)}
}

func div(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}

// msf formats a latency in milliseconds with two decimals.
func msf(d time.Duration) string {
	return fmt.Sprintf("%.2fms", float64(d)/float64(time.Millisecond))
}
