package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/miekg/dns"

	"github.com/hadns/hadns/test/internal/loadtest"
)

// lab is everything running in the namespace.
type lab struct {
	o        options
	dir      string
	servers  []*loadtest.Proc          // the root, ns1, ns2
	backends map[string]*loadtest.Demo // by address
	killed   []string                  // backends killed and not started again
	resolver *loadtest.Proc            // unbound, while a mode runs
}

// startLab writes the configurations into a new directory and starts the
// backends, the private root and both nameservers; it returns once both
// nameservers are ready and hand every backend to its site.
func startLab(ctx context.Context, o options) (*lab, error) {
	dir, err := os.MkdirTemp("", "hadns-resolver-")
	if err != nil {
		return nil, err
	}
	l := &lab{o: o, dir: dir, backends: map[string]*loadtest.Demo{}}
	write := func(name, content string) error {
		return os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644)
	}
	if err := write("root.zone", rootZone()); err != nil {
		return l, err
	}
	if err := write("root.hints", rootHints()); err != nil {
		return l, err
	}
	if err := write("Corefile.root", rootCorefile(filepath.Join(dir, "root.zone"))); err != nil {
		return l, err
	}
	for _, ns := range nameservers {
		if err := write("Corefile."+ns.name, nsCorefile(ns, o.zone)); err != nil {
			return l, err
		}
	}

	for _, s := range sites {
		for _, b := range s.backends {
			d := &loadtest.Demo{Bin: o.bin, Host: b, Addr: net.JoinHostPort(b, fmt.Sprint(backendPort))}
			if err := d.Start(ctx); err != nil {
				return l, fmt.Errorf("backend %s: %w", d.Addr, err)
			}
			l.backends[b] = d
		}
	}
	for _, name := range []string{"root", "ns1", "ns2"} {
		p, err := loadtest.StartProc("hadns "+name, o.bin, []string{"-conf", "Corefile." + name}, dir, -1)
		if err != nil {
			return l, err
		}
		l.servers = append(l.servers, p)
	}
	if err := waitFor(ctx, 15*time.Second, "the private root answers SOA .", func() bool {
		return soaOK(rootAddr, ".")
	}); err != nil {
		return l, err
	}
	for _, ns := range nameservers {
		if err := waitFor(ctx, 15*time.Second, ns.name+" answers SOA "+zoneName, func() bool {
			return soaOK(ns.addr, zoneName)
		}); err != nil {
			return l, err
		}
		// hadns is ready once every check has a first result (5 s at most).
		if err := waitFor(ctx, 15*time.Second, ns.name+" is ready", func() bool {
			return readyOK(ns.addr)
		}); err != nil {
			return l, err
		}
	}
	return l, l.waitAllUp(ctx)
}

// waitAllUp waits until both nameservers give each site all of its own
// backends, i.e. every backend is up again in both checkers.
func (l *lab) waitAllUp(ctx context.Context) error {
	for _, ns := range nameservers {
		for _, s := range sites {
			last := "no query yet"
			err := waitFor(ctx, 20*time.Second, fmt.Sprintf("%s gives site %s all of its backends", ns.name, s.name), func() bool {
				r, err := queryDirect(ns.addr, s.net)
				if err != nil {
					last = err.Error()
					return false
				}
				last = fmt.Sprint(addrs(r))
				return slices.Equal(sorted(addrs(r)), s.backends)
			})
			if err != nil {
				return fmt.Errorf("%w (last: %s)", err, last)
			}
		}
	}
	return nil
}

// startResolver starts unbound for a mode and waits until it resolves.
func (l *lab) startResolver(ctx context.Context, ecs bool) error {
	conf := filepath.Join(l.dir, "unbound-"+modeName(ecs)+".conf")
	if err := os.WriteFile(conf, []byte(unboundConf(l.dir, ecs, l.o.cacheMinTTL)), 0o644); err != nil {
		return err
	}
	if checkconf := filepath.Join(filepath.Dir(l.o.unbound), "unbound-checkconf"); fileExists(checkconf) {
		if out, err := exec.CommandContext(ctx, checkconf, conf).CombinedOutput(); err != nil {
			return fmt.Errorf("unbound-checkconf %s: %v\n%s", conf, err, out)
		}
	}
	// -d: stay in the foreground, -p: no pid file.
	p, err := loadtest.StartProc("unbound", l.o.unbound, []string{"-d", "-p", "-c", conf}, l.dir, -1)
	if err != nil {
		return err
	}
	l.resolver = p
	client := sites[0].client
	last := errors.New("no query yet")
	err = waitFor(ctx, 15*time.Second, "unbound resolves "+zoneName+" SOA", func() bool {
		if !p.Alive() {
			last = errors.New("unbound exited")
			return false
		}
		r, err := queryResolver(client, zoneName, dns.TypeSOA)
		if err == nil && len(r.Answer) == 0 {
			err = fmt.Errorf("no answer:\n%v", r)
		}
		last = err
		return err == nil
	})
	if err != nil {
		return fmt.Errorf("%w; last: %v", err, last)
	}
	return nil
}

// stopResolver stops unbound and keeps its output.
func (l *lab) stopResolver(ecs bool) {
	if l.resolver == nil {
		return
	}
	l.resolver.Stop()
	_ = os.WriteFile(filepath.Join(l.dir, "unbound-"+modeName(ecs)+".log"), []byte(l.resolver.Out.String()), 0o644)
	l.resolver = nil
}

// kill crashes a backend with SIGKILL and returns the time it was gone.
func (l *lab) kill(backend string) time.Time {
	l.backends[backend].Kill()
	l.killed = append(l.killed, backend)
	return time.Now()
}

// restartBackends starts every backend killed so far again.
func (l *lab) restartBackends(ctx context.Context) error {
	for _, b := range l.killed {
		if err := l.backends[b].Start(ctx); err != nil {
			return fmt.Errorf("restarting backend %s: %w", b, err)
		}
	}
	l.killed = nil
	return nil
}

// stop ends every process, keeps the logs, copies the directory to the
// artifacts folder if asked, and removes it.
func (l *lab) stop() {
	if l.resolver != nil {
		l.resolver.Stop()
	}
	for _, d := range l.backends {
		d.Kill()
	}
	names := []string{"root", "ns1", "ns2"}
	for i, p := range l.servers {
		p.Stop()
		_ = os.WriteFile(filepath.Join(l.dir, names[i]+".log"), []byte(p.Out.String()), 0o644)
	}
	if l.o.artifacts != "" {
		if err := os.CopyFS(l.o.artifacts, os.DirFS(l.dir)); err != nil {
			fmt.Fprintln(os.Stderr, "resolver: artifacts:", err)
		} else {
			fmt.Println("artifacts in", l.o.artifacts)
		}
	}
	os.RemoveAll(l.dir)
}

// dumpServers asks every hadns process for a dump of its goroutines
// (SIGQUIT), which lands in its log and so in the artifacts: a setup that
// stops answering shows where each server stood.
func (l *lab) dumpServers() {
	for _, p := range l.servers {
		if p.Alive() {
			_ = p.Cmd.Process.Signal(syscall.SIGQUIT)
		}
	}
	for _, p := range l.servers {
		select {
		case <-p.Done():
		case <-time.After(2 * time.Second):
		}
	}
}

// logs is the tail of every server's output, for a failure report.
func (l *lab) logs() string {
	var b strings.Builder
	procs := append(slices.Clone(l.servers), l.resolver)
	for _, p := range procs {
		if p == nil {
			continue
		}
		out := strings.Split(strings.TrimRight(p.Out.String(), "\n"), "\n")
		fmt.Fprintf(&b, "--- %s (last 20 lines)\n%s\n", p.Name, strings.Join(out[max(0, len(out)-20):], "\n"))
	}
	return b.String()
}

func modeName(ecs bool) string {
	if ecs {
		return "ecs-on"
	}
	return "ecs-off"
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// waitFor polls ok every 100 ms until it holds, for at most limit.
func waitFor(ctx context.Context, limit time.Duration, what string, ok func() bool) error {
	deadline := time.Now().Add(limit)
	for {
		if ok() {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: not within %v", what, limit)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: %w", what, context.Cause(ctx))
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// soaOK reports whether addr answers SOA name authoritatively.
func soaOK(addr, name string) bool {
	m := new(dns.Msg)
	m.SetQuestion(name, dns.TypeSOA)
	m.RecursionDesired = false
	r, _, err := (&dns.Client{Timeout: 500 * time.Millisecond}).Exchange(m, net.JoinHostPort(addr, "53"))
	return err == nil && r.Rcode == dns.RcodeSuccess && r.Authoritative
}

// readyOK reports whether hadns's ready endpoint on addr answers 200.
func readyOK(addr string) bool {
	c := &http.Client{Timeout: 500 * time.Millisecond}
	resp, err := c.Get(fmt.Sprintf("http://%s:%d/ready", addr, readyPort))
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// queryDirect asks a nameserver for the service's A records as a client
// of subnet would get them (ECS with subnet), without recursion.
func queryDirect(addr string, subnet netip.Prefix) (*dns.Msg, error) {
	m := new(dns.Msg)
	m.SetQuestion(serviceName, dns.TypeA)
	m.RecursionDesired = false
	o := m.SetEdns0(1232, false).IsEdns0()
	o.Option = append(o.Option, &dns.EDNS0_SUBNET{
		Code: dns.EDNS0SUBNET, Family: 1, SourceNetmask: uint8(subnet.Bits()),
		Address: subnet.Addr().AsSlice(),
	})
	r, _, err := (&dns.Client{Timeout: 500 * time.Millisecond}).Exchange(m, net.JoinHostPort(addr, "53"))
	if err == nil && r.Rcode != dns.RcodeSuccess {
		err = fmt.Errorf("rcode %s", dns.RcodeToString[r.Rcode])
	}
	return r, err
}

// queryResolver asks unbound, from the client address src, with recursion
// desired, as a stub resolver would: one try, no ECS of its own.
func queryResolver(src netip.Addr, name string, qtype uint16) (*dns.Msg, error) {
	m := new(dns.Msg)
	m.SetQuestion(name, qtype)
	m.RecursionDesired = true
	c := &dns.Client{
		Timeout: time.Second,
		Dialer:  &net.Dialer{LocalAddr: net.UDPAddrFromAddrPort(netip.AddrPortFrom(src, 0))},
	}
	r, _, err := c.Exchange(m, net.JoinHostPort(resolverAddr, "53"))
	if err == nil && r.Rcode != dns.RcodeSuccess {
		err = fmt.Errorf("rcode %s", dns.RcodeToString[r.Rcode])
	}
	return r, err
}

// addrs are the A records' addresses of an answer, in its order.
func addrs(r *dns.Msg) []string {
	var out []string
	for _, rr := range r.Answer {
		if a, ok := rr.(*dns.A); ok {
			out = append(out, a.A.String())
		}
	}
	return out
}

// minTTL is the smallest TTL of an answer's A records (0 for none).
func minTTL(r *dns.Msg) uint32 {
	var ttl uint32
	found := false
	for _, rr := range r.Answer {
		if _, ok := rr.(*dns.A); ok && (!found || rr.Header().Ttl < ttl) {
			ttl, found = rr.Header().Ttl, true
		}
	}
	return ttl
}

// answerTTL is the smallest TTL in an answer section (0 for none).
func answerTTL(r *dns.Msg) uint32 {
	var ttl uint32
	for i, rr := range r.Answer {
		if i == 0 || rr.Header().Ttl < ttl {
			ttl = rr.Header().Ttl
		}
	}
	return ttl
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}
