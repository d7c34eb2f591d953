// Command detection measures how fast the health checker sees a backend
// fail, at the default check settings: for each probe kind and way of
// failing, the time from the failure to the target's down transition, p50
// and p99 over -kills failures, printed as a table.
//
// Failures:
//   - kill: the backend, a child process (this program re-executed with
//     -backend), is killed with SIGKILL. Its kernel refuses new connections
//     and resets (or closes) the ones it held.
//   - silent: the backend's packets are dropped with iptables (both
//     directions), as when a host vanishes without a word. A stopped process
//     would not do: its kernel still completes handshakes.
//   - blip (watch): packets are dropped for 900ms, shorter than a keepalive
//     interval, so at most one keepalive probe is lost. The row counts down
//     transitions, which must be none.
//
// Everything runs in a private network namespace the program creates (so
// the iptables rules touch nothing else), on its loopback. It needs root,
// and iptables for the silent cases (apt-get install -y iptables). The run is
// bounded by -limit and stops by itself.
//
//	go run ./test/detection -kills 20
package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"time"

	"github.com/hadns/hadns/test/internal/netns"
)

func main() {
	kills := flag.Int("kills", 20, "failures per case")
	limit := flag.Duration("limit", 8*time.Minute, "give up after this long")
	only := flag.String("cases", "", "comma-separated cases to run (e.g. tcp/kill,watch/silent); default all")
	inner := flag.Bool("inner", false, "internal: running inside the private network namespace")
	backend := flag.String("backend", "", "internal: run as a backend of this mode (tcp, http) on -port")
	port := flag.Int("port", 0, "internal: the backend's port")
	flag.Parse()

	switch {
	case *backend != "":
		if err := runBackend(*backend, *port, *limit); err != nil {
			fmt.Fprintln(os.Stderr, "detection -backend:", err)
			os.Exit(1)
		}
	case !*inner:
		os.Exit(reexecInNetns())
	default:
		if err := netns.LoopbackUp(); err != nil {
			fmt.Fprintln(os.Stderr, "detection:", err)
			os.Exit(1)
		}
		ok, err := run(*kills, *limit, *only)
		if err != nil {
			fmt.Fprintln(os.Stderr, "detection:", err)
			os.Exit(1)
		}
		if !ok {
			os.Exit(2)
		}
	}
}

// reexecInNetns runs this program again in a new network namespace.
func reexecInNetns() int {
	cmd := exec.Command("/proc/self/exe", append([]string{"-inner"}, os.Args[1:]...)...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNET, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Run(); err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			return ee.ExitCode()
		}
		fmt.Fprintln(os.Stderr, "detection: creating a private network namespace (needs root):", err)
		return 1
	}
	return 0
}
