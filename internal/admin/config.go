package admin

import (
	"crypto/tls"
	"fmt"
	"net"
	"net/netip"
)

// TokenEnv holds the admin token when no admin_token_file is given.
const TokenEnv = "HADNS_ADMIN_TOKEN"

// Config is the admin API of one hadns block.
type Config struct {
	Addr     string           // HOST:PORT to listen on
	Token    string           // bearer token for changes (and for reads from other hosts); "": changes refused
	Cert     *tls.Certificate // nil: plain HTTP
	Insecure bool             // admin_insecure: plain HTTP on a non-loopback address, on purpose
	// Hosts are the names (lower case, no trailing dot) clients may call
	// the server by in their Host header, besides IP addresses and
	// localhost (admin_hosts).
	Hosts []string
}

// Validate judges the configuration as a whole: a non-loopback address needs
// TLS or an explicit admin_insecure. The caller adds where in its
// configuration the address was given.
func (c *Config) Validate() error {
	host, _, err := net.SplitHostPort(c.Addr)
	if err != nil {
		return fmt.Errorf("admin %q: want HOST:PORT, like 127.0.0.1:8053 (%v)", c.Addr, err)
	}
	if !loopbackHost(host) && c.Cert == nil && !c.Insecure {
		return fmt.Errorf("admin %s is not a loopback address: add `admin_tls CERT KEY`, or `admin_insecure` to serve plain HTTP on it anyway", c.Addr)
	}
	if c.Cert != nil && c.Insecure {
		return fmt.Errorf("admin_tls and admin_insecure contradict each other: choose one")
	}
	return nil
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
