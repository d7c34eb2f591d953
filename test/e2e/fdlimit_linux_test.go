package e2e

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/miekg/dns"
)

// The open-files test's world: hadns under a low open-files limit, its
// backends the shared health-check backends with a fast tcp check, and
// clients that hold many connections open to its DNS TCP port and its
// admin port.
const (
	fdLimit = 256 // RLIMIT_NOFILE of the server, soft and hard
	// fdDNSConns connections are kept open to the DNS TCP port: far more
	// than the server has descriptors, so its accept loop takes every one
	// that frees up.
	fdDNSConns = 3 * fdLimit
	// fdAdminConns connections are opened to the admin port: more than
	// its limit of 64.
	fdAdminConns = 160
	// fdAttack is how long the DNS TCP port is flooded: many probe
	// intervals (500 ms, fall 2). The probe timeout (450 ms) leaves a busy
	// CI machine room: a probe that times out under load is not the attack.
	fdAttack = 4 * time.Second
	// fdIdle is the server's TCP read and idle timeout (the timeouts
	// plugin): how long it holds a connection that sends nothing.
	fdIdle = 2 * time.Second
)

const fdCorefile = `fd.test:{{.Port}} {
    bind 127.0.0.1
    timeouts {
        read 2s
        idle 2s
    }
    hadns {
        zone fd.test.yaml
        site east 127.0.1.0/24 fallback west
        site west 127.0.2.0/24 fallback east
        reload 0
        admin 127.0.0.1:{{.AdminPort}}
    }
}
`

func fdZone() string {
	return fmt.Sprintf(`origin: fd.test.
soa: {mname: ns1.fd.test., rname: hostmaster.fd.test., serial: 1}
ns: [ns1]
records: |
  ns1 A 127.0.0.1
services:
  - name: api
    ttl: 5
    port: %d
    srv: [_http._tcp]
    check: {kind: tcp, interval: 500ms, timeout: 450ms, fast_interval: 100ms, fall: 2}
    backends:
      - {address: 127.0.1.1, site: east}
      - {address: 127.0.1.2, site: east}
      - {address: 127.0.2.1, site: west}
  - name: web
    ttl: 5
    port: %d
    check: {kind: http, path: /healthz, interval: 500ms, timeout: 450ms, fast_interval: 100ms, fall: 2}
    backends:
      - {address: 127.0.1.1, site: east}
      - {address: 127.0.1.2, site: east}
      - {address: 127.0.2.1, site: west}
`, backendPort, backendPort)
}

// setNoFile sets pid's open-files limit, soft and hard: the server is a Go
// program, which raises its soft limit to the hard one at start.
func setNoFile(pid, n int) error {
	lim := syscall.Rlimit{Cur: uint64(n), Max: uint64(n)}
	_, _, e := syscall.RawSyscall6(syscall.SYS_PRLIMIT64, uintptr(pid), syscall.RLIMIT_NOFILE, uintptr(unsafe.Pointer(&lim)), 0, 0, 0)
	if e != 0 {
		return e
	}
	return nil
}

// fdAnswers checks one round of answers: A for a client of the default
// order (east first) holds both east backends, SRV every backend, with no
// extended error (fail-open, fallback), and never SERVFAIL. Service api is
// checked by tcp connect (the checker's tcp loop, which has spare sockets
// for a shortage), web by http (whose probes then fail locally).
func fdAnswers(s *server) error {
	for _, name := range []string{"api.fd.test.", "_http._tcp.api.fd.test.", "web.fd.test."} {
		qt := dns.TypeA
		if strings.HasPrefix(name, "_http") {
			qt = dns.TypeSRV
		}
		q := new(dns.Msg)
		q.SetQuestion(name, qt)
		q.SetEdns0(1232, false)
		wire, err := q.Pack()
		if err != nil {
			return err
		}
		raw, err := s.exchangeRaw("udp", wire, queryTimeout)
		if err != nil {
			return fmt.Errorf("%s: %v", name, err)
		}
		r := new(dns.Msg)
		if err := r.Unpack(raw); err != nil {
			return fmt.Errorf("%s: %v", name, err)
		}
		if r.Rcode != dns.RcodeSuccess {
			return fmt.Errorf("%s: rcode %s", name, dns.RcodeToString[r.Rcode])
		}
		if o := r.IsEdns0(); o != nil {
			for _, opt := range o.Option {
				if e, ok := opt.(*dns.EDNS0_EDE); ok {
					return fmt.Errorf("%s: extended error %q", name, e.ExtraText)
				}
			}
		}
		var got []string
		for _, rr := range r.Answer {
			switch rr := rr.(type) {
			case *dns.A:
				got = append(got, rr.A.String())
			case *dns.SRV:
				got = append(got, strings.TrimSuffix(rr.Target, ".api.fd.test."))
			}
		}
		slices.Sort(got)
		want := []string{"127.0.1.1", "127.0.1.2"}
		if qt == dns.TypeSRV {
			want = []string{"127-0-1-1", "127-0-1-2", "127-0-2-1"}
		}
		if !slices.Equal(got, want) {
			return fmt.Errorf("%s: answer %v, want %v", name, got, want)
		}
	}
	return nil
}

// TestOpenFilesExhaustion: hadns under a low open-files limit, with many
// connections held open to its DNS TCP port and its admin port. The DNS
// server's accept loop takes every descriptor that frees up, so the
// checker's probes fail with EMFILE: that is this host's trouble, not the
// backends', so every healthy backend stays in the answers (no SERVFAIL, no
// fail-open), no transition is logged, and the checker says what happens.
// The admin server holds at most its limit of connections and closes the
// excess at once; the DNS server closes held connections after its read
// timeout.
func TestOpenFilesExhaustion(t *testing.T) {
	s := startServer(t, fdCorefile, files{"fd.test.yaml": fdZone()})
	pid := s.cmd.Process.Pid
	if err := setNoFile(pid, fdLimit); err != nil {
		t.Fatalf("prlimit: %v", err)
	}
	if fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid)); err == nil {
		t.Logf("server: %d descriptors open, limit %d", len(fds), fdLimit)
	}
	deadline := time.Now().Add(startTimeout)
	for err := fdAnswers(s); err != nil; err = fdAnswers(s) {
		if time.Now().After(deadline) {
			t.Fatalf("healthy answers before the attack: %v", err)
		}
		time.Sleep(pollInterval)
	}
	mark := len(s.Output())
	dnsAddr := s.Addr
	admAddr := fmt.Sprintf("127.0.0.1:%d", s.Ports.AdminPort)

	// The admin port first, alone: at most 64 connections are held, the
	// rest are closed at once.
	var admConns []net.Conn
	defer func() {
		for _, c := range admConns {
			c.Close()
		}
	}()
	for range fdAdminConns {
		c, err := net.DialTimeout("tcp", admAddr, queryTimeout)
		if err != nil {
			t.Fatalf("admin dial: %v", err)
		}
		admConns = append(admConns, c)
		// Half a request: the server waits for the rest of its headers.
		_, _ = io.WriteString(c, "GET /v1/status HTTP/1.1\r\n")
	}
	// Read from all at once, up to one deadline well within the server's
	// header timeout (5 s), so only the limit can have closed them.
	var closedN atomic.Int64
	var rg sync.WaitGroup
	readBy := time.Now().Add(time.Second)
	for _, c := range admConns {
		rg.Go(func() {
			_ = c.SetReadDeadline(readBy)
			if _, err := c.Read(make([]byte, 1)); err != nil && !fdIsTimeout(err) {
				closedN.Add(1)
			}
		})
	}
	rg.Wait()
	closed := int(closedN.Load())
	if want := fdAdminConns - 64; closed < want {
		t.Errorf("admin: %d of %d connections closed at once, want at least %d (limit 64)", closed, fdAdminConns, want)
	}
	t.Logf("admin: %d of %d connections closed at once", closed, fdAdminConns)

	// Then the DNS TCP port: fdDNSConns connections kept open for
	// fdAttack, each redialled when the server closes it.
	ctx, cancel := context.WithTimeout(context.Background(), fdAttack)
	defer cancel()
	var (
		wg         sync.WaitGroup
		dialed     atomic.Int64
		serverShut atomic.Int64 // closed by the server
		mu         sync.Mutex
		open       []net.Conn
	)
	for range fdDNSConns {
		wg.Go(func() {
			for i := 0; ctx.Err() == nil && i < 1000; i++ {
				c, err := net.DialTimeout("tcp", dnsAddr, time.Second)
				if err != nil {
					continue
				}
				dialed.Add(1)
				stop := context.AfterFunc(ctx, func() {
					mu.Lock()
					open = append(open, c)
					mu.Unlock()
				})
				// Wait until the server closes it, or the attack ends
				// (then the connection is left open for the check below).
				_ = c.SetReadDeadline(time.Now().Add(fdAttack))
				_, err = c.Read(make([]byte, 1))
				if ctx.Err() != nil {
					return
				}
				stop()
				c.Close()
				if err != nil && !fdIsTimeout(err) {
					serverShut.Add(1)
				}
			}
		})
	}
	// Meanwhile the answers must not change, and the server's descriptor
	// table fills up.
	rounds, bad, maxFDs := 0, []string{}, 0
	for ctx.Err() == nil && rounds < 1000 {
		if err := fdAnswers(s); err != nil {
			bad = append(bad, err.Error())
		}
		if fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid)); err == nil {
			maxFDs = max(maxFDs, len(fds))
		}
		rounds++
		time.Sleep(pollInterval)
	}
	wg.Wait()
	t.Logf("dns: %d connections dialled, %d closed by the server during the attack; %d answer rounds; at most %d descriptors open", dialed.Load(), serverShut.Load(), rounds, maxFDs)
	if maxFDs < fdLimit-8 {
		t.Errorf("the server never came near its limit of %d descriptors (at most %d): the attack did not bite", fdLimit, maxFDs)
	}
	if len(bad) > 0 {
		t.Errorf("%d of %d answer rounds went wrong during the attack, first: %s", len(bad), rounds, bad[0])
	}
	out := s.Output()[mark:]
	if !strings.Contains(out, "health checker: cannot probe") {
		t.Errorf("the http probes never ran out of descriptors: the attack did not bite (raise fdDNSConns)")
	}
	for _, bad := range []string{"-> down", "-> suspect"} {
		if strings.Contains(out, bad) {
			t.Errorf("a transition was logged during the attack (%q)", bad)
		}
	}

	// Connections left open are closed by the server within its read
	// timeout once it has descriptors to accept them: none is held for
	// ever.
	mu.Lock()
	held := open
	mu.Unlock()
	limit := time.Now().Add(fdIdle + 10*time.Second)
	notClosed := 0
	for _, c := range held {
		_ = c.SetReadDeadline(limit)
		if _, err := c.Read(make([]byte, 1)); err == nil || fdIsTimeout(err) {
			notClosed++
		}
		c.Close()
	}
	if notClosed > 0 {
		t.Errorf("dns: %d of %d held connections were not closed by the server within %v of the attack's end", notClosed, len(held), fdIdle+10*time.Second)
	}
	for _, c := range admConns {
		c.Close()
	}
	admConns = nil

	// Probes get through again, and the answers are what they were.
	if missing := s.waitOutput(mark, []string{"health checker: probes get through again"}, 10*time.Second); len(missing) > 0 {
		t.Errorf("the checker did not recover: %v", missing)
	}
	if err := fdAnswers(s); err != nil {
		t.Errorf("answers after the attack: %v", err)
	}
}

func fdIsTimeout(err error) bool {
	ne, ok := err.(net.Error)
	return ok && ne.Timeout()
}
