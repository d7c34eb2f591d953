// Package e2e builds the real hadns binary once, starts it on free loopback
// ports and queries it over UDP and TCP with real clients: miekg/dns, Go's
// own resolver, and dig/kdig when they are installed.
//
// Run with `go test ./test/e2e/`. Set HADNS_BIN to a prebuilt binary to skip
// the build (CI builds once for every end-to-end package). The dig and kdig
// tests skip when neither tool is installed, but fail when CI=true.
package e2e

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
	"strings"
	"syscall"
	"testing"
	"text/template"
	"time"

	"github.com/hadns/hadns/test/internal/dnsraw"
	"github.com/miekg/dns"

	"github.com/hadns/hadns/test/internal/loadtest"
)

// hadnsBin is the binary every test starts: HADNS_BIN, or one built by
// TestMain.
var hadnsBin string

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	if bin := os.Getenv("HADNS_BIN"); bin != "" {
		// Servers run in their own directories: make the path absolute
		// (a relative one is relative to this package's directory).
		abs, err := filepath.Abs(bin)
		if err == nil {
			_, err = os.Stat(abs)
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "e2e: HADNS_BIN=%s: %v\n", bin, err)
			return 1
		}
		hadnsBin = abs
	} else {
		dir, err := os.MkdirTemp("", "hadns-e2e-")
		if err != nil {
			fmt.Fprintf(os.Stderr, "e2e: %v\n", err)
			return 1
		}
		defer os.RemoveAll(dir)
		hadnsBin = filepath.Join(dir, "hadns")
		cmd := exec.Command("go", "build", "-o", hadnsBin, "github.com/hadns/hadns/cmd/hadns")
		if out, err := cmd.CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "e2e: go build: %v\n%s", err, out)
			return 1
		}
	}
	stop, err := startBackends()
	if err != nil {
		fmt.Fprintf(os.Stderr, "e2e: health-check backends: %v\n", err)
		return 1
	}
	defer stop()
	return m.Run()
}

// Timeouts. Everything that waits is bounded by one of these.
const (
	startTimeout = 15 * time.Second // binary started → answering on UDP and TCP
	stopTimeout  = 5 * time.Second  // SIGTERM → exited, else SIGKILL
	queryTimeout = 2 * time.Second  // one query and its reply
	pollInterval = 50 * time.Millisecond
)

// ports are the loopback ports a Corefile template can use: {{.Port}} for
// DNS (free on both UDP and TCP), the others for health, ready and
// prometheus, and {{.AdminPort}} for the admin API. {{.Dir}} is the server's directory (also its working
// directory, so relative zone paths work).
type ports struct {
	Port        int
	HealthPort  int
	ReadyPort   int
	MetricsPort int
	AdminPort   int // the hadns admin API
	Dir         string
}

// files are written into the server's directory before it starts: relative
// name → content.
type files map[string]string

// server is one running hadns binary.
type server struct {
	Addr  string // 127.0.0.1:port, UDP and TCP
	Ports ports
	Dir   string

	cmd  *exec.Cmd
	out  *loadtest.SyncBuffer
	done chan struct{} // closed when the process exited
	err  error         // Wait's result, set before done is closed
}

// startServer writes fs and the Corefile (a text/template over ports) into
// a fresh directory, starts hadns on free loopback ports, waits until it
// answers over UDP and over TCP, and stops it when the test ends. Its output
// is logged if the test fails. A port taken between our check and the
// server's bind is retried with new ports.
func startServer(t *testing.T, corefile string, fs files) *server {
	t.Helper()
	tmpl, err := template.New("Corefile").Option("missingkey=error").Parse(corefile)
	if err != nil {
		t.Fatalf("Corefile template: %v", err)
	}
	dir := t.TempDir()
	for name, content := range fs {
		writeFile(t, filepath.Join(dir, name), content)
	}
	const attempts = 4
	for attempt := 1; ; attempt++ {
		p, err := freePorts()
		if err != nil {
			t.Fatalf("free ports: %v", err)
		}
		p.Dir = dir
		var cf bytes.Buffer
		if err := tmpl.Execute(&cf, p); err != nil {
			t.Fatalf("Corefile template: %v", err)
		}
		writeFile(t, filepath.Join(dir, "Corefile"), cf.String())
		s, err := launch(dir, p)
		if err == nil {
			t.Cleanup(func() { s.stop(t) })
			return s
		}
		if attempt < attempts && strings.Contains(s.Output(), "address already in use") {
			t.Logf("attempt %d: a port was taken, retrying: %v", attempt, err)
			continue
		}
		t.Fatalf("hadns did not start: %v\nCorefile:\n%s\noutput:\n%s", err, cf.String(), s.Output())
	}
}

// launch starts the binary in dir and waits until it answers. On error the
// process is gone and s holds its output.
func launch(dir string, p ports) (*server, error) {
	s := &server{
		Addr:  fmt.Sprintf("127.0.0.1:%d", p.Port),
		Ports: p,
		Dir:   dir,
		out:   &loadtest.SyncBuffer{},
		done:  make(chan struct{}),
	}
	s.cmd = exec.Command(hadnsBin, "-conf", filepath.Join(dir, "Corefile"))
	s.cmd.Dir = dir
	s.cmd.Stdout, s.cmd.Stderr = s.out, s.out
	s.cmd.SysProcAttr = sysProcAttr()
	if err := s.cmd.Start(); err != nil {
		return s, err
	}
	go func() {
		s.err = s.cmd.Wait()
		close(s.done)
	}()
	if err := s.waitReady(); err != nil {
		s.kill()
		return s, err
	}
	return s, nil
}

// waitReady polls until the server answers a query (any rcode) over UDP and
// over TCP, the process exits, or startTimeout passes.
func (s *server) waitReady() error {
	probe := new(dns.Msg)
	probe.SetQuestion(".", dns.TypeSOA)
	wire, err := probe.Pack()
	if err != nil {
		return err
	}
	deadline := time.Now().Add(startTimeout)
	udpOK, tcpOK := false, false
	for i := 0; time.Now().Before(deadline) && i < int(startTimeout/pollInterval); i++ {
		select {
		case <-s.done:
			return fmt.Errorf("exited during start-up: %v", s.err)
		default:
		}
		if !udpOK {
			_, err := s.exchangeRaw("udp", wire, 200*time.Millisecond)
			udpOK = err == nil
		}
		if !tcpOK {
			_, err := s.exchangeRaw("tcp", wire, 200*time.Millisecond)
			tcpOK = err == nil
		}
		if udpOK && tcpOK {
			return nil
		}
		time.Sleep(pollInterval)
	}
	return fmt.Errorf("no answer on %s within %v (udp %v, tcp %v)", s.Addr, startTimeout, udpOK, tcpOK)
}

// stop sends SIGTERM, then SIGKILL after stopTimeout. A server that exited
// before the test ended (a crash) fails the test.
func (s *server) stop(t *testing.T) {
	select {
	case <-s.done:
		t.Errorf("hadns exited before the test ended: %v", s.err)
	default:
		_ = s.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-s.done:
		case <-time.After(stopTimeout):
			t.Errorf("hadns ignored SIGTERM for %v; killing it", stopTimeout)
			s.kill()
		}
	}
	if t.Failed() {
		t.Logf("hadns output (%s):\n%s", s.Addr, s.Output())
	}
}

func (s *server) kill() {
	_ = s.cmd.Process.Kill()
	<-s.done
}

// alive reports whether the process is still running.
func (s *server) alive() bool {
	select {
	case <-s.done:
		return false
	default:
		return true
	}
}

// Output returns everything the server wrote to stdout and stderr so far.
func (s *server) Output() string { return s.out.String() }

// waitOutput polls the server's output from byte offset from on (see
// Output) until it contains every substring of want, or timeout passes; it
// returns the ones still missing.
func (s *server) waitOutput(from int, want []string, timeout time.Duration) []string {
	deadline := time.Now().Add(timeout)
	for i := 0; ; i++ {
		out := s.Output()[from:]
		var missing []string
		for _, w := range want {
			if !strings.Contains(out, w) {
				missing = append(missing, w)
			}
		}
		if len(missing) == 0 || !time.Now().Before(deadline) || i > int(timeout/pollInterval) {
			return missing
		}
		time.Sleep(pollInterval)
	}
}

// freePorts finds a port free on 127.0.0.1 for both UDP and TCP, and four
// more TCP ports. They are released before the server binds them, so a
// race is possible; startServer retries.
func freePorts() (ports, error) {
	var p ports
	var err error
	if p.Port, err = loadtest.FreePort(); err != nil {
		return p, err
	}
	for _, dst := range []*int{&p.HealthPort, &p.ReadyPort, &p.MetricsPort, &p.AdminPort} {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return p, err
		}
		*dst = l.Addr().(*net.TCPAddr).Port
		defer l.Close() // held until all are chosen, so they differ
	}
	return p, nil
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// replaceFile writes content to path atomically (write and rename), so a
// server polling the file never reads half of it.
func replaceFile(t *testing.T, path, content string) {
	t.Helper()
	tmp := path + ".tmp"
	writeFile(t, tmp, content)
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// exchangeRaw sends one DNS message in wire format over network ("udp" or
// "tcp") to the server and returns the reply's wire bytes.
func (s *server) exchangeRaw(network string, wire []byte, timeout time.Duration) ([]byte, error) {
	return dnsraw.Exchange(network, s.Addr, wire, timeout)
}

// exchange sends m over network and returns the reply and its size on the
// wire. A UDP query that times out is sent again, at most twice more.
func (s *server) exchange(t testing.TB, network string, m *dns.Msg) (*dns.Msg, int) {
	t.Helper()
	wire, err := m.Pack()
	if err != nil {
		t.Fatalf("pack %v: %v", m.Question, err)
	}
	var reply []byte
	for try := 0; try < 3; try++ {
		reply, err = s.exchangeRaw(network, wire, queryTimeout)
		var ne net.Error
		if err == nil || network != "udp" || !errors.As(err, &ne) || !ne.Timeout() {
			break
		}
	}
	if err != nil {
		t.Fatalf("%s query %v: %v", network, m.Question, err)
	}
	r := new(dns.Msg)
	if err := r.Unpack(reply); err != nil {
		t.Fatalf("%s query %v: unpack reply: %v", network, m.Question, err)
	}
	return r, len(reply)
}

// networks are the transports every semantics test runs over.
var networks = []string{"udp", "tcp"}

// resolver returns a Go resolver that sends every query to s over network,
// whatever the system's resolv.conf says.
func (s *server) resolver(network string) *net.Resolver {
	return &net.Resolver{
		PreferGo: true,
		Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, s.Addr)
		},
	}
}

// Health-check backends: every service backend in the test zones listens
// on backendPort and answers GET /healthz with 200, so the answers stay the
// same once the checker runs probes.
var (
	backendPort  int
	backendAddrs = []string{"127.0.1.1", "127.0.1.2", "127.0.2.1"}
)

// startBackends starts an HTTP server on the same free port on every
// address of backendAddrs (all loopback: Linux routes 127.0.0.0/8 to lo).
func startBackends() (stop func(), err error) {
	h := http.NewServeMux()
	h.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("ok\n")) })
	for attempt := 0; attempt < 20; attempt++ {
		var ls []net.Listener
		l, err := net.Listen("tcp", net.JoinHostPort(backendAddrs[0], "0"))
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
		port := l.Addr().(*net.TCPAddr).Port
		for _, a := range backendAddrs[1:] {
			l, err := net.Listen("tcp", net.JoinHostPort(a, fmt.Sprint(port)))
			if err != nil {
				break
			}
			ls = append(ls, l)
		}
		if len(ls) < len(backendAddrs) {
			for _, l := range ls {
				l.Close()
			}
			continue
		}
		var srvs []*http.Server
		for _, l := range ls {
			srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
			srvs = append(srvs, srv)
			go srv.Serve(l)
		}
		backendPort = port
		return func() {
			for _, s := range srvs {
				s.Close()
			}
		}, nil
	}
	return nil, errors.New("no port free on every backend address")
}
