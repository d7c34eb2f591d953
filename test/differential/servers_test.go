package differential

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/hadns/hadns/test/internal/loadtest"
)

// Timeouts; everything that waits is bounded by one of them.
const (
	startTimeout  = 15 * time.Second // a server started → answering the zone's SOA
	settleTimeout = 20 * time.Second // hadns started → every service answering as rendered
	queryTimeout  = 2 * time.Second
	pollInterval  = 50 * time.Millisecond
)

// nameserver is one of the three servers under comparison.
type nameserver struct {
	name string
	addr string // 127.0.0.1:port, UDP and TCP
	proc *loadtest.Proc
}

// startBackends opens a TCP listener for every backend that is not down
// and sets its port; a down backend gets a port nothing listens on.
func startBackends(t *testing.T, svcs []*service) {
	t.Helper()
	var addrs []string
	var bs []*backend
	for _, s := range svcs {
		for i := range s.backends {
			be := &s.backends[i]
			if be.down {
				continue
			}
			addrs = append(addrs, netip.AddrPortFrom(be.addr, 0).String())
			bs = append(bs, be)
		}
	}
	l, err := loadtest.Listen(addrs)
	if err != nil {
		t.Fatalf("backend listeners: %v", err)
	}
	t.Cleanup(l.Close)
	for i, a := range l.Addrs {
		bs[i].port = int(netip.MustParseAddrPort(a).Port())
	}
	for _, s := range svcs {
		for i := range s.backends {
			if be := &s.backends[i]; be.down {
				// A port just closed: refused, so the checker sees it down.
				ln, err := net.Listen("tcp", netip.AddrPortFrom(be.addr, 0).String())
				if err != nil {
					t.Fatalf("port for a down backend: %v", err)
				}
				be.port = ln.Addr().(*net.TCPAddr).Port
				ln.Close()
			}
		}
	}
}

// startHadns starts the binary on the zone with sites east (127.0.0.0/8,
// where every query comes from) and west.
func startHadns(t *testing.T, bin string, svcs []*service) *nameserver {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "diff.test.yaml"), []byte(hadnsZone(svcs)), 0o644); err != nil {
		t.Fatal(err)
	}
	corefile := func(port int) string {
		return fmt.Sprintf(`.:%d {
    bind 127.0.0.1
    hadns diff.test {
        zone diff.test.yaml
        site east 127.0.0.0/8 fallback west
        site west 10.0.0.0/8 fallback east
    }
}
`, port)
	}
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	s, err := loadtest.StartServer(ctx, bin, dir, corefile, origin, -1)
	if err != nil {
		t.Fatalf("hadns: %v", err)
	}
	ns := &nameserver{name: "hadns", addr: s.Addr, proc: s.Proc}
	t.Cleanup(func() { stopProc(t, ns) })
	return ns
}

// startNSD starts NSD in the foreground on a free port with its config,
// database, pid and state files in a temporary directory. It runs as the
// current user (username ""), so no privileges are dropped.
func startNSD(t *testing.T, bin string, zone string) *nameserver {
	t.Helper()
	dir := t.TempDir()
	write(t, filepath.Join(dir, "diff.test.zone"), zone)
	return startRef(t, "nsd", dir, func(port int) []string {
		conf := fmt.Sprintf(`server:
    ip-address: 127.0.0.1@%[1]d
    port: %[1]d
    username: ""
    chroot: ""
    zonesdir: %[2]q
    database: ""
    pidfile: %[6]q
    xfrdfile: %[3]q
    zonelistfile: %[4]q
    logfile: %[5]q
    verbosity: 1
    server-count: 1
    reuseport: no
    hide-version: yes
remote-control:
    control-enable: no
zone:
    name: diff.test
    zonefile: diff.test.zone
`, port, dir, filepath.Join(dir, "xfrd.state"), filepath.Join(dir, "zone.list"), filepath.Join(dir, "nsd.log"), filepath.Join(dir, "nsd.pid"))
		write(t, filepath.Join(dir, "nsd.conf"), conf)
		return []string{bin, "-d", "-c", filepath.Join(dir, "nsd.conf")}
	}, func() string { return readFile(filepath.Join(dir, "nsd.log")) })
}

// startKnot starts knotd in the foreground on a free port with its config,
// run directory, database and control socket in a temporary directory, as
// the current user.
func startKnot(t *testing.T, bin string, zone string) *nameserver {
	t.Helper()
	dir := t.TempDir()
	write(t, filepath.Join(dir, "diff.test.zone"), zone)
	return startRef(t, "knot", dir, func(port int) []string {
		conf := fmt.Sprintf(`server:
    listen: 127.0.0.1@%[1]d
    rundir: %[2]q
    pidfile: %[3]q
log:
  - target: stderr
    any: warning
database:
    storage: %[4]q
control:
    listen: %[5]q
template:
  - id: default
    storage: %[2]q
    semantic-checks: off
    zonefile-sync: -1
    zonefile-load: whole
    journal-content: none
zone:
  - domain: diff.test
    file: diff.test.zone
`, port, dir, filepath.Join(dir, "knot.pid"), filepath.Join(dir, "db"), filepath.Join(dir, "knot.sock"))
		write(t, filepath.Join(dir, "knot.conf"), conf)
		return []string{bin, "-c", filepath.Join(dir, "knot.conf")}
	}, func() string { return "" })
}

// startRef starts a reference server from argv(port), retrying with a new
// port when one was taken, and waits until it answers the zone's SOA with
// AA set.
func startRef(t *testing.T, name, dir string, argv func(port int) []string, log func() string) *nameserver {
	t.Helper()
	var last string
	for attempt := 0; attempt < 4; attempt++ {
		port, err := loadtest.FreePort()
		if err != nil {
			t.Fatal(err)
		}
		args := argv(port)
		p, err := loadtest.StartProc(name, args[0], args[1:], dir, -1)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		ns := &nameserver{name: name, addr: fmt.Sprintf("127.0.0.1:%d", port), proc: p}
		if waitSOA(ns) {
			t.Cleanup(func() { stopProc(t, ns) })
			return ns
		}
		p.Stop()
		last = p.Out.String() + log()
		if !strings.Contains(last, "in use") {
			break
		}
	}
	t.Fatalf("%s did not answer the zone's SOA within %v:\n%s", name, startTimeout, last)
	return nil
}

// waitSOA polls the zone's SOA until the server answers it with AA set, it
// exits, or startTimeout passes.
func waitSOA(ns *nameserver) bool {
	m := new(dns.Msg)
	m.SetQuestion(origin, dns.TypeSOA)
	cl := &dns.Client{Net: "udp", Timeout: 200 * time.Millisecond}
	deadline := time.Now().Add(startTimeout)
	for i := 0; i < int(startTimeout/pollInterval) && time.Now().Before(deadline) && ns.proc.Alive(); i++ {
		if r, _, err := cl.Exchange(m, ns.addr); err == nil && r.Authoritative && len(r.Answer) == 1 {
			return true
		}
		time.Sleep(pollInterval)
	}
	return false
}

// stopProc stops a server; one that exited on its own before crashed.
func stopProc(t *testing.T, ns *nameserver) {
	if !ns.proc.Alive() {
		t.Errorf("%s exited before the test ended:\n%s", ns.name, ns.proc.Out.String())
		return
	}
	ns.proc.Stop()
	if t.Failed() && testing.Verbose() {
		t.Logf("%s output:\n%s", ns.name, ns.proc.Out.String())
	}
}

// waitSettled polls hadns until every service's A, AAAA and SRV answers
// hold the rendered members (the checker has its first results, the down
// backend has been seen down), or settleTimeout passes.
func waitSettled(t *testing.T, h *nameserver, ref map[string][]string, svcs []*service) {
	t.Helper()
	deadline := time.Now().Add(settleTimeout)
	var last []string
	for i := 0; i < int(settleTimeout/pollInterval) && time.Now().Before(deadline); i++ {
		last = last[:0]
		for _, name := range sortedNames(serviceOwners(svcs)) {
			for _, qt := range []uint16{dns.TypeA, dns.TypeAAAA, dns.TypeSRV} {
				want := ref[name+" "+dns.TypeToString[qt]]
				r, err := exchange(h.addr, query{name: name, qtype: qt, tcp: true, edns: 1232})
				if err != nil {
					last = append(last, fmt.Sprintf("%s %s: %v", name, dns.TypeToString[qt], err))
					continue
				}
				max := len(want) // SRV: every healthy backend
				if qt != dns.TypeSRV {
					max = serviceOwners(svcs)[name].maxAnswers
				}
				if got := rrStrings(r.Answer); !settled(got, want, max) {
					last = append(last, fmt.Sprintf("%s %s: %v, want %v", name, dns.TypeToString[qt], got, want))
				}
			}
		}
		if len(last) == 0 {
			return
		}
		time.Sleep(pollInterval)
	}
	t.Fatalf("hadns's service answers did not settle within %v:\n%s", settleTimeout, strings.Join(last, "\n"))
}

// settled reports whether a service answer is the rendered one: a subset
// of it, as long as the rendered one or max long.
func settled(got, want []string, max int) bool {
	if len(got) != min(len(want), max) {
		return false
	}
	in := map[string]bool{}
	for _, w := range want {
		in[w] = true
	}
	for _, g := range got {
		if !in[g] {
			return false
		}
	}
	return true
}

// lookPath finds a server binary in PATH or the sbin directories Debian
// installs it in.
func lookPath(name string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	for _, d := range []string{"/usr/sbin", "/sbin", "/usr/local/sbin"} {
		p := filepath.Join(d, name)
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s not found: install it (Debian: apt-get install nsd knot)", name)
}

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func readFile(path string) string {
	b, _ := os.ReadFile(path)
	return string(b)
}
