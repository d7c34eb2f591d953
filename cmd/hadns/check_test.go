package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

func runCheck(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut strings.Builder
	code = check(args, &out, &errOut)
	return code, out.String(), errOut.String()
}

// The example Corefile is valid, and its one service's worst case is the
// http check's detection bound at the defaults (1.05 s longest jittered
// interval + 200 ms fast interval + 2 × 800 ms timeouts = 2.85 s) plus its
// TTL of 10 s.
func TestCheckExample(t *testing.T) {
	t.Chdir("../..") // the example names its zone file relative to the repository
	code, out, errOut := runCheck(t, "-conf", "Corefile.example")
	if code != checkOK || errOut != "" {
		t.Fatalf("exit %d, stderr:\n%s", code, errOut)
	}
	header := regexp.MustCompile(`(?m)^SERVER\s+SERVICE\s+DETECTION\s+TTL\s+WORST CASE\s+BUDGET$`)
	row := regexp.MustCompile(`(?m)^dns://example\.test\.:1053\s+api\.example\.test\.\s+2\.85s\s+10s\s+12\.85s\s+-$`)
	if !header.MatchString(out) || !row.MatchString(out) || !strings.HasSuffix(out, "Corefile.example: OK\n") {
		t.Fatalf("output:\n%s", out)
	}
}

func TestCheckExitCodes(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "Corefile")
	zone := filepath.Join(dir, "z.yaml")
	if err := os.WriteFile(bad, []byte("example.test {\n    hadns {\n        zone "+zone+"\n        reload soon\n    }\n    nonsense\n}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(zone, []byte("origin: example.test.\nsoa: {mname: a., rname: b.}\nns: [ns1.example.org.]\ncolor: red\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runCheck(t, "-conf", bad)
	if code != checkInvalid || out != "" {
		t.Fatalf("exit %d, stdout %q, want %d and nothing", code, out, checkInvalid)
	}
	want := []string{
		bad + `:4: reload: "soon" is not a duration like 2s`,
		bad + `:6: Unknown directive 'nonsense'`,
		zone + `:4: unknown key "color"`,
		bad + ": 3 problem(s)",
	}
	if got := strings.Split(strings.TrimSuffix(errOut, "\n"), "\n"); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("stderr:\n%s\nwant:\n%s", errOut, strings.Join(want, "\n"))
	}

	for _, args := range [][]string{{"-conf", filepath.Join(dir, "missing")}, {"-bogus"}, {"extra"}} {
		if code, _, _ := runCheck(t, args...); code != checkUsage {
			t.Errorf("%q: exit %d, want %d", args, code, checkUsage)
		}
	}
}

// A value of the wrong type in a zone file does not hide the file's other
// problems: every one is printed in one run, each with its key and line.
func TestCheckZoneTypeErrors(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "Corefile")
	zone := filepath.Join(dir, "z.yaml")
	if err := os.WriteFile(conf, []byte("example.test {\n    hadns {\n        zone "+zone+"\n    }\n}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	const z = `origin: example.test.
ttl: -3
soa: {mname: ns1.example.org., rname: h.example.org.}
ns: [ns1.example.org.]
records: |
  $TTL 1h
  big 2147483648 A 192.0.2.1
services:
  - name: api
    ttl: 4294967296
    port: 80
    backends:
      - {address: 192.0.2.300, site: a}
`
	if err := os.WriteFile(zone, []byte(z), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runCheck(t, "-conf", conf)
	if code != checkInvalid || out != "" {
		t.Fatalf("exit %d, stdout %q, want %d and nothing", code, out, checkInvalid)
	}
	want := []string{
		zone + `:2: ttl: "-3" is not a TTL: seconds, or a number with units s, m, h, d, w (like 3600 or 1h)`,
		zone + `:7: records: TTL 2147483648 is above 2147483647, the largest TTL (RFC 2181 §8)`,
		zone + `:10: ttl: "4294967296" is above 2147483647, the largest TTL (RFC 2181 §8)`,
		zone + `:13: service api.example.test.: address "192.0.2.300" is not an IPv4 or IPv6 address`,
		conf + ": 4 problem(s)",
	}
	if got := strings.TrimSuffix(errOut, "\n"); got != strings.Join(want, "\n") {
		t.Fatalf("stderr:\n%s\nwant:\n%s", errOut, strings.Join(want, "\n"))
	}
}

// A CoreDNS plugin left out of the binary is named as such; a typing
// mistake stays an unknown directive.
func TestCheckLeftOutPlugin(t *testing.T) {
	conf := filepath.Join(t.TempDir(), "Corefile")
	if err := os.WriteFile(conf, []byte("example.test {\n    kubernetes\n    cahce\n    loadbalance\n}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, errOut := runCheck(t, "-conf", conf)
	want := []string{
		conf + ":2: Unknown directive 'kubernetes': a CoreDNS plugin that is not compiled into hadns (hadns -plugins lists those that are)",
		conf + ":3: Unknown directive 'cahce'",
		conf + ":4: Unknown directive 'loadbalance': a CoreDNS plugin that is not compiled into hadns (hadns -plugins lists those that are)",
		conf + ": 3 problem(s)",
	}
	if code != checkInvalid || strings.TrimSuffix(errOut, "\n") != strings.Join(want, "\n") {
		t.Fatalf("exit %d, stderr:\n%s\nwant:\n%s", code, errOut, strings.Join(want, "\n"))
	}
}

// A configuration whose precomputed answers would be large gets a note with
// the estimate; the example's do not.
func TestCheckReportsLargeAnswerMemory(t *testing.T) {
	dir := t.TempDir()
	var z strings.Builder
	z.WriteString("origin: big.test.\nsoa: {mname: ns1, rname: h}\nns: [ns1]\nrecords: |\n  ns1 A 192.0.2.53\nservices:\n  - name: api\n    port: 80\n    max_answers: 64\n    backends:\n")
	for i := range 900 {
		// Each backend its own site: 901 site orders of 900 rotations.
		z.WriteString("      - {address: 10.0." + itoa(i/256) + "." + itoa(i%256) + ", site: s" + itoa(i) + "}\n")
	}
	if err := os.WriteFile(filepath.Join(dir, "z.yaml"), []byte(z.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(dir, "Corefile")
	if err := os.WriteFile(conf, []byte("big.test {\n    hadns {\n        zone "+filepath.Join(dir, "z.yaml")+"\n    }\n}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runCheck(t, "-conf", conf)
	if code != checkOK || !regexp.MustCompile(`(?m)^note: the precomputed answers of this configuration take about \d+ MiB`).MatchString(out) {
		t.Fatalf("exit %d, stdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
}

func itoa(i int) string { return strconv.Itoa(i) }
