package store

import (
	"context"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/hadns/hadns/internal/store/etcdtest"
)

// startEtcd runs a real etcd for one test. Missing etcd fails the test:
// the store is only proven against the real thing.
func startEtcd(t *testing.T) *etcdtest.Server {
	t.Helper()
	dir := t.TempDir()
	// etcd fsyncs every write; on tmpfs that costs nothing, which keeps
	// the 1,000-edit test short. Behaviour is the same on disk.
	if d, err := os.MkdirTemp("/dev/shm", "hadns-etcd-"); err == nil {
		dir = d
		t.Cleanup(func() { os.RemoveAll(d) })
	}
	srv, err := etcdtest.Start(dir)
	if err != nil {
		t.Fatalf("etcd: %v", err)
	}
	t.Cleanup(srv.Kill)
	return srv
}

// testConfig is a Config with short timings so failures are seen fast.
func testConfig(endpoint string) Config {
	return Config{
		Endpoints:   []string{endpoint},
		DialTimeout: 500 * time.Millisecond,
		Heartbeat:   100 * time.Millisecond,
		InstanceTTL: time.Second,
		Instance:    "ns1",
	}
}

// fastBackoff keeps retries quick in tests.
var fastBackoff = Backoff(20*time.Millisecond, 200*time.Millisecond)

// newStore builds a store; it is closed at the end of the test.
func newStore(t *testing.T, cfg Config, opt Options) *Store {
	t.Helper()
	if opt.Backoff == nil {
		opt.Backoff = fastBackoff
	}
	if opt.Logf == nil {
		opt.Logf = t.Logf
	}
	s, err := New(cfg, opt)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	closed := false
	var mu sync.Mutex
	t.Cleanup(func() {
		mu.Lock()
		defer mu.Unlock()
		if !closed {
			closed = true
			s.Close()
		}
	})
	return s
}

// rawClient is a plain etcd client, for writing what hadns would refuse
// and for reading behind the store's back.
func rawClient(t *testing.T, endpoint string) *clientv3.Client {
	t.Helper()
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{endpoint}, DialTimeout: 2 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.Close() })
	return cli
}

// waitFor polls cond until it holds or the deadline passes; it returns how
// long it took.
func waitFor(t *testing.T, what string, limit time.Duration, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	deadline := start.Add(limit)
	for {
		if cond() {
			return time.Since(start)
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, limit)
		}
		time.Sleep(2 * time.Millisecond) // poll interval of a bounded wait
	}
}

// retry runs op until it succeeds or limit passes (etcd coming back).
func retry(t *testing.T, what string, limit time.Duration, op func(ctx context.Context) error) {
	t.Helper()
	var last error
	waitFor(t, what, limit, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		last = op(ctx)
		return last == nil
	})
	_ = last
}

// proxy is a TCP proxy on loopback that a test can cut and restore: it
// takes etcd away from one store while etcd stays up for everyone else.
type proxy struct {
	ln     net.Listener
	target string

	mu    sync.Mutex
	cut   bool
	conns []net.Conn
}

func newProxy(t *testing.T, endpoint string) *proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{ln: ln, target: strings.TrimPrefix(endpoint, "http://")}
	t.Cleanup(func() { ln.Close(); p.setCut(true) })
	go p.serve()
	return p
}

func (p *proxy) endpoint() string { return "http://" + p.ln.Addr().String() }

func (p *proxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		if p.cut {
			p.mu.Unlock()
			c.Close()
			continue
		}
		u, err := net.Dial("tcp", p.target)
		if err != nil {
			p.mu.Unlock()
			c.Close()
			continue
		}
		p.conns = append(p.conns, c, u)
		p.mu.Unlock()
		go func() { _, _ = io.Copy(u, c); u.Close() }()
		go func() { _, _ = io.Copy(c, u); c.Close() }()
	}
}

// setCut closes every open connection and refuses new ones (true), or
// accepts again (false).
func (p *proxy) setCut(cut bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = cut
	if cut {
		for _, c := range p.conns {
			c.Close()
		}
		p.conns = nil
	}
}
