// Package etcdtest runs a real single-member etcd server (the `etcd` binary
// from Debian's etcd-server package) on free loopback ports with a private
// data directory, for the store's tests and its scale program. A server can
// be killed and started again on the same ports and data, which is how the
// tests take etcd away from a running store and give it back.
package etcdtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"go.etcd.io/etcd/client/pkg/v3/transport"
)

// Server is one etcd member under test control.
type Server struct {
	// Endpoint is the client URL (http://127.0.0.1:PORT).
	Endpoint string
	// DataDir is the member's data directory; it survives Kill.
	DataDir string

	bin        string
	clientPort int
	peerPort   int
	tlsFiles   *TLSFiles
	httpc      *http.Client

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
	log  syncBuffer
}

// syncBuffer is written by the process's output copier and read by Log.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func (b *syncBuffer) Reset() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf.Reset()
}

// startTimeout bounds how long Start waits for a member to report healthy.
const startTimeout = 20 * time.Second

// Start launches etcd with its data in dir (created if needed). It fails,
// never skips, when the binary is missing: the store cannot be proven
// without it. The binary is taken from $ETCD_BIN, else `etcd` on $PATH.
func Start(dir string) (*Server, error) { return StartTLS(dir, nil) }

// TLSFiles are PEM files for a member that serves clients over TLS and
// requires a client certificate signed by CAFile. ClientCert and
// ClientKey are used for the readiness check only.
type TLSFiles struct {
	CertFile, KeyFile, CAFile string
	ClientCert, ClientKey     string
}

// StartTLS is Start with client TLS when files is not nil.
func StartTLS(dir string, files *TLSFiles) (*Server, error) {
	bin := os.Getenv("ETCD_BIN")
	if bin == "" {
		p, err := exec.LookPath("etcd")
		if err != nil {
			return nil, fmt.Errorf("etcd binary not found (install Debian package etcd-server or set ETCD_BIN): %w", err)
		}
		bin = p
	}
	cp, err := freePort()
	if err != nil {
		return nil, err
	}
	pp, err := freePort()
	if err != nil {
		return nil, err
	}
	scheme := "http"
	httpc := http.DefaultClient
	if files != nil {
		scheme = "https"
		tc, err := (transport.TLSInfo{CertFile: files.ClientCert, KeyFile: files.ClientKey, TrustedCAFile: files.CAFile}).ClientConfig()
		if err != nil {
			return nil, err
		}
		httpc = &http.Client{Transport: &http.Transport{TLSClientConfig: tc}}
	}
	s := &Server{
		Endpoint:   scheme + "://127.0.0.1:" + strconv.Itoa(cp),
		tlsFiles:   files,
		httpc:      httpc,
		DataDir:    filepath.Join(dir, "etcd-data"),
		bin:        bin,
		clientPort: cp,
		peerPort:   pp,
	}
	if err := s.Restart(); err != nil {
		return nil, err
	}
	return s, nil
}

// freePort asks the kernel for a free loopback TCP port. It is released
// before etcd binds it; the window is small and only loopback is involved.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Restart starts the member again (same ports, same data) after Kill and
// waits until it answers /health.
func (s *Server) Restart() error {
	s.mu.Lock()
	if s.cmd != nil {
		s.mu.Unlock()
		return errors.New("etcd already running")
	}
	peer := "http://127.0.0.1:" + strconv.Itoa(s.peerPort)
	cmd := exec.Command(s.bin,
		"--name", "hadns-test",
		"--data-dir", s.DataDir,
		"--listen-client-urls", s.Endpoint,
		"--advertise-client-urls", s.Endpoint,
		"--listen-peer-urls", peer,
		"--initial-advertise-peer-urls", peer,
		"--initial-cluster", "hadns-test="+peer,
		"--initial-cluster-state", "new",
		// Short election timings make a restarted single member elect
		// itself fast, and give the shortest lease TTLs etcd allows.
		"--heartbeat-interval", "50",
		"--election-timeout", "500",
		"--log-level", "error",
	)
	if f := s.tlsFiles; f != nil {
		cmd.Args = append(cmd.Args, "--cert-file", f.CertFile, "--key-file", f.KeyFile,
			"--trusted-ca-file", f.CAFile, "--client-cert-auth")
	}
	s.log.Reset()
	cmd.Stdout = &s.log
	cmd.Stderr = &s.log
	if err := cmd.Start(); err != nil {
		s.mu.Unlock()
		return fmt.Errorf("start etcd: %w", err)
	}
	done := make(chan struct{})
	s.cmd, s.done = cmd, done
	s.mu.Unlock()
	go func() { _ = cmd.Wait(); close(done) }()

	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	tick := time.NewTicker(25 * time.Millisecond)
	defer tick.Stop()
	for {
		if healthy(ctx, s.httpc, s.Endpoint) {
			return nil
		}
		select {
		case <-done:
			return fmt.Errorf("etcd exited at start: %s", s.Log())
		case <-ctx.Done():
			s.Kill()
			return fmt.Errorf("etcd not healthy within %s: %s", startTimeout, s.Log())
		case <-tick.C:
		}
	}
}

func healthy(ctx context.Context, httpc *http.Client, endpoint string) bool {
	rctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, http.MethodGet, endpoint+"/health", nil)
	if err != nil {
		return false
	}
	resp, err := httpc.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// Kill stops the member with SIGKILL (no clean shutdown, as a crash would)
// and waits for the process to be gone. Killing a stopped member is a no-op.
func (s *Server) Kill() {
	s.mu.Lock()
	cmd, done := s.cmd, s.done
	s.cmd = nil
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Kill()
	<-done
}

// Log returns what the running (or last) member printed.
func (s *Server) Log() string {
	return s.log.String()
}
