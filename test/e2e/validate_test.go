package e2e

import (
	"bytes"
	"context"
	"errors"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// runHadns runs the binary with args in dir and returns its exit code and
// output. It never starts a server: a command that runs longer than the
// timeout is killed and fails the test.
func runHadns(t *testing.T, dir string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, hadnsBin, args...)
	cmd.Dir = dir
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case ctx.Err() != nil:
		t.Fatalf("hadns %s did not finish in time", strings.Join(args, " "))
	case errors.As(err, &exit):
		code = exit.ExitCode()
	case err != nil:
		t.Fatal(err)
	}
	return code, out.String(), errOut.String()
}

// hadns check on a Corefile and zone file seeded with problems prints every
// one as file:line: message and exits 1, serving nothing.
func TestCheckCommandReportsEveryProblem(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "Corefile"), `example.test:1053 {
    log
    hadns {
        zone zones/bad.yaml
        reload soon
        site east 10.1.0.0/16 fallback west
        mystery 1
    }
    prometheus 127.0.0.1:1
    cahce 30
}
`)
	writeFile(t, filepath.Join(dir, "zones/bad.yaml"), `origin: example.test.
soa: {mname: ns1.example.test., rname: hostmaster.example.test.}
ns: [ns1]
records: |
  ns1 A 127.0.0.1
services:
  - name: api
    ttl: 10
    degraded_ttl: 30
    port: 8080
    check: {kind: htp}
    backends:
      - {address: 10.1.0.1, site: east}
      - {address: 10.1.0.1, site: east}
`)
	code, stdout, stderr := runHadns(t, dir, "check")
	if code != 1 {
		t.Fatalf("exit %d, want 1; stderr:\n%s", code, stderr)
	}
	if stdout != "" {
		t.Errorf("stdout %q, want nothing on failure", stdout)
	}
	want := []string{
		`Corefile:5: reload: "soon" is not a duration like 2s`,
		`Corefile:6: site east: fallback names unknown site "west"`,
		`Corefile:7: unknown property "mystery"`,
		`Corefile:10: Unknown directive 'cahce'`,
		`zones/bad.yaml:9: service api.example.test.: degraded_ttl 30 is above ttl 10`,
		`zones/bad.yaml:11: check: `,
		`zones/bad.yaml:14: service api.example.test.: backend 10.1.0.1:8080 is listed twice (first on line 13)`,
		`Corefile: 7 problem(s)`,
	}
	lines := strings.Split(strings.TrimSuffix(stderr, "\n"), "\n")
	if len(lines) != len(want) {
		t.Fatalf("stderr has %d lines, want %d:\n%s", len(lines), len(want), stderr)
	}
	for i, w := range want {
		if !strings.HasPrefix(lines[i], w) {
			t.Errorf("line %d: %q, want it to start with %q", i+1, lines[i], w)
		}
	}
}

// The example Corefile checks clean; the table shows its one service's
// failover budget, and the command exits 0 rather than serving.
func TestCheckCommandExample(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := runHadns(t, root, "check", "-conf", "Corefile.example")
	if code != 0 || stderr != "" {
		t.Fatalf("exit %d, stderr:\n%s", code, stderr)
	}
	row := regexp.MustCompile(`(?m)^dns://example\.test\.:1053\s+api\.example\.test\.\s+2\.85s\s+10s\s+12\.85s\s+-$`)
	if !row.MatchString(stdout) || !strings.HasSuffix(stdout, "Corefile.example: OK\n") {
		t.Fatalf("stdout:\n%s", stdout)
	}

	if code, _, _ := runHadns(t, root, "check", "-conf", "no-such-Corefile"); code != 2 {
		t.Errorf("missing Corefile: exit %d, want 2", code)
	}
}
