package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/miekg/dns"

	"github.com/hadns/hadns/test/internal/loadtest"
)

// server is one DNS server under test.
type server struct {
	name      string
	bin       string
	port      int
	addr      string // 127.0.0.1:port
	pprofAddr string
	proc      *loadtest.Proc
}

// startServer writes the server's files into a directory of its own under
// dir and starts it pinned to cpu on free ports, retrying when a port was
// taken meanwhile; it returns once the server answers for the origin.
func startServer(ctx context.Context, name, bin, dir string, cpu int, corefile func(port, pprofPort int) string, files map[string]string) (*server, error) {
	sdir := filepath.Join(dir, name)
	if err := os.MkdirAll(sdir, 0o755); err != nil {
		return nil, err
	}
	for f, text := range files {
		if err := os.WriteFile(filepath.Join(sdir, f), []byte(text), 0o644); err != nil {
			return nil, err
		}
	}
	var lastErr error
	for attempt := 0; attempt < 4 && ctx.Err() == nil; attempt++ {
		port, err := loadtest.FreePort()
		if err != nil {
			return nil, err
		}
		pport, err := loadtest.FreePort()
		if err != nil {
			return nil, err
		}
		if err := os.WriteFile(filepath.Join(sdir, "Corefile"), []byte(corefile(port, pport)), 0o644); err != nil {
			return nil, err
		}
		p, err := loadtest.StartProc(name, bin, []string{"-conf", "Corefile"}, sdir, cpu)
		if err != nil {
			return nil, err
		}
		s := &server{name: name, bin: bin, port: port, addr: fmt.Sprintf("127.0.0.1:%d", port), pprofAddr: fmt.Sprintf("127.0.0.1:%d", pport), proc: p}
		_, err = loadtest.WaitAnswer(ctx, s.addr, origin, dns.TypeSOA, 50*time.Millisecond, time.Now(), 20*time.Second,
			func(m *dns.Msg) bool { return m.Rcode == dns.RcodeSuccess })
		if err == nil && p.Alive() {
			return s, nil
		}
		p.Stop()
		lastErr = fmt.Errorf("%s did not answer on %s: %v\n%s", name, s.addr, err, p.Out.String())
		if !strings.Contains(p.Out.String(), "address already in use") {
			break
		}
	}
	if lastErr == nil {
		lastErr = context.Cause(ctx)
	}
	return nil, lastErr
}
