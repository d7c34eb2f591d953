// Command resolver serves the example zone from two hadns nameservers behind
// a real recursive resolver (Debian's unbound) and measures what a client of
// that resolver sees when a backend dies: the time from the kill to the first
// answer, through the resolver, without the backend. That is the failover a
// user really gets: detection + TTL + the resolver's behaviour.
//
// In a private network namespace of its own (on its loopback, 127.0.0.0/8):
//
//	127.0.0.254:53   a private root (hadns's file plugin) delegating example.test
//	                 to ns1 and ns2 with glue
//	127.0.0.1:53     hadns, ns1.example.test  (zones/example.test.yaml)
//	127.0.0.2:53     hadns, ns2.example.test  (own process, own checker)
//	127.0.1.53:53    unbound, root hints = the private root, no DNSSEC validation;
//	                 it sends its queries from 127.0.1.53, an address in site east
//	127.0.{1,2}.{1,2,3}:8080   the zone's six backends, one `hadns demo` process each
//	127.0.1.100, 127.0.2.100   clients in site east and site west
//
// The ports are fixed (53, and the zone's 8080 for the backends): the
// namespace is the program's own, so nothing else can hold them, and a
// resolver asks nameservers on port 53 only.
//
// It runs twice: with unbound's ECS support off (module-config "iterator")
// and on ("subnetcache iterator", send-client-subnet for both nameservers).
// Each run first checks where each client is placed (without ECS the
// resolver's address decides the site for everyone; with ECS each client
// gets its own site), then kills backends one at a time with SIGKILL, after a
// random wait so the kill falls anywhere in the resolver's cache lifetime,
// while the clients query through unbound every 100 ms and the two
// nameservers are polled directly every 50 ms. The last backend of a site
// killed shows a whole site failing over.
//
// It fails (exit 1) on a client placed in the wrong site, and on a client
// that sees the change later than the service's worst case (detection bound +
// TTL, as `hadns check` prints it) plus -margin. It fails (exit 2), without
// measuring, when unbound or the namespace is missing: it never skips.
//
//	go build -o bin/hadns ./cmd/hadns && go run ./test/resolver -bin bin/hadns
//
// Needs root (or unprivileged user namespaces) and unbound (apt-get install
// -y unbound). About two minutes; bounded by -limit.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	"github.com/hadns/hadns/test/internal/netns"
)

func main() {
	var o options
	flag.StringVar(&o.bin, "bin", "bin/hadns", "the hadns binary")
	flag.StringVar(&o.zone, "zone", "zones/example.test.yaml", "the example zone file")
	flag.StringVar(&o.unbound, "unbound", "", "the unbound binary (default: unbound on PATH, else /usr/sbin/unbound)")
	flag.DurationVar(&o.margin, "margin", 1500*time.Millisecond, "allowed beyond detection bound + TTL: the 100 ms polling, the resolver's own work, a busy machine")
	flag.IntVar(&o.cacheMinTTL, "cache-min-ttl", 0, "unbound's cache-min-ttl in seconds: a resolver's TTL floor (above the service's TTL the run must fail)")
	flag.Uint64Var(&o.seed, "seed", 0, "seed of the waits before kills (0: from the clock; printed)")
	flag.DurationVar(&o.limit, "limit", 6*time.Minute, "give up after this long")
	flag.StringVar(&o.artifacts, "artifacts", "", "copy the configurations and logs to this directory")
	inner := flag.Bool("inner", false, "internal: running inside the private network namespace")
	flag.Parse()

	if !*inner {
		os.Exit(outer(o))
	}
	if err := netns.LoopbackUp(); err != nil {
		fmt.Fprintln(os.Stderr, "resolver:", err)
		os.Exit(exitSetup)
	}
	ctx, cancel := context.WithTimeoutCause(context.Background(), o.limit, fmt.Errorf("-limit %v reached", o.limit))
	defer cancel()
	ok, err := run(ctx, o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "resolver:", err)
		os.Exit(exitSetup)
	}
	if !ok {
		os.Exit(exitFailed)
	}
}

// Exit codes.
const (
	exitFailed = 1 // a placement or a failover time broke the rules
	exitSetup  = 2 // a tool is missing, or the setup failed: nothing measured
)

type options struct {
	bin, zone, unbound string
	margin, limit      time.Duration
	seed               uint64
	cacheMinTTL        int
	artifacts          string
}

// outer checks the tools and files, then runs this program again in a new
// network namespace with absolute paths.
func outer(o options) int {
	var err error
	if o.bin, err = existing(o.bin); err != nil {
		fmt.Fprintf(os.Stderr, "resolver: -bin: %v (build it: go build -o bin/hadns ./cmd/hadns)\n", err)
		return exitSetup
	}
	if o.zone, err = existing(o.zone); err != nil {
		fmt.Fprintf(os.Stderr, "resolver: -zone: %v\n", err)
		return exitSetup
	}
	if o.unbound, err = findUnbound(o.unbound); err != nil {
		fmt.Fprintln(os.Stderr, "resolver:", err)
		return exitSetup
	}
	if o.artifacts != "" {
		if o.artifacts, err = filepath.Abs(o.artifacts); err != nil {
			fmt.Fprintln(os.Stderr, "resolver:", err)
			return exitSetup
		}
	}
	args := []string{"-inner", "-bin", o.bin, "-zone", o.zone, "-unbound", o.unbound,
		"-margin", o.margin.String(), "-seed", fmt.Sprint(o.seed), "-limit", o.limit.String(), "-cache-min-ttl", fmt.Sprint(o.cacheMinTTL),
		"-artifacts", o.artifacts}
	cmd := exec.Command("/proc/self/exe", args...)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNET, Pdeathsig: syscall.SIGKILL}
	if os.Geteuid() != 0 {
		// Map ourselves to root in a new user namespace, so that we may
		// bring lo up and bind port 53 in the network namespace.
		cmd.SysProcAttr.Cloneflags |= syscall.CLONE_NEWUSER
		cmd.SysProcAttr.UidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Geteuid(), Size: 1}}
		cmd.SysProcAttr.GidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getegid(), Size: 1}}
	}
	if err := cmd.Run(); err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return ee.ExitCode()
		}
		fmt.Fprintln(os.Stderr, "resolver: creating a private network namespace (needs root or user namespaces):", err)
		return exitSetup
	}
	return 0
}

// existing returns the absolute path of a file that exists.
func existing(path string) (string, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", err
	}
	if _, err := os.Stat(abs); err != nil {
		return "", err
	}
	return abs, nil
}

// findUnbound returns the unbound binary: the one given, else unbound on
// PATH, else /usr/sbin/unbound (not on PATH for every user).
func findUnbound(given string) (string, error) {
	if given != "" {
		return existing(given)
	}
	if p, err := exec.LookPath("unbound"); err == nil {
		return p, nil
	}
	if _, err := os.Stat("/usr/sbin/unbound"); err == nil {
		return "/usr/sbin/unbound", nil
	}
	return "", errors.New("unbound not found: apt-get install -y unbound")
}
