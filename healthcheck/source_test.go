package healthcheck

import (
	"bufio"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// srcA and srcB are loopback addresses probes are sent from: any 127/8
// address is local on Linux.
const (
	srcA = "127.0.0.7"
	srcB = "127.0.0.8"
)

// peers records the remote address of whatever reaches a test server.
type peers chan netip.Addr

func (p peers) note(a net.Addr) {
	ap, err := netip.ParseAddrPort(a.String())
	if err != nil {
		return
	}
	select {
	case p <- ap.Addr().Unmap():
	default:
	}
}

func (p peers) want(t *testing.T, want string) {
	t.Helper()
	select {
	case got := <-p:
		if got.String() != want {
			t.Fatalf("probe came from %s, want %s", got, want)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the server saw no probe")
	}
}

// TestProbeSource: every kind sends its probe from Spec.Source.
func TestProbeSource(t *testing.T) {
	p := make(peers, 16)
	tcpLn := listen(t)
	go func() {
		for {
			c, err := tcpLn.Accept()
			if err != nil {
				return
			}
			p.note(c.RemoteAddr())
			go func() { // watch: answer the send line, then hold
				defer c.Close()
				if l, err := bufio.NewReader(c).ReadString('\n'); err == nil && strings.HasPrefix(l, "hello") {
					c.Write([]byte("ready\n"))
				}
			}()
		}
	}()
	httpLn := listen(t)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ap, _ := net.ResolveTCPAddr("tcp", r.RemoteAddr)
		p.note(ap)
	}), ReadHeaderTimeout: time.Second}
	go srv.Serve(httpLn)
	t.Cleanup(func() { srv.Close() })
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dsrv := &dns.Server{PacketConn: pc, Handler: dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
		p.note(w.RemoteAddr())
		m := new(dns.Msg)
		m.SetReply(r)
		w.WriteMsg(m)
	})}
	go dsrv.ActivateAndServe()
	t.Cleanup(func() { dsrv.Shutdown() })

	for _, tc := range []struct {
		name string
		addr net.Addr
		spec Spec
	}{
		{"tcp", tcpLn.Addr(), Spec{Kind: "tcp"}},
		{"watch", tcpLn.Addr(), Spec{Kind: "watch", Send: "hello", Expect: "ready"}},
		{"http", httpLn.Addr(), Spec{Kind: "http"}},
		{"dns", pc.LocalAddr(), Spec{Kind: "dns", QName: "example.test"}},
	} {
		for _, src := range []string{srcA, srcB} {
			t.Run(tc.name+"/"+src, func(t *testing.T) {
				tc.spec.Source = src
				tg := Target{Addr: addrOf(t, tc.addr), Spec: new(tc.spec)}
				if tc.spec.Kind == "watch" {
					s, err := WatchProber{}.Open(t.Context(), Target{Addr: tg.Addr, Spec: new(tg.Spec.WithDefaults())})
					if err != nil {
						t.Fatal(err)
					}
					s.Close()
				} else {
					wantErr(t, probe(t, tg, 2*time.Second), "")
				}
				p.want(t, src)
			})
		}
	}
}

// TestCheckerProbeSource runs a tcp target with a source on the real
// clock: it leaves the epoll loop (whose sockets are not bound) and its
// probes still come from the source.
func TestCheckerProbeSource(t *testing.T) {
	p := make(peers, 64)
	ln := listen(t)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.note(c.RemoteAddr())
			c.Close()
		}
	}()
	tg := Target{Addr: addrOf(t, ln.Addr()), Spec: &Spec{Source: srcA, Interval: 200 * time.Millisecond, Timeout: 100 * time.Millisecond}}
	_, w := runChecker(t, tg)
	w.next(t, Up, 5*time.Second)
	p.want(t, srcA)
}

// TestSourceKey: the source is part of the key (two sources, two probe
// loops) but not of the view key, which instances compare.
func TestSourceKey(t *testing.T) {
	a := Target{Addr: netip.MustParseAddrPort("192.0.2.1:80"), Spec: &Spec{Source: "192.0.2.100"}}
	b := Target{Addr: a.Addr, Spec: &Spec{Source: "192.0.2.101"}}
	plain := Target{Addr: a.Addr, Spec: &Spec{}}
	if a.Key() == b.Key() {
		t.Fatalf("two sources share the key %s", a.Key())
	}
	if a.ViewKey() != b.ViewKey() || a.ViewKey() != plain.Key() {
		t.Fatalf("view keys differ: %s %s %s", a.ViewKey(), b.ViewKey(), plain.Key())
	}
}

func TestSourceValidate(t *testing.T) {
	for _, src := range []string{"nope", "0.0.0.0", "::", "fe80::1%eth0"} {
		s := Spec{Source: src}.WithDefaults()
		if err := s.Validate(); err == nil || !strings.Contains(err.Error(), "source") {
			t.Errorf("source %q: %v", src, err)
		}
	}
	if err := (Spec{Source: "127.0.0.7"}).WithDefaults().Validate(); err != nil {
		t.Errorf("a good source refused: %v", err)
	}
}
