package loadtest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Dnsperf says how to run dnsperf (Debian package dnsperf; 2.10 has no
// latency histogram, so per-query latencies come from its -v lines).
type Dnsperf struct {
	Server    string        // address to query, e.g. 127.0.0.1
	Port      int           // port to query
	QueryFile string        // dnsperf data file: "NAME TYPE" per line
	Duration  time.Duration // -l: how long to send
	Clients   int           // -c: sockets (default 4)
	// Outstanding is -q, the most queries in flight (default 200). Enough
	// of them keep the server busy; under saturation the latency dnsperf
	// measures is mostly this queue divided by the server's rate.
	Outstanding int
	CPU         int  // the CPU dnsperf is pinned to with taskset; -1 for none
	Latencies   bool // -v: keep every query's latency for quantiles
}

// Result is what one dnsperf run reported.
type Result struct {
	Sent, Completed, Lost int
	QPS                   float64
	Mean, StdDev          time.Duration
	Min, Max              time.Duration
	RunTime               time.Duration
	// Rcodes counts responses by rcode name (NOERROR, NXDOMAIN, ...).
	Rcodes map[string]int
	// Latencies are every answered query's latency, sorted; only when the
	// run kept them (-v).
	Latencies []time.Duration
}

// P99 is the 99th percentile latency; 0 when latencies were not kept.
func (r Result) P99() time.Duration { return QuantileSorted(r.Latencies, 0.99) }

// Args is dnsperf's command line, with taskset in front when pinned.
func (d Dnsperf) Args() []string {
	clients, outstanding := d.Clients, d.Outstanding
	if clients <= 0 {
		clients = 4
	}
	if outstanding <= 0 {
		outstanding = 200
	}
	secs := max(1, int((d.Duration+time.Second-1)/time.Second))
	args := []string{"dnsperf", "-s", d.Server, "-p", strconv.Itoa(d.Port), "-d", d.QueryFile,
		"-l", strconv.Itoa(secs), "-c", strconv.Itoa(clients), "-q", strconv.Itoa(outstanding), "-t", "2"}
	if d.Latencies {
		args = append(args, "-v")
	}
	if d.CPU >= 0 {
		args = append([]string{"taskset", "-c", strconv.Itoa(d.CPU)}, args...)
	}
	return args
}

// Run runs dnsperf until its time limit, or until ctx ends (then it is
// interrupted and still reports what it measured).
func (d Dnsperf) Run(ctx context.Context) (Result, error) {
	args := d.Args()
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 5 * time.Second
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return Result{}, err
	}
	if err := cmd.Start(); err != nil {
		return Result{}, fmt.Errorf("%s: %w (apt-get install dnsperf)", args[0], err)
	}
	res, perr := ParseDnsperf(out)
	_, _ = io.Copy(io.Discard, out)
	werr := cmd.Wait()
	if perr != nil {
		return res, fmt.Errorf("dnsperf: %w\n%s", perr, stderr.String())
	}
	if werr != nil && ctx.Err() == nil {
		return res, fmt.Errorf("dnsperf: %w\n%s", werr, stderr.String())
	}
	return res, nil
}

// ParseDnsperf reads dnsperf's standard output: the per-query lines of -v
// ("> NOERROR api.bench.test A 0.000439") and the closing statistics.
func ParseDnsperf(r io.Reader) (Result, error) {
	res := Result{Rcodes: map[string]int{}}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	stats := false
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "> ") {
			f := strings.Fields(line)
			if len(f) < 3 {
				continue
			}
			secs, err := strconv.ParseFloat(f[len(f)-1], 64)
			if err != nil || f[1] == "T" { // "> T name type": a timeout
				continue
			}
			res.Latencies = append(res.Latencies, seconds(secs))
			continue
		}
		key, val, ok := strings.Cut(strings.TrimSpace(line), ":")
		if !ok {
			continue
		}
		val = strings.TrimSpace(val)
		var err error
		switch key {
		case "Queries sent":
			stats = true
			res.Sent, err = leadingInt(val)
		case "Queries completed":
			res.Completed, err = leadingInt(val)
		case "Queries lost":
			res.Lost, err = leadingInt(val)
		case "Queries per second":
			res.QPS, err = strconv.ParseFloat(val, 64)
		case "Run time (s)":
			var s float64
			s, err = strconv.ParseFloat(val, 64)
			res.RunTime = seconds(s)
		case "Average Latency (s)":
			err = parseAverage(val, &res)
		case "Latency StdDev (s)":
			var s float64
			s, err = strconv.ParseFloat(val, 64)
			res.StdDev = seconds(s)
		case "Response codes":
			err = parseRcodes(val, res.Rcodes)
		}
		if err != nil {
			return res, fmt.Errorf("parsing %q: %w", line, err)
		}
	}
	if err := sc.Err(); err != nil {
		return res, err
	}
	if !stats {
		return res, errors.New("no statistics in the output")
	}
	slices.Sort(res.Latencies)
	return res, nil
}

// parseAverage reads "0.006154 (min 0.000034, max 0.055775)".
func parseAverage(val string, res *Result) error {
	f := strings.Fields(strings.NewReplacer("(", " ", ")", " ", ",", " ").Replace(val))
	if len(f) != 5 || f[1] != "min" || f[3] != "max" {
		return fmt.Errorf("want MEAN (min MIN, max MAX)")
	}
	var xs [3]float64
	for i, s := range []string{f[0], f[2], f[4]} {
		x, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return err
		}
		xs[i] = x
	}
	res.Mean, res.Min, res.Max = seconds(xs[0]), seconds(xs[1]), seconds(xs[2])
	return nil
}

// parseRcodes reads "NOERROR 48551 (50.00%), NXDOMAIN 48551 (50.00%)".
func parseRcodes(val string, into map[string]int) error {
	for _, part := range strings.Split(val, ",") {
		f := strings.Fields(part)
		if len(f) < 2 {
			continue
		}
		n, err := strconv.Atoi(f[1])
		if err != nil {
			return err
		}
		into[f[0]] += n
	}
	return nil
}

func leadingInt(val string) (int, error) {
	f := strings.Fields(val)
	if len(f) == 0 {
		return 0, errors.New("no number")
	}
	return strconv.Atoi(f[0])
}

func seconds(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }
