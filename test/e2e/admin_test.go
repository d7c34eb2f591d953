package e2e

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// The admin tests' world: real backends (`hadns demo`) on addresses no other
// test uses, a fast http check, the admin API on a free loopback port with a
// token, and a state file.
const (
	admName  = "api.admin.test."
	admSRV   = "_http._tcp.api.admin.test."
	admTTL   = 4
	admToken = "e2e-token"
	// admLimit bounds every wait: a first probe round, or a recompute.
	admLimit = 10 * time.Second
)

var (
	admEast   = []string{"127.0.91.1", "127.0.91.2"}
	admWest   = []string{"127.0.92.1"}
	admClient = "127.0.91.100" // in site east
)

const adminCorefile = `admin.test:{{.Port}} {
    bind 127.0.0.1
    errors
    prometheus 127.0.0.1:{{.MetricsPort}}
    hadns {
        zone admin.test.yaml
        site east 127.0.91.0/24 fallback west
        site west 127.0.92.0/24 fallback east
        reload 0
        admin 127.0.0.1:{{.AdminPort}}
        admin_token_file token
        state state.json
    }
}
`

func adminZone(port int) string {
	var b strings.Builder
	fmt.Fprintf(&b, `origin: admin.test.
soa: {mname: ns1.admin.test., rname: hostmaster.admin.test., serial: 1}
ns: [ns1]
records: |
  ns1 A 127.0.0.1
services:
  - name: api
    ttl: %d
    port: %d
    srv: [_http._tcp]
    check: {kind: http, path: /healthz, interval: 300ms, timeout: 200ms, fast_interval: 100ms}
    backends:
`, admTTL, port)
	for _, h := range admEast {
		fmt.Fprintf(&b, "      - {address: %s, site: east}\n", h)
	}
	for _, h := range admWest {
		fmt.Fprintf(&b, "      - {address: %s, site: west}\n", h)
	}
	return b.String()
}

// startAdminServer starts backends and a hadns with the admin API.
func startAdminServer(t *testing.T) (*server, int, []*demoBackend) {
	t.Helper()
	port, bs := startDemoSet(t, append(slices.Clone(admEast), admWest...))
	s := startServer(t, adminCorefile, files{"admin.test.yaml": adminZone(port), "token": admToken + "\n"})
	return s, port, bs
}

// ctlRun runs `hadns ctl -addr ADMIN ARGS...` and returns its output and
// exit code.
func ctlRun(t *testing.T, s *server, args ...string) (string, int) {
	t.Helper()
	full := append([]string{"ctl", "-addr", fmt.Sprintf("127.0.0.1:%d", s.Ports.AdminPort), "-timeout", "5s"}, args...)
	cmd := exec.Command(hadnsBin, full...)
	cmd.Env = append(cmd.Environ(), "HADNS_ADMIN_TOKEN=")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return out.String(), 0
	case errors.As(err, &exit):
		return out.String(), exit.ExitCode()
	}
	t.Fatalf("hadns %v: %v", full, err)
	return "", -1
}

// admAnswer returns the A addresses and SRV targets an east client gets.
func admAnswer(s *server) (a, srv []string, err error) {
	cl := &dns.Client{Net: "udp", Timeout: queryTimeout,
		Dialer: &net.Dialer{Timeout: queryTimeout, LocalAddr: &net.UDPAddr{IP: net.ParseIP(admClient)}}}
	for _, q := range []struct {
		name  string
		qtype uint16
	}{{admName, dns.TypeA}, {admSRV, dns.TypeSRV}} {
		r, _, err := cl.Exchange(query(q.name, q.qtype, 1232), s.Addr)
		if err != nil {
			return nil, nil, err
		}
		for _, rr := range r.Answer {
			switch rr := rr.(type) {
			case *dns.A:
				a = append(a, rr.A.String())
			case *dns.SRV:
				srv = append(srv, strings.TrimSuffix(rr.Target, "."+admName))
			}
		}
	}
	slices.Sort(a)
	return a, srv, nil
}

// poll runs check until it returns nil or limit passes.
func poll(t *testing.T, what string, limit time.Duration, check func() error) {
	t.Helper()
	deadline := time.Now().Add(limit)
	var err error
	for i := 0; i < int(limit/pollInterval)+1; i++ {
		if err = check(); err == nil {
			return
		}
		if time.Now().After(deadline) {
			break
		}
		time.Sleep(pollInterval)
	}
	t.Fatalf("%s: not within %v: %v", what, limit, err)
}

// TestDrainWithCtl drains a backend with `hadns ctl`: it leaves A and SRV
// answers at once, `hadns ctl status` shows its drain_safe_at (the drain
// time plus the TTL it went out with), the metrics export it, and undrain
// brings it back. Wrong tokens and an unreachable API give their exit codes.
func TestDrainWithCtl(t *testing.T) {
	t.Parallel()
	s, port, _ := startAdminServer(t)
	drained := fmt.Sprintf("%s:%d", admEast[0], port)
	poll(t, "east backends healthy", admLimit, func() error {
		a, _, err := admAnswer(s)
		if err == nil && !slices.Equal(a, admEast) {
			err = fmt.Errorf("east client gets %v, want %v", a, admEast)
		}
		return err
	})

	if out, code := ctlRun(t, s, "drain", drained); code != 1 || !strings.Contains(out, "401") {
		t.Errorf("drain without a token: exit %d, %s", code, out)
	}
	tokenFile := filepath.Join(s.Dir, "token")
	before := time.Now()
	out, code := ctlRun(t, s, "-token-file", tokenFile, "drain", drained, "-reason", "e2e", "-by", "tester")
	if code != 0 || !strings.Contains(out, "api.admin.test/"+drained) {
		t.Fatalf("drain: exit %d, %s", code, out)
	}
	after := time.Now()

	// Out of the answers as soon as the API answered: no probe involved.
	a, srv, err := admAnswer(s)
	if err != nil || slices.Contains(a, admEast[0]) || slices.Contains(srv, strings.ReplaceAll(admEast[0], ".", "-")) {
		t.Fatalf("right after the drain an east client gets A %v SRV %v (%v)", a, srv, err)
	}
	if missing := s.waitOutput(0, []string{"override set: drain backend " + drained, "by tester", `reason "e2e"`}, admLimit); len(missing) > 0 {
		t.Errorf("log lacks %q", missing)
	}

	out, code = ctlRun(t, s, "status")
	row := regexp.MustCompile(`(?m)^\s*east\s+` + regexp.QuoteMeta(drained) + `\s+drained.*\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d.*$`)
	if code != 0 || !row.MatchString(out) {
		t.Fatalf("ctl status: exit %d, no drained row with a drain_safe_at:\n%s", code, out)
	}
	out, code = ctlRun(t, s, "status", "--json")
	var doc struct {
		Zones []struct {
			Services []struct {
				Backends []struct {
					ID          string
					State       string
					DrainSafeAt *time.Time `json:"drain_safe_at"`
				}
			}
		}
	}
	if err := json.Unmarshal([]byte(out), &doc); code != 0 || err != nil || len(doc.Zones) != 1 {
		t.Fatalf("ctl status --json: exit %d, %v:\n%s", code, err, out)
	}
	for _, b := range doc.Zones[0].Services[0].Backends {
		if b.ID != drained {
			continue
		}
		lo, hi := before.Add(admTTL*time.Second), after.Add(admTTL*time.Second)
		if b.State != "drained" || b.DrainSafeAt == nil || b.DrainSafeAt.Before(lo.Add(-time.Second)) || b.DrainSafeAt.After(hi.Add(time.Second)) {
			t.Fatalf("drained backend %+v: drain_safe_at should be the drain time + TTL %ds, between %v and %v", b, admTTL, lo, hi)
		}
	}

	metrics := httpBody(t, fmt.Sprintf("http://127.0.0.1:%d/metrics", s.Ports.MetricsPort))
	for _, want := range []string{
		fmt.Sprintf(`coredns_hadns_backend_override{backend="%s",override="drain",service="%s",site="east"} 1`, drained, admName),
		fmt.Sprintf(`coredns_hadns_drain_safe_at_timestamp_seconds{backend="%s",service="%s",site="east"}`, drained, admName),
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %s", want)
		}
	}

	if out, code := ctlRun(t, s, "-token-file", tokenFile, "down", "-site", "mars"); code != 1 || !strings.Contains(out, "404") {
		t.Errorf("down on a site that does not exist: exit %d, %s", code, out)
	}
	if out, code := ctlRun(t, s, "-token-file", tokenFile, "undrain", drained); code != 0 {
		t.Fatalf("undrain: exit %d, %s", code, out)
	}
	poll(t, "undrained backend back", admLimit, func() error {
		a, _, err := admAnswer(s)
		if err == nil && !slices.Equal(a, admEast) {
			err = fmt.Errorf("east client gets %v, want %v", a, admEast)
		}
		return err
	})
	if out, code := ctlRun(t, s, "frobnicate"); code != 2 {
		t.Errorf("unknown command: exit %d, %s", code, out)
	}
	cmd := exec.Command(hadnsBin, "ctl", "-addr", fmt.Sprintf("127.0.0.1:%d", s.Ports.Port), "-timeout", "2s", "status")
	if err := cmd.Run(); cmd.ProcessState == nil || cmd.ProcessState.ExitCode() != 3 {
		t.Errorf("status from an address with no admin API: %v, want exit 3", err)
	}
}

func httpBody(t *testing.T, url string) string {
	t.Helper()
	c := &http.Client{Timeout: queryTimeout}
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET %s: %s %v", url, resp.Status, err)
	}
	return string(body)
}
