package e2e

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// ghostAddr is where the rejected configuration's only new backend listens;
// no other test uses 127.0.95.x.
const ghostAddr = "127.0.95.1"

// A Corefile reload that fails after the new instance's start-up hooks ran
// (here: a second server block on a port that is taken) must leave hadns
// exactly as it was: the live admin token still works and the rejected
// one's gets 401, overrides go to the live state file, the rejected
// configuration's services are neither in the status nor in the metrics,
// and nothing probes its backends.
func TestFailedCorefileReloadLeavesNoGhost(t *testing.T) {
	t.Parallel()
	s, port, _ := startAdminServer(t)
	poll(t, "east backends healthy", admLimit, func() error {
		a, _, err := admAnswer(s)
		if err == nil && !slices.Equal(a, admEast) {
			err = fmt.Errorf("east client gets %v, want %v", a, admEast)
		}
		return err
	})

	// The ghost backend counts the probes it gets.
	ghost, err := net.Listen("tcp", ghostAddr+":0")
	if err != nil {
		t.Fatal(err)
	}
	defer ghost.Close()
	var probes atomic.Int64
	go func() {
		for {
			c, err := ghost.Accept()
			if err != nil {
				return
			}
			probes.Add(1)
			c.Close()
		}
	}()
	// The port the rejected Corefile's second server block wants.
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	udpTaken, err := net.ListenPacket("udp", taken.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer udpTaken.Close()

	ghostPort := ghost.Addr().(*net.TCPAddr).Port
	zone := adminZone(port) + fmt.Sprintf(`  - name: ghost
    port: %d
    check: {kind: tcp, interval: 100ms, timeout: 50ms, fast_interval: 100ms}
    backends:
      - {address: %s, site: east}
`, ghostPort, ghostAddr)
	writeFile(t, filepath.Join(s.Dir, "ghost.yaml"), zone)
	writeFile(t, filepath.Join(s.Dir, "token2"), "rejected-token\n")
	corefile := strings.NewReplacer(
		"{{.Port}}", fmt.Sprint(s.Ports.Port),
		"{{.MetricsPort}}", fmt.Sprint(s.Ports.MetricsPort),
		"{{.AdminPort}}", fmt.Sprint(s.Ports.AdminPort),
		"zone admin.test.yaml", "zone ghost.yaml",
		"admin_token_file token", "admin_token_file token2",
		"state state.json", "state other.json",
	).Replace(adminCorefile) + fmt.Sprintf("taken.test:%d {\n    bind 127.0.0.1\n    whoami\n}\n", taken.Addr().(*net.TCPAddr).Port)
	replaceFile(t, filepath.Join(s.Dir, "Corefile"), corefile)
	mark := len(s.Output())
	if err := s.cmd.Process.Signal(syscall.SIGUSR1); err != nil {
		t.Fatal(err)
	}
	if missing := s.waitOutput(mark, []string{"Restart failed"}, admLimit); len(missing) > 0 {
		t.Fatalf("the reload did not fail as it should:\n%s", s.Output()[mark:])
	}

	ghostBefore := probes.Load()

	status := func(token string) (int, string) {
		req, _ := http.NewRequest("GET", fmt.Sprintf("http://127.0.0.1:%d/v1/status", s.Ports.AdminPort), nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := (&http.Client{Timeout: queryTimeout}).Do(req)
		if err != nil {
			t.Fatalf("status: %v", err)
		}
		defer resp.Body.Close()
		var b strings.Builder
		buf := make([]byte, 64<<10)
		for i := 0; i < 1000; i++ {
			n, err := resp.Body.Read(buf)
			b.Write(buf[:n])
			if err != nil {
				break
			}
		}
		return resp.StatusCode, b.String()
	}
	code, body := status(admToken)
	if code != 200 {
		t.Errorf("the live token gets %d after the failed reload, want 200", code)
	}
	if strings.Contains(body, "ghost") {
		t.Errorf("the status shows the rejected configuration's service:\n%s", body)
	}
	if code, _ := status("rejected-token"); code != 401 {
		t.Errorf("the rejected configuration's token gets %d, want 401", code)
	}

	// Overrides go to the live state file.
	drained := fmt.Sprintf("%s:%d", admEast[0], port)
	if out, code := ctlRun(t, s, "-token-file", filepath.Join(s.Dir, "token"), "drain", drained); code != 0 {
		t.Fatalf("drain with the live token: exit %d, %s", code, out)
	}
	if data, err := os.ReadFile(filepath.Join(s.Dir, "state.json")); err != nil || !strings.Contains(string(data), drained) {
		t.Errorf("the live state file lacks the drain: %v\n%s", err, data)
	}
	if _, err := os.Stat(filepath.Join(s.Dir, "other.json")); err == nil {
		t.Error("the rejected configuration's state file was written")
	}
	if m := scrape(t, s); strings.Contains(m, `service="ghost.admin.test."`) {
		t.Error("the metrics hold series of the rejected configuration's service")
	}

	// Nothing probes the ghost backend: at a 100 ms interval a live probe
	// loop connects about a dozen times in the window; one probe that was
	// already connecting when the reload failed may land.
	deadline := time.Now().Add(1300 * time.Millisecond)
	for i := 0; i < 30 && time.Now().Before(deadline); i++ {
		if n := probes.Load(); n > ghostBefore+1 {
			t.Fatalf("the ghost backend got %d more probes after the failed reload", n-ghostBefore)
		}
		time.Sleep(pollInterval)
	}
	if a, _, err := admAnswer(s); err != nil || slices.Contains(a, admEast[0]) || len(a) == 0 {
		t.Errorf("after the failed reload an east client gets %v (%v), want the live config's answer with the drain", a, err)
	}
}
