package e2e

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// reloadZone is a small zone whose www address the reload tests change.
// extraSOA goes at the end of the soa mapping (line 8), wwwLines after the
// record on line 12, so errors land on known lines.
func reloadZone(extraSOA, www string, wwwLines ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, `origin: reload.test.
ttl: 60
soa:
  mname: ns1.reload.test.
  rname: hostmaster.reload.test.
  serial: 1
  minimum: 30
%sns:
  - ns1
records: |
  ns1    A   127.0.0.1
  www    A   %s
`, extraSOA, www)
	for _, l := range wwwLines {
		b.WriteString("  " + l + "\n")
	}
	return b.String()
}

// reloadCorefile serves reload.test with the given reload line (empty:
// the default interval).
func reloadCorefile(reload string) string {
	return `reload.test:{{.Port}} {
    bind 127.0.0.1
    errors
    hadns {
        zone reload.test.yaml
        ` + reload + `
    }
}
`
}

// reloadTimeout bounds how long a changed file may take to be served (or
// its errors logged).
const reloadTimeout = 8 * time.Second

// TestReload changes a zone file under a running server: a good change is
// served within the timeout; a broken file keeps the old zone serving and
// logs file:line for every error; fixing it serves the fix.
func TestReload(t *testing.T) {
	t.Parallel()
	s := startServer(t, reloadCorefile("reload 200ms"), files{"reload.test.yaml": reloadZone("", "127.0.0.101")})
	path := filepath.Join(s.Dir, "reload.test.yaml")
	wantWWW(t, s, "127.0.0.101")

	replaceFile(t, path, reloadZone("", "127.0.0.102"))
	pollWWW(t, s, "127.0.0.102", reloadTimeout)

	broken := []struct {
		name    string
		content string
		lines   []string // file:line prefixes the log must hold
	}{
		{"unknown key", reloadZone("  refersh: 3600\n", "127.0.0.103"), []string{"reload.test.yaml:8: "}},
		{"bad record", reloadZone("", "127.0.0.103", "www    A   not-an-address"), []string{"reload.test.yaml:13: "}},
		{"unknown key and bad record", reloadZone("  refersh: 3600\n", "127.0.0.103", "www    A   127.0.0.104", "www    A   999.1.1.1"),
			[]string{"reload.test.yaml:8: ", "reload.test.yaml:15: "}},
	}
	for _, b := range broken {
		mark := len(s.Output())
		replaceFile(t, path, b.content)
		if missing := s.waitOutput(mark, b.lines, reloadTimeout); len(missing) > 0 {
			t.Errorf("%s: after %v the log has no error for %q", b.name, reloadTimeout, missing)
		}
		// The bad version was read (its errors are logged): the old zone
		// must still be the one served.
		wantWWW(t, s, "127.0.0.102")
	}

	replaceFile(t, path, reloadZone("", "127.0.0.105"))
	pollWWW(t, s, "127.0.0.105", reloadTimeout)
}

// TestReloadDefaultInterval checks a change is picked up with the default
// interval (2 s), no reload line in the Corefile.
func TestReloadDefaultInterval(t *testing.T) {
	t.Parallel()
	s := startServer(t, reloadCorefile(""), files{"reload.test.yaml": reloadZone("", "127.0.0.101")})
	wantWWW(t, s, "127.0.0.101")
	replaceFile(t, filepath.Join(s.Dir, "reload.test.yaml"), reloadZone("", "127.0.0.102"))
	pollWWW(t, s, "127.0.0.102", reloadTimeout)
}

func wwwA(s *server, t *testing.T) []string {
	q := query("www.reload.test.", dns.TypeA, 0)
	r, _ := s.exchange(t, "udp", q)
	var out []string
	for _, rr := range r.Answer {
		if a, ok := rr.(*dns.A); ok {
			out = append(out, a.A.String())
		}
	}
	return out
}

func wantWWW(t *testing.T, s *server, addr string) {
	t.Helper()
	if got := wwwA(s, t); !slices.Equal(got, []string{addr}) {
		t.Errorf("www.reload.test. A = %v, want %s", got, addr)
	}
}

// pollWWW queries until www.reload.test. has only addr, or timeout passes.
func pollWWW(t *testing.T, s *server, addr string, timeout time.Duration) {
	t.Helper()
	start := time.Now()
	var got []string
	for i := 0; i <= int(timeout/pollInterval); i++ {
		if got = wwwA(s, t); slices.Equal(got, []string{addr}) {
			t.Logf("www.reload.test. A %s served after %v", addr, time.Since(start).Round(time.Millisecond))
			return
		}
		if time.Since(start) > timeout {
			break
		}
		time.Sleep(pollInterval)
	}
	t.Errorf("www.reload.test. A = %v after %v, want %s", got, timeout, addr)
}
