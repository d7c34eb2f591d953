package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/hadns/hadns/test/internal/loadtest"
)

// compareQPS runs dnsperf on the big zone's service A names and on the
// small zone's, alternating, and prints both and their ratio.
func compareQPS(ctx context.Context, c config, srv *server, dir string, big, small shape) error {
	files := map[string]string{}
	for _, z := range []shape{big, small} {
		var q strings.Builder
		for s := 0; s < z.services; s++ {
			fmt.Fprintf(&q, "%s.%s A\n", serviceName(s), z.origin)
		}
		files[z.origin] = filepath.Join(dir, z.origin+"queries")
		if err := os.WriteFile(files[z.origin], []byte(q.String()), 0o644); err != nil {
			return err
		}
	}
	fmt.Printf("\nQPS, service A answers (8 records), hadns on CPU %d, dnsperf on CPU %d (-c %d -q %d), %d rounds of %v\n",
		c.serverCPU, c.loadCPU, c.clients, c.outstanding, c.rounds, c.duration)
	qps := map[string][]float64{}
	var ratios []float64
	for r := 0; r < c.rounds; r++ {
		order := []shape{big, small}
		if r%2 == 1 {
			order = []shape{small, big}
		}
		got := map[string]float64{}
		for _, z := range order {
			d := loadtest.Dnsperf{Server: "127.0.0.1", Port: srv.port, QueryFile: files[z.origin], Duration: c.duration,
				Clients: c.clients, Outstanding: c.outstanding, CPU: c.loadCPU}
			cpu0, err := srv.proc.CPUTime()
			if err != nil {
				return err
			}
			res, err := d.Run(ctx)
			if err != nil {
				return err
			}
			cpu1, err := srv.proc.CPUTime()
			if err != nil {
				return err
			}
			if res.Completed == 0 || res.Rcodes["NOERROR"] != res.Completed {
				return fmt.Errorf("%s: %d answers, rcodes %v", z.origin, res.Completed, res.Rcodes)
			}
			fmt.Printf("  round %d  %-12s %8.0f q/s  mean %v  server CPU %.2f  lost %d\n", r+1, z.origin, res.QPS, res.Mean,
				float64(cpu1-cpu0)/float64(res.RunTime), res.Lost)
			got[z.origin] = res.QPS
			qps[z.origin] = append(qps[z.origin], res.QPS)
		}
		if got[small.origin] > 0 {
			ratios = append(ratios, got[big.origin]/got[small.origin])
		}
	}
	fmt.Printf("  median: big %.0f q/s, small %.0f q/s; big / small %.2f (median of per-round ratios)\n",
		loadtest.Median(qps[big.origin]), loadtest.Median(qps[small.origin]), loadtest.Median(ratios))
	return nil
}
