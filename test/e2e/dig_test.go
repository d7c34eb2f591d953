package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// digTool is a command-line DNS client and how to spell its options.
type digTool struct {
	name                  string
	tcp, noedns, ignoreTC string
	limits                []string // one try, short timeout
}

var digTools = []digTool{
	{name: "dig", tcp: "+tcp", noedns: "+noedns", ignoreTC: "+ignore", limits: []string{"+time=2", "+tries=1"}},
	{name: "kdig", tcp: "+tcp", noedns: "+noedns", ignoreTC: "+ignore", limits: []string{"+timeout=2", "+retry=0"}},
}

// digReply is what we read back from dig or kdig output.
type digReply struct {
	status string
	flags  []string
	answer []string // RRs as miekg/dns prints them, sorted
}

var (
	digStatus = regexp.MustCompile(`status: ([A-Z]+)`)
	digFlags  = regexp.MustCompile(`(?mi)^;; flags:([^;]*);`)
)

// parseDig reads status, header flags and the answer section from the
// output of dig or kdig (their formats differ in punctuation only).
func parseDig(out string) (digReply, error) {
	var r digReply
	m := digStatus.FindStringSubmatch(out)
	if m == nil {
		return r, fmt.Errorf("no status line")
	}
	r.status = m[1]
	f := digFlags.FindStringSubmatch(out)
	if f == nil {
		return r, fmt.Errorf("no flags line")
	}
	r.flags = strings.Fields(f[1])
	slices.Sort(r.flags)
	inAnswer := false
	for _, line := range strings.Split(out, "\n") {
		switch {
		case strings.HasPrefix(line, ";; ANSWER SECTION:"):
			inAnswer = true
		case inAnswer && strings.TrimSpace(line) == "":
			inAnswer = false
		case inAnswer:
			rr, err := dns.NewRR(line)
			if err != nil {
				return r, fmt.Errorf("answer line %q: %v", line, err)
			}
			r.answer = append(r.answer, rr.String())
		}
	}
	slices.Sort(r.answer)
	return r, nil
}

// runDig runs tool against s with +norec and the given arguments.
func runDig(t *testing.T, tool digTool, s *server, args ...string) digReply {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	argv := append([]string{"@127.0.0.1", "-p", fmt.Sprint(s.Ports.Port), "+norec"}, tool.limits...)
	argv = append(argv, args...)
	out, err := exec.CommandContext(ctx, tool.name, argv...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", tool.name, strings.Join(argv, " "), err, out)
	}
	r, err := parseDig(string(out))
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", tool.name, strings.Join(argv, " "), err, out)
	}
	return r
}

// availableDigTools returns the tools on PATH. With none, the test fails in
// CI (CI=true installs both) and is skipped elsewhere.
func availableDigTools(t *testing.T) []digTool {
	t.Helper()
	var found []digTool
	for _, tool := range digTools {
		if _, err := exec.LookPath(tool.name); err == nil {
			found = append(found, tool)
		}
	}
	if len(found) == 0 {
		msg := "neither dig nor kdig is on PATH: install bind9-dnsutils or knot-dnsutils"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg + " (CI=true: these tests must run in CI)")
		}
		t.Skip(msg)
	}
	return found
}

// TestDig queries hadns with dig and kdig, whichever are installed.
func TestDig(t *testing.T) {
	t.Parallel()
	tools := availableDigTools(t)
	s := startMain(t)
	for _, tool := range tools {
		t.Run(tool.name, func(t *testing.T) {
			t.Parallel()
			cases := []struct {
				args   []string
				status string
				flags  []string // exactly these header flags, sorted
				answer []string // nil: not checked
			}{
				{[]string{"static.e2e.test", "A"}, "NOERROR", []string{"aa", "qr"}, sortedRRs(staticA)},
				{[]string{"static.e2e.test", "A", tool.tcp}, "NOERROR", []string{"aa", "qr"}, sortedRRs(staticA)},
				{[]string{"StAtIc.E2E.test", "A", tool.noedns}, "NOERROR", []string{"aa", "qr"}, nil},
				{[]string{"nope.e2e.test", "A"}, "NXDOMAIN", []string{"aa", "qr"}, []string{}},
				{[]string{"lab.dc.e2e.test", "A"}, "NOERROR", []string{"aa", "qr"}, []string{}},
				{[]string{"example.org", "A"}, "REFUSED", []string{"qr"}, []string{}},
				{[]string{"www.child.e2e.test", "A"}, "NOERROR", []string{"qr"}, []string{}},
				{[]string{"_http._tcp.api.e2e.test", "SRV"}, "NOERROR", []string{"aa", "qr"}, sortedRRs(apiSRV())},
				{[]string{"big.e2e.test", "TXT", tool.noedns, tool.ignoreTC}, "NOERROR", []string{"aa", "qr", "tc"}, nil},
				{[]string{"big.e2e.test", "TXT", tool.tcp}, "NOERROR", []string{"aa", "qr"}, nil},
			}
			for _, c := range cases {
				r := runDig(t, tool, s, c.args...)
				name := tool.name + " " + strings.Join(c.args, " ")
				if r.status != c.status {
					t.Errorf("%s: status %s, want %s", name, r.status, c.status)
				}
				if !slices.Equal(r.flags, c.flags) {
					t.Errorf("%s: flags %v, want %v", name, r.flags, c.flags)
				}
				if c.answer != nil && !slices.Equal(r.answer, c.answer) {
					t.Errorf("%s: answer\n%s\nwant\n%s", name, indent(r.answer), indent(c.answer))
				}
			}
		})
	}
}
