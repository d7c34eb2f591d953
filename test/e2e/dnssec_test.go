package e2e

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// The example keys, NOT for production: the signed tests serve
// example.test. with them.
var exampleKeyFiles = []string{
	"zones/keys/Kexample.test.+013.ksk.NOT-FOR-PRODUCTION.key",
	"zones/keys/Kexample.test.+013.ksk.NOT-FOR-PRODUCTION.private",
	"zones/keys/Kexample.test.+013.zsk.NOT-FOR-PRODUCTION.key",
	"zones/keys/Kexample.test.+013.zsk.NOT-FOR-PRODUCTION.private",
}

// withExampleKeys adds the example keys to fs, and the example zone file
// unless fs has a zone file of its own there, at the paths the shipped
// Corefiles name.
func withExampleKeys(t *testing.T, fs files) files {
	t.Helper()
	for _, f := range append([]string{"zones/example.test.yaml"}, exampleKeyFiles...) {
		if _, ok := fs[f]; ok {
			continue
		}
		b, err := os.ReadFile("../../" + f)
		if err != nil {
			t.Fatal(err)
		}
		fs[f] = string(b)
	}
	return fs
}

func needTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("%s not found: install it (CI does; delv is in bind9-dnsutils, kdig in knot-dnsutils)", name)
	}
	return p
}

// readmeSignedExample returns the shell lines of the README's signed
// example that query the server (dig, the awk that makes the trust
// anchor, delv), so the test runs them as users will.
func readmeSignedExample(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	text := string(b)
	start := strings.Index(text, "go run ./cmd/hadns -conf Corefile.dnssec.example &\n")
	if start < 0 {
		t.Fatal("README.md no longer starts the signed example with `go run ./cmd/hadns -conf Corefile.dnssec.example &`; update this test")
	}
	text = text[start:]
	end := strings.Index(text, "```")
	if end < 0 {
		t.Fatal("README.md: the signed example's code block does not end")
	}
	lines := strings.SplitN(text[:end], "\n", 2)
	return lines[1]
}

// TestShippedSignedExample boots Corefile.dnssec.example and runs the
// README's commands against it: the anchor made from the served KSK, delv
// fully validating a service answer and a compact denial. `hadns dnssec ds`
// prints the DS of the same key.
func TestShippedSignedExample(t *testing.T) {
	t.Parallel()
	needTool(t, "delv")
	needTool(t, "dig")
	s := startServer(t, shippedCorefile(t, "Corefile.dnssec.example"), withExampleKeys(t, files{}))

	script := readmeSignedExample(t)
	anchor := filepath.Join(t.TempDir(), "anchor")
	script = strings.ReplaceAll(script, "-p 1053", "-p "+strconv.Itoa(s.Ports.Port))
	script = strings.ReplaceAll(script, "/tmp/example.test.anchor", anchor)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-euo", "pipefail", "-c", script)
	cmd.Dir = s.Dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("the README's commands failed: %v\n%s\nscript:\n%s", err, out, script)
	}
	for _, want := range []string{"; fully validated", "; negative response, fully validated", "RRSIG\tA 13 3 "} {
		if !strings.Contains(string(out), want) {
			t.Errorf("the README's commands do not print %q:\n%s", want, out)
		}
	}

	code, ds, stderr := runHadns(t, s.Dir, "dnssec", "ds", "-conf", "Corefile")
	if code != 0 {
		t.Fatalf("hadns dnssec ds: exit %d: %s", code, stderr)
	}
	anchorText, err := os.ReadFile(anchor)
	if err != nil {
		t.Fatal(err)
	}
	key, err := dns.NewRR(strings.TrimSpace(strings.NewReplacer("trust-anchors {", "", "static-key", "IN DNSKEY", "\"", "", "; };", "").Replace(string(anchorText))))
	if err != nil {
		t.Fatalf("anchor %q: %v", anchorText, err)
	}
	if want := key.(*dns.DNSKEY).ToDS(dns.SHA256); !strings.Contains(strings.ToUpper(ds), strings.ToUpper(want.Digest)) || !strings.Contains(ds, "\tDS\t"+strconv.Itoa(int(want.KeyTag))+" 13 2 ") {
		t.Errorf("hadns dnssec ds printed %q; the served KSK's DS is %s", ds, want)
	}
}

// Signed failover: backends on addresses no other test uses.
var (
	sfEast       = []string{"127.0.66.1", "127.0.66.2"}
	sfWest       = []string{"127.0.67.1", "127.0.67.2"}
	sfEastClient = "127.0.66.100"
	sfWestClient = "127.0.67.100"
)

const signedFailoverCorefile = `example.test:{{.Port}} {
    bind 127.0.0.1
    errors
    hadns {
        zone zones/example.test.yaml
        site east 127.0.66.0/24 fallback west
        site west 127.0.67.0/24 fallback east
        reload 0
        dnssec example.test zones/keys/Kexample.test.+013.ksk.NOT-FOR-PRODUCTION zones/keys/Kexample.test.+013.zsk.NOT-FOR-PRODUCTION
    }
}
`

// delvClient validates answers with BIND's delv, from a source address,
// the served KSK its trust anchor. Every reply it gets must validate: a
// reply that does not is recorded, whatever the step expected.
type delvClient struct {
	bin, anchor, src string
	s                *server

	mu       sync.Mutex
	asked    int
	failures []string
}

var delvRecord = regexp.MustCompile(`^(\S+)\s+(\d+)\s+IN\s+(A|SRV)\s+(.*)$`)

// ask runs delv for name and type and returns the records' data (A: the
// address; SRV: priority and target).
func (c *delvClient) ask(name, qtype string) ([]string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, c.bin, "@127.0.0.1", "-p", strconv.Itoa(c.s.Ports.Port), "-b", c.src,
		"-a", c.anchor, "+root=example.test", name, qtype).CombinedOutput()
	c.mu.Lock()
	defer c.mu.Unlock()
	c.asked++
	if err != nil || !strings.HasPrefix(string(out), "; fully validated\n") {
		c.failures = append(c.failures, fmt.Sprintf("delv -b %s %s %s: %v\n%s", c.src, name, qtype, err, out))
		return nil, fmt.Errorf("%s %s from %s does not validate", name, qtype, c.src)
	}
	var data []string
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		m := delvRecord.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		if m[3] == "A" {
			data = append(data, m[4])
		} else if f := strings.Fields(m[4]); len(f) == 4 {
			data = append(data, f[0]+" "+strings.TrimSuffix(strings.Split(f[3], ".")[0], "."))
		}
	}
	return data, nil
}

// want is a check that the A answer is exactly addrs and the SRV answer's
// priority 1 targets are those of prio1.
func (c *delvClient) want(addrs, prio1 []string) func() error {
	return func() error {
		got, err := c.ask("api.example.test.", "A")
		if err != nil {
			return err
		}
		if !sameSet(got, addrs) {
			return fmt.Errorf("client %s: A %v, want %v", c.src, got, addrs)
		}
		srv, err := c.ask("_http._tcp.api.example.test.", "SRV")
		if err != nil {
			return err
		}
		var first []string
		for _, s := range srv {
			if p, target, _ := strings.Cut(s, " "); p == "1" {
				first = append(first, strings.ReplaceAll(target, "-", "."))
			}
		}
		if !sameSet(first, prio1) {
			return fmt.Errorf("client %s: SRV priority 1 %v, want %v", c.src, first, prio1)
		}
		return nil
	}
}

// TestSignedFailover kills real backends of a signed zone: the signed
// answers follow health within the same bound as unsigned ones, every
// reply before and after validates with delv, and a dead site's fallback
// answer validates too; kdig +dnssec sees the RRSIGs.
func TestSignedFailover(t *testing.T) {
	delv := needTool(t, "delv")
	kdig := needTool(t, "kdig")
	port, bs := startDemoSet(t, append(slices.Clone(sfEast), sfWest...))
	eastB := bs[:2]
	s := startServer(t, signedFailoverCorefile, withExampleKeys(t, files{"zones/example.test.yaml": failoverZoneFor("example.test.", port, sfEast, sfWest)}))

	// The trust anchor: the served KSK.
	r, _ := s.exchange(t, "tcp", query("example.test.", dns.TypeDNSKEY, 1232))
	anchor := filepath.Join(t.TempDir(), "anchor")
	var conf strings.Builder
	for _, rr := range r.Answer {
		if k, ok := rr.(*dns.DNSKEY); ok && k.Flags == 257 {
			fmt.Fprintf(&conf, "trust-anchors { example.test. static-key %d %d %d %q; };\n", k.Flags, k.Protocol, k.Algorithm, k.PublicKey)
		}
	}
	if conf.Len() == 0 {
		t.Fatalf("no KSK served:\n%v", r)
	}
	writeFile(t, anchor, conf.String())
	east := &delvClient{bin: delv, anchor: anchor, src: sfEastClient, s: s}
	west := &delvClient{bin: delv, anchor: anchor, src: sfWestClient, s: s}
	t.Cleanup(func() {
		for _, c := range []*delvClient{east, west} {
			if len(c.failures) > 0 {
				t.Errorf("%d of %d replies to %s did not validate; first:\n%s", len(c.failures), c.asked, c.src, c.failures[0])
			}
		}
	})

	detect, _ := foBounds(t)
	// delv runs take time of their own, beyond the detection bound.
	limit := detect + foMargin + 2*time.Second
	foStep(t, "all healthy, validated", time.Now(), startTimeout, east.want(sfEast, sfEast), west.want(sfWest, sfWest))

	out, err := exec.Command(kdig, "@127.0.0.1", "-p", strconv.Itoa(s.Ports.Port), "-b", sfEastClient, "+dnssec", "api.example.test.", "A").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "RRSIG\tA 13 3 ") || !strings.Contains(string(out), "flags: do") {
		t.Errorf("kdig +dnssec: %v\n%s", err, out)
	}

	dead := eastB[0].Host()
	t0 := time.Now()
	eastB[0].kill()
	took := foStep(t, "killed "+dead+": gone from the signed answers", t0, limit,
		east.want(sfEast[1:], sfEast[1:]), west.want(sfWest, sfWest))
	t.Logf("signed: one backend killed, gone from the validated answers %v after SIGKILL (bound %v + margins)", took.Round(time.Millisecond), detect)

	t0 = time.Now()
	eastB[1].kill()
	took = foStep(t, "east site killed: signed fallback to west", t0, limit,
		east.want(sfWest, sfWest), west.want(sfWest, sfWest))
	t.Logf("signed: east site killed, east clients get west's validated answer %v after SIGKILL", took.Round(time.Millisecond))

	// The fallback carries its Extended DNS Error beside the signatures.
	q := query("api.example.test.", dns.TypeA, 1232)
	q.IsEdns0().SetDo()
	r = exchangeFrom(t, s, "udp", sfEastClient, q)
	hasSig := slices.ContainsFunc(r.Answer, func(rr dns.RR) bool { return rr.Header().Rrtype == dns.TypeRRSIG })
	var ede *dns.EDNS0_EDE
	for _, o := range r.IsEdns0().Option {
		if e, ok := o.(*dns.EDNS0_EDE); ok {
			ede = e
		}
	}
	if !hasSig || ede == nil || !strings.HasPrefix(ede.ExtraText, "fallback:") || r.Answer[0].Header().Ttl != foDegradedTTL {
		t.Errorf("signed fallback answer: RRSIG %v, EDE %v:\n%v", hasSig, ede, r)
	}
}
