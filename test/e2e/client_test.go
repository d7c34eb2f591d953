package e2e

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hadns/hadns/client"
)

// The client test's world: two sites of three real backends (`hadns demo`
// processes), the client in site one, and the fast http check of the
// failover test so that restarts come back within seconds. The client
// itself runs at its defaults.
const (
	clSRV     = "_http._tcp.api.client.test."
	clWorkers = 4                    // concurrent request loops: half keep connections alive, half dial every time
	clPace    = 2 * time.Millisecond // between one worker's requests
	// Every wait is bounded: a phase ends after clPhase, one request after
	// clRequestTimeout, and the loops after clMaxRequests in all.
	clPhase          = 3 * time.Second
	clRequestTimeout = 5 * time.Second
	clMaxRequests    = 100000
)

var (
	clSiteOne = []string{"127.0.81.1", "127.0.81.2", "127.0.81.3"}
	clSiteTwo = []string{"127.0.82.1", "127.0.82.2", "127.0.82.3"}
	clClient  = "127.0.81.100"
)

const clientCorefile = `client.test:{{.Port}} {
    bind 127.0.0.1
    errors
    hadns {
        zone client.test.yaml
        site one 127.0.81.0/24 fallback two
        site two 127.0.82.0/24 fallback one
        reload 0
    }
}
`

func clientZone(port int) string {
	var b strings.Builder
	fmt.Fprintf(&b, `origin: client.test.
soa: {mname: ns1.client.test., rname: hostmaster.client.test., serial: 1}
ns: [ns1]
records: |
  ns1 A 127.0.0.1
services:
  - name: api
    port: %d
    srv: [_http._tcp]
    check: {kind: http, path: /healthz, interval: %v, timeout: %v, fast_interval: %v, rise: %d, fall: %d}
    backends:
`, port, foInterval, foTimeout, foFast, foRise, foFall)
	for _, h := range clSiteOne {
		fmt.Fprintf(&b, "      - {address: %s, site: one}\n", h)
	}
	for _, h := range clSiteTwo {
		fmt.Fprintf(&b, "      - {address: %s, site: two}\n", h)
	}
	return b.String()
}

// clSample is one request's outcome.
type clSample struct {
	took     time.Duration
	err      error
	failover bool // a connection attempt failed, or the request was sent again
}

// TestClientFailover runs the client package against the real server and
// real backend processes: request loops run while one backend, then a
// whole site, is killed and restarted, and then the other site. Not one
// (idempotent) request may fail. The latency that failing over adds is
// logged: p50, p99 and max of the requests that hit a failed target,
// against those that did not.
func TestClientFailover(t *testing.T) {
	port, bs := startDemoSet(t, append(slices.Clone(clSiteOne), clSiteTwo...))
	one, two := bs[:3], bs[3:]
	s := startServer(t, clientCorefile, files{"client.test.yaml": clientZone(port)})

	res := &client.Resolver{
		Nameservers: []string{s.Addr},
		Dial: func(ctx context.Context, network, addr string) (net.Conn, error) {
			d := net.Dialer{LocalAddr: &net.UDPAddr{IP: net.ParseIP(clClient)}}
			if network == "tcp" {
				d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(clClient)}
			}
			return d.DialContext(ctx, network, addr)
		},
	}
	// One Dialer (and so one penalty box) for the process, as an
	// application would have; a Transport with keep-alive and one without,
	// which dials for every request.
	dialer := &client.Dialer{Resolver: res}
	keepAlive := &client.Transport{Dialer: dialer}
	defer keepAlive.CloseIdleConnections()
	noKeepAlive := http.DefaultTransport.(*http.Transport).Clone()
	noKeepAlive.DisableKeepAlives = true
	noKeepAlive.Proxy = nil
	clients := []*http.Client{
		{Transport: keepAlive},
		{Transport: &client.Transport{Dialer: dialer, Base: noKeepAlive}},
	}

	// targets polls the client's own resolver (its cache is what the
	// requests use) until the service has want targets.
	targets := func(what string, want int) {
		t.Helper()
		deadline := time.Now().Add(startTimeout + 15*time.Second) // TTL 10 s included
		var got []client.Target
		var err error
		for i := 0; time.Now().Before(deadline) && i < 1000; i++ {
			ctx, cancel := context.WithTimeout(context.Background(), queryTimeout)
			got, err = res.LookupSRV(ctx, clSRV)
			cancel()
			if err == nil && len(got) == want {
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
		t.Fatalf("%s: the client's view of %s has %v (%v), want %d targets", what, clSRV, got, err, want)
	}
	targets("start", 6)

	var (
		mu      sync.Mutex
		samples []clSample
		phase   = "baseline"
		byPhase = map[string]int{}
		sent    atomic.Int64
	)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := 0; w < clWorkers; w++ {
		wg.Add(1)
		hc := clients[w%len(clients)]
		go func() {
			defer wg.Done()
			tick := time.NewTicker(clPace)
			defer tick.Stop()
			for sent.Add(1) <= clMaxRequests {
				select {
				case <-stop:
					return
				case <-tick.C:
				}
				smp := clGet(hc)
				mu.Lock()
				samples = append(samples, smp)
				byPhase[phase]++
				mu.Unlock()
			}
		}()
	}
	next := func(name string) {
		mu.Lock()
		phase = name
		mu.Unlock()
	}
	wait := func() {
		select {
		case <-stop:
		case <-time.After(clPhase):
		}
	}

	wait()
	next("one backend killed")
	one[0].kill()
	wait()
	next("site one killed")
	one[1].kill()
	one[2].kill()
	wait()
	next("site one restarted")
	for _, b := range one {
		b.restart(t)
	}
	targets("site one restarted", 6) // the next kill needs site one in the client's answer
	wait()
	next("site two killed")
	for _, b := range two {
		b.kill()
	}
	wait()
	next("site two restarted")
	for _, b := range two {
		b.restart(t)
	}
	targets("site two restarted", 6)
	wait()
	close(stop)
	wg.Wait()

	var base, fo []time.Duration
	var failed []string
	for _, smp := range samples {
		switch {
		case smp.err != nil:
			failed = append(failed, smp.err.Error())
		case smp.failover:
			fo = append(fo, smp.took)
		default:
			base = append(base, smp.took)
		}
	}
	t.Logf("requests: %d (%d workers, half with keep-alive, one every %v each); per phase: %v", len(samples), clWorkers, clPace, byPhase)
	t.Logf("baseline:  %s", clStats(base))
	t.Logf("failover:  %s", clStats(fo))
	if len(failed) > 0 {
		t.Errorf("%d of %d requests failed; first: %s", len(failed), len(samples), failed[0])
	}
	if len(fo) == 0 {
		t.Errorf("no request hit a failed target: the kills did not exercise failover")
	}
}

// clGet sends one GET to the service and reports how it went.
func clGet(hc *http.Client) clSample {
	var failover atomic.Bool
	var conns atomic.Int32
	trace := &httptrace.ClientTrace{
		ConnectDone: func(_, _ string, err error) {
			if err != nil {
				failover.Store(true)
			}
		},
		GotConn: func(httptrace.GotConnInfo) {
			if conns.Add(1) > 1 {
				failover.Store(true) // sent again
			}
		},
	}
	ctx, cancel := context.WithTimeout(httptrace.WithClientTrace(context.Background(), trace), clRequestTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+strings.TrimSuffix(clSRV, ".")+"/", nil)
	if err != nil {
		return clSample{err: err}
	}
	t0 := time.Now()
	resp, err := hc.Do(req)
	if err == nil {
		var body []byte
		body, err = io.ReadAll(resp.Body)
		resp.Body.Close()
		if err == nil && (resp.StatusCode != http.StatusOK || !strings.HasPrefix(string(body), "hello from ")) {
			err = fmt.Errorf("status %d, body %q", resp.StatusCode, body)
		}
	}
	return clSample{took: time.Since(t0), err: err, failover: failover.Load()}
}

// clStats returns "n N, p50 X, p99 Y, max Z".
func clStats(ds []time.Duration) string {
	if len(ds) == 0 {
		return "n 0"
	}
	ds = slices.Clone(ds)
	slices.Sort(ds)
	pct := func(p int) time.Duration { return ds[min(len(ds)-1, len(ds)*p/100)] }
	r := func(d time.Duration) time.Duration { return d.Round(10 * time.Microsecond) }
	return fmt.Sprintf("n %d, p50 %v, p99 %v, max %v", len(ds), r(pct(50)), r(pct(99)), r(ds[len(ds)-1]))
}
