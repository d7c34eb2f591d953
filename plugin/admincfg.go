package hadns

import (
	"crypto/tls"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"

	"github.com/coredns/caddy"
)

// tokenEnv holds the admin token when no admin_token_file is given.
const tokenEnv = "HADNS_ADMIN_TOKEN"

// adminConfig is the admin API of one hadns block.
type adminConfig struct {
	addr     string
	token    string // bearer token for changes (and for reads from other hosts); "": changes refused
	cert     *tls.Certificate
	insecure bool // admin_insecure: plain HTTP on a non-loopback address, on purpose
	// hosts are the names (lower case, no trailing dot) clients may call
	// the server by in their Host header, besides IP addresses and
	// localhost (admin_hosts).
	hosts []string
}

// adminOptions gathers the admin_* lines of a block, each with its line for
// errors, so they can be checked together at the end.
type adminOptions struct {
	addr, tokenFile string
	addrLine        int
	cert            *tls.Certificate
	insecure        bool
	hosts           []string
	seen            map[string]int // option → line
}

func (a *adminOptions) parse(c *caddy.Controller, path func(string) string) error {
	opt := c.Val()
	if a.seen == nil {
		a.seen = map[string]int{}
	}
	if _, dup := a.seen[opt]; dup {
		return c.Errf("%s given twice", opt)
	}
	a.seen[opt] = c.Line()
	args := c.RemainingArgs()
	switch opt {
	case "admin":
		if len(args) != 1 {
			return c.ArgErr()
		}
		a.addr, a.addrLine = args[0], c.Line()
		if _, _, err := net.SplitHostPort(a.addr); err != nil {
			return c.Errf("admin %q: want HOST:PORT, like 127.0.0.1:8053 (%v)", a.addr, err)
		}
	case "admin_token_file":
		if len(args) != 1 {
			return c.ArgErr()
		}
		a.tokenFile = path(args[0])
		data, err := os.ReadFile(a.tokenFile)
		if err != nil {
			return c.Errf("admin_token_file: %v", err)
		}
		if strings.TrimSpace(string(data)) == "" {
			return c.Errf("admin_token_file %s is empty", a.tokenFile)
		}
	case "admin_tls":
		if len(args) != 2 {
			return c.ArgErr()
		}
		cert, err := tls.LoadX509KeyPair(path(args[0]), path(args[1]))
		if err != nil {
			return c.Errf("admin_tls: %v", err)
		}
		a.cert = &cert
	case "admin_hosts":
		if len(args) == 0 {
			return c.ArgErr()
		}
		for _, h := range args {
			h = strings.TrimSuffix(strings.ToLower(h), ".")
			if _, err := netip.ParseAddr(h); err == nil || h == "" || strings.ContainsAny(h, ":/ ") {
				return c.Errf("admin_hosts %q: want a host name (IP addresses are always allowed)", h)
			}
			a.hosts = append(a.hosts, h)
		}
	case "admin_insecure":
		if len(args) != 0 {
			return c.ArgErr()
		}
		a.insecure = true
	}
	return nil
}

// config checks the options as a whole: the admin API is off unless an
// address is given, and a non-loopback address needs TLS or an explicit
// admin_insecure.
func (a *adminOptions) config(c *caddy.Controller) (*adminConfig, error) {
	if a.addr == "" {
		for opt, line := range a.seen {
			return nil, fmt.Errorf("%s:%d - Error during parsing: %s needs an `admin ADDR` line", c.File(), line, opt)
		}
		return nil, nil
	}
	errAt := func(format string, args ...any) error {
		return fmt.Errorf("%s:%d - Error during parsing: %s", c.File(), a.addrLine, fmt.Sprintf(format, args...))
	}
	host, _, _ := net.SplitHostPort(a.addr)
	if !loopbackHost(host) && a.cert == nil && !a.insecure {
		return nil, errAt("admin %s is not a loopback address: add `admin_tls CERT KEY`, or `admin_insecure` to serve plain HTTP on it anyway", a.addr)
	}
	if a.cert != nil && a.insecure {
		return nil, errAt("admin_tls and admin_insecure contradict each other: choose one")
	}
	cfg := &adminConfig{addr: a.addr, cert: a.cert, insecure: a.insecure, hosts: a.hosts}
	if a.tokenFile != "" {
		data, _ := os.ReadFile(a.tokenFile) // read and checked in parse
		cfg.token = strings.TrimSpace(string(data))
	} else {
		cfg.token = strings.TrimSpace(os.Getenv(tokenEnv))
	}
	return cfg, nil
}

// loopbackHost reports whether host (from HOST:PORT) is a loopback address
// or localhost. An empty host listens on every address: not loopback.
func loopbackHost(host string) bool {
	if host == "localhost" {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}
