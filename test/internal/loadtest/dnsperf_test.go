package loadtest

import (
	"slices"
	"strings"
	"testing"
	"time"
)

// A run of dnsperf 2.10.0 (Debian bookworm) with -v, cut short.
const dnsperfOutput = `DNS Performance Testing Tool
Version 2.10.0

[Status] Command line: dnsperf -s 127.0.0.1 -p 15353 -d q.txt -l 2 -c 4 -q 200 -v
[Status] Sending queries (to 127.0.0.1:15353)
[Status] Started at: Sun Nov 22 01:03:52 2026
[Status] Stopping after 2.000000 seconds
> NOERROR api.bench.test A 0.000439
> NXDOMAIN nope.bench.test A 0.000225
> T api.bench.test A
> NOERROR api.bench.test A 0.003846
[Status] Testing complete (time limit)

Statistics:

  Queries sent:         76030
  Queries completed:    76029 (100.00%)
  Queries lost:         1 (0.00%)

  Response codes:       NOERROR 38015 (50.00%), NXDOMAIN 38014 (50.00%)
  Average packet size:  request 32, response 122
  Run time (s):         2.003857
  Queries per second:   37941.829182

  Average Latency (s):  0.005206 (min 0.000036, max 0.020975)
  Latency StdDev (s):   0.002139

`

func TestParseDnsperf(t *testing.T) {
	r, err := ParseDnsperf(strings.NewReader(dnsperfOutput))
	if err != nil {
		t.Fatal(err)
	}
	if r.Sent != 76030 || r.Completed != 76029 || r.Lost != 1 {
		t.Errorf("sent/completed/lost = %d/%d/%d, want 76030/76029/1", r.Sent, r.Completed, r.Lost)
	}
	if r.QPS < 37941.8 || r.QPS > 37941.9 {
		t.Errorf("QPS = %v, want 37941.83", r.QPS)
	}
	if r.Mean != 5206*time.Microsecond || r.Min != 36*time.Microsecond || r.Max != 20975*time.Microsecond {
		t.Errorf("mean/min/max = %v/%v/%v", r.Mean, r.Min, r.Max)
	}
	if r.StdDev != 2139*time.Microsecond {
		t.Errorf("stddev = %v", r.StdDev)
	}
	if r.RunTime < 2003*time.Millisecond || r.RunTime > 2004*time.Millisecond {
		t.Errorf("run time = %v", r.RunTime)
	}
	if r.Rcodes["NOERROR"] != 38015 || r.Rcodes["NXDOMAIN"] != 38014 {
		t.Errorf("rcodes = %v", r.Rcodes)
	}
	want := []time.Duration{225 * time.Microsecond, 439 * time.Microsecond, 3846 * time.Microsecond}
	if !slices.Equal(r.Latencies, want) {
		t.Errorf("latencies = %v, want %v (sorted, timeout left out)", r.Latencies, want)
	}
	if r.P99() != 3846*time.Microsecond {
		t.Errorf("p99 = %v", r.P99())
	}
}

func TestParseDnsperfErrors(t *testing.T) {
	for name, out := range map[string]string{
		"no statistics": "DNS Performance Testing Tool\n[Fatal] unable to open file\n",
		"bad number":    "Queries sent:  many\n",
		"bad average":   "Queries sent: 1\n  Average Latency (s):  0.1 (min 0.0)\n",
	} {
		if _, err := ParseDnsperf(strings.NewReader(out)); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestArgs(t *testing.T) {
	d := Dnsperf{Server: "127.0.0.1", Port: 5300, QueryFile: "q", Duration: 1500 * time.Millisecond, CPU: 1, Latencies: true}
	got := strings.Join(d.Args(), " ")
	want := "taskset -c 1 dnsperf -s 127.0.0.1 -p 5300 -d q -l 2 -c 4 -q 200 -t 2 -v"
	if got != want {
		t.Errorf("args = %q, want %q", got, want)
	}
	d.CPU, d.Latencies = -1, false
	if got := d.Args()[0]; got != "dnsperf" {
		t.Errorf("unpinned: starts with %q", got)
	}
}
