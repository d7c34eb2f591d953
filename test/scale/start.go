package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/miekg/dns"

	"github.com/hadns/hadns/test/internal/loadtest"
)

type server struct {
	port int
	addr string
	proc *loadtest.Proc
}

// startup is what start measured, each from the process start.
type startup struct {
	firstAnswer time.Duration // first NOERROR service answer
	ready       time.Duration // ready endpoint answers 200
	readyLog    time.Duration // hadns logs that every check has a result
	rss         int64         // bytes, right after ready
}

// start runs hadns on free ports (retrying when one was taken meanwhile)
// and times its start-up.
func start(ctx context.Context, c config, dir string, files []string, big shape) (*server, startup, error) {
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
		cf := corefile(port, rport, c.reload.String(), files, c.sites)
		if err := os.WriteFile(filepath.Join(dir, "Corefile"), []byte(cf), 0o644); err != nil {
			return nil, startup{}, err
		}
		t0 := time.Now()
		p, err := loadtest.StartProc("hadns", c.bin, []string{"-conf", "Corefile"}, dir, c.serverCPU)
		if err != nil {
			return nil, startup{}, err
		}
		s := &server{port: port, addr: fmt.Sprintf("127.0.0.1:%d", port), proc: p}
		st, err := timeStartup(ctx, s, t0, fmt.Sprintf("http://127.0.0.1:%d/ready", rport), serviceName(0)+"."+big.origin)
		if err == nil {
			return s, st, nil
		}
		p.Stop()
		lastErr = fmt.Errorf("hadns on %s: %v\n%s", s.addr, err, tail(p.Out.String(), 40))
		if !strings.Contains(p.Out.String(), "address already in use") {
			break
		}
	}
	if lastErr == nil {
		lastErr = context.Cause(ctx)
	}
	return nil, startup{}, lastErr
}

// timeStartup polls the DNS answer and the ready endpoint every 10 ms
// until both are there (at most 2 minutes).
func timeStartup(ctx context.Context, s *server, t0 time.Time, readyURL, qname string) (startup, error) {
	var st startup
	readyLog := s.proc.Out.Watch("every health check has a first result", 0)
	cl := &http.Client{Timeout: time.Second}
	deadline := t0.Add(2 * time.Minute)
	for st.firstAnswer == 0 || st.ready == 0 {
		if !s.proc.Alive() {
			return st, fmt.Errorf("exited")
		}
		if time.Now().After(deadline) {
			return st, fmt.Errorf("not answering and ready within 2 minutes (answer after %v, ready after %v)", st.firstAnswer, st.ready)
		}
		if st.firstAnswer == 0 {
			if m, err := loadtest.Query(s.addr, qname, dns.TypeA, true); err == nil && m.Rcode == dns.RcodeSuccess && len(m.Answer) > 0 {
				st.firstAnswer = time.Since(t0)
			}
		}
		if st.ready == 0 {
			if resp, err := cl.Get(readyURL); err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					st.ready = time.Since(t0)
					st.rss, _ = s.proc.RSS()
				}
			}
		}
		select {
		case <-ctx.Done():
			return st, context.Cause(ctx)
		case <-time.After(10 * time.Millisecond):
		}
	}
	select {
	case at := <-readyLog:
		st.readyLog = at.Sub(t0)
	case <-time.After(5 * time.Second):
		return st, fmt.Errorf("ready, but no \"every health check has a first result\" log line")
	}
	return st, nil
}

// tail is the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(s, "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
