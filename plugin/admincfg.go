package hadns

import (
	"crypto/tls"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"

	"github.com/coredns/caddy"

	"github.com/hadns/hadns/internal/admin"
)

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
func (a *adminOptions) config(c *caddy.Controller) (*admin.Config, error) {
	if a.addr == "" {
		for opt, line := range a.seen {
			return nil, fmt.Errorf("%s:%d - Error during parsing: %s needs an `admin ADDR` line", c.File(), line, opt)
		}
		return nil, nil
	}
	cfg := &admin.Config{Addr: a.addr, Cert: a.cert, Insecure: a.insecure, Hosts: a.hosts}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("%s:%d - Error during parsing: %v", c.File(), a.addrLine, err)
	}
	if a.tokenFile != "" {
		data, _ := os.ReadFile(a.tokenFile) // read and checked in parse
		cfg.Token = strings.TrimSpace(string(data))
	} else {
		cfg.Token = strings.TrimSpace(os.Getenv(admin.TokenEnv))
	}
	return cfg, nil
}
