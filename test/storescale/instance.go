package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/miekg/dns"

	"github.com/hadns/hadns/test/internal/loadtest"
)

// instance is one running hadns.
type instance struct {
	addr string
	proc *loadtest.Proc
}

// startup is what starting an instance took.
type startup struct {
	answer time.Duration // process start → the last service and the probe answered as wanted
	ready  time.Duration // process start → /ready says 200 (every check has a first result)
	rss    int64         // resident memory once ready
}

// corefile is one instance: the zone from a file or from the store.
func corefile(port, readyPort int, source string) string {
	return fmt.Sprintf(`%s:%d {
    bind 127.0.0.1
    ready 127.0.0.1:%d
    hadns {
        site s0 127.0.0.0/16 fallback s1
        site s1 127.10.0.0/16 fallback s0
        reload 100ms
        state state.json
%s    }
}
`, origin, port, readyPort, source)
}

// start runs hadns in dir with the Corefile's source lines and times its
// start-up until wantProbe is the probe's answer and the last big service
// answers.
func start(ctx context.Context, bin, dir, source string, w *world, wantProbe []string) (*instance, startup, error) {
	var lastErr error
	for attempt := 0; attempt < 4 && ctx.Err() == nil; attempt++ {
		port, err := loadtest.FreePort()
		if err != nil {
			return nil, startup{}, err
		}
		rport, err := loadtest.FreePort()
		if err != nil {
			return nil, startup{}, err
		}
		if err := os.WriteFile(filepath.Join(dir, "Corefile"), []byte(corefile(port, rport, source)), 0o644); err != nil {
			return nil, startup{}, err
		}
		t0 := time.Now()
		p, err := loadtest.StartProc("hadns", bin, []string{"-conf", "Corefile"}, dir, -1)
		if err != nil {
			return nil, startup{}, err
		}
		in := &instance{addr: fmt.Sprintf("127.0.0.1:%d", port), proc: p}
		st, err := in.timeStartup(ctx, t0, fmt.Sprintf("http://127.0.0.1:%d/ready", rport), w, wantProbe)
		if err == nil {
			return in, st, nil
		}
		p.Stop()
		lastErr = fmt.Errorf("hadns: %v\n%s", err, tail(p.Out.String(), 30))
		if !strings.Contains(p.Out.String(), "address already in use") {
			break
		}
	}
	if lastErr == nil {
		lastErr = context.Cause(ctx)
	}
	return nil, startup{}, lastErr
}

func (in *instance) timeStartup(ctx context.Context, t0 time.Time, readyURL string, w *world, wantProbe []string) (startup, error) {
	var st startup
	cl := &http.Client{Timeout: time.Second}
	last := svcName(w.services-1) + "." + origin
	deadline := t0.Add(3 * time.Minute)
	for st.answer == 0 || st.ready == 0 {
		if !in.proc.Alive() {
			return st, fmt.Errorf("exited")
		}
		if time.Now().After(deadline) {
			return st, fmt.Errorf("not answering and ready within 3 minutes (answer after %v, ready after %v)", st.answer, st.ready)
		}
		if st.answer == 0 && in.probeIs(wantProbe) {
			if m, err := loadtest.Query(in.addr, last, dns.TypeA, true); err == nil && m.Rcode == dns.RcodeSuccess && len(m.Answer) > 0 {
				st.answer = time.Since(t0)
			}
		}
		if st.ready == 0 {
			if resp, err := cl.Get(readyURL); err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					st.ready = time.Since(t0)
					st.rss, _ = in.proc.RSS()
				}
			}
		}
		select {
		case <-ctx.Done():
			return st, context.Cause(ctx)
		case <-time.After(5 * time.Millisecond):
		}
	}
	return st, nil
}

// probeIs reports whether the probe service's A answer is exactly want.
func (in *instance) probeIs(want []string) bool {
	m, err := loadtest.Query(in.addr, "probe."+origin, dns.TypeA, true)
	if err != nil || m.Rcode != dns.RcodeSuccess {
		return false
	}
	var got []string
	for _, rr := range m.Answer {
		if a, ok := rr.(*dns.A); ok {
			got = append(got, a.A.String())
		}
	}
	slices.Sort(got)
	return slices.Equal(got, want)
}

// serial is the zone's SOA serial; 0 on any error.
func (in *instance) serial() uint32 {
	m, err := loadtest.Query(in.addr, origin, dns.TypeSOA, true)
	if err != nil || len(m.Answer) != 1 {
		return 0
	}
	if soa, ok := m.Answer[0].(*dns.SOA); ok {
		return soa.Serial
	}
	return 0
}

// waitFor polls cond every millisecond until it holds; how long after
// start that was, or an error after limit.
func waitFor(ctx context.Context, what string, start time.Time, limit time.Duration, cond func() bool) (time.Duration, error) {
	for ctx.Err() == nil {
		if cond() {
			return time.Since(start), nil
		}
		if time.Since(start) > limit {
			return 0, fmt.Errorf("%s: not within %v", what, limit)
		}
		select {
		case <-ctx.Done():
		case <-time.After(time.Millisecond):
		}
	}
	return 0, context.Cause(ctx)
}

func tail(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
