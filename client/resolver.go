package client

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/miekg/dns"
)

// Defaults of the Resolver's fields.
const (
	DefaultQueryTimeout = time.Second
	DefaultAttempts     = 2
	DefaultMaxStale     = 5 * time.Minute
	// DefaultStaleRetry is how long after a failed refresh the next one may
	// start, so that a busy client whose nameservers are down does not send
	// a query with every lookup (RFC 8767's failure recheck timer).
	DefaultStaleRetry = time.Second
)

// refreshFraction is the part of an answer's TTL after which a lookup that
// hits it starts a refresh in the background, so names in use are renewed
// before they expire and their users never wait for a query (like
// Unbound's prefetch). Names not looked up again are left to expire.
const refreshFraction = 0.75

// ErrUnreachable is wrapped by the *net.DNSError a lookup returns when no
// nameserver gave an answer (all timed out, refused the connection, or
// answered SERVFAIL, REFUSED or another error rcode) and no stale answer
// was left to serve.
var ErrUnreachable = errors.New("no nameserver answered")

// Resolver looks SRV, A and AAAA records up and caches the answers for
// their TTL, never beyond it. An entry looked up after 75% of its TTL is
// refreshed in the background. NXDOMAIN and NODATA are answers: they are
// cached for the negative TTL of the SOA in the authority section (RFC 2308;
// not at all without one) and returned as a *net.DNSError with IsNotFound
// set. When no nameserver answers, the last answer is served stale for at
// most MaxStale past its expiry.
//
// The zero value asks the nameservers of /etc/resolv.conf. A Resolver is
// safe for concurrent use; its fields must not change after the first
// lookup.
type Resolver struct {
	// Nameservers are asked in order, as "host:port" ("host" means port 53).
	// Empty: the nameservers of /etc/resolv.conf.
	Nameservers []string
	// Timeout bounds one query to one nameserver. Default 1 s.
	Timeout time.Duration
	// Attempts is how many rounds over Nameservers one lookup makes before
	// it finds them unreachable. Default 2.
	Attempts int
	// MaxStale is how long past its expiry an answer is still served while
	// every nameserver is unreachable. Default 5 min; negative: never.
	MaxStale time.Duration
	// StaleRetry is how long after a failed query the next one may be
	// sent for the same name, while a stale answer is served meanwhile.
	// Default 1 s.
	StaleRetry time.Duration
	// Dial connects to a nameserver ("udp" or "tcp"). Default: a
	// net.Dialer. Set it to choose the source address, for instance.
	Dial func(ctx context.Context, network, address string) (net.Conn, error)
	// Clock is where TTLs and staleness are measured. Default: the system
	// clock.
	Clock Clock

	once    sync.Once
	servers []string
	confErr error

	mu    sync.Mutex
	cache map[cacheKey]*entry

	// afterRefresh, when set (by tests), is called when a background
	// refresh has stored its result.
	afterRefresh func()
}

// defaultResolver serves Dialers without a Resolver of their own.
var defaultResolver = &Resolver{}

// LookupSRV returns the SRV records of name, with their targets'
// addresses from the additional section, in the order of the answer; use
// Order to sort them for dialing.
func (r *Resolver) LookupSRV(ctx context.Context, name string) ([]Target, error) {
	ans, err := r.lookup(ctx, dns.Fqdn(name), dns.TypeSRV)
	if err != nil {
		return nil, err
	}
	return ans.targets, ans.err
}

// LookupAddrs returns the addresses of host: its A records for "tcp4" or
// "udp4", its AAAA records for "tcp6" or "udp6", both otherwise (IPv4
// first). A literal IP address is returned as it is.
func (r *Resolver) LookupAddrs(ctx context.Context, network, host string) ([]netip.Addr, error) {
	if a, err := netip.ParseAddr(host); err == nil {
		return []netip.Addr{a}, nil
	}
	var types []uint16
	switch network {
	case "tcp4", "udp4", "ip4":
		types = []uint16{dns.TypeA}
	case "tcp6", "udp6", "ip6":
		types = []uint16{dns.TypeAAAA}
	default:
		types = []uint16{dns.TypeA, dns.TypeAAAA}
	}
	var addrs []netip.Addr
	var firstErr error
	for _, qt := range types {
		ans, err := r.lookup(ctx, dns.Fqdn(host), qt)
		if err == nil {
			err = ans.err
		}
		if err != nil {
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		addrs = append(addrs, ans.addrs...)
	}
	if len(addrs) == 0 {
		return nil, firstErr
	}
	return addrs, nil
}

func (r *Resolver) config() ([]string, error) {
	r.once.Do(func() {
		list := r.Nameservers
		port := "53"
		if len(list) == 0 {
			cfg, err := dns.ClientConfigFromFile("/etc/resolv.conf")
			if err != nil {
				r.confErr = err
				return
			}
			list, port = cfg.Servers, cfg.Port
		}
		for _, s := range list {
			if _, _, err := net.SplitHostPort(s); err != nil {
				s = net.JoinHostPort(s, port)
			}
			r.servers = append(r.servers, s)
		}
		if len(r.servers) == 0 {
			r.confErr = errors.New("no nameservers configured")
		}
	})
	return r.servers, r.confErr
}

func (r *Resolver) timeout() time.Duration {
	if r.Timeout > 0 {
		return r.Timeout
	}
	return DefaultQueryTimeout
}

func (r *Resolver) attempts() int {
	if r.Attempts > 0 {
		return r.Attempts
	}
	return DefaultAttempts
}

func (r *Resolver) maxStale() time.Duration {
	switch {
	case r.MaxStale < 0:
		return 0
	case r.MaxStale == 0:
		return DefaultMaxStale
	}
	return r.MaxStale
}

func (r *Resolver) staleRetry() time.Duration {
	if r.StaleRetry > 0 {
		return r.StaleRetry
	}
	return DefaultStaleRetry
}

func (r *Resolver) dial(ctx context.Context, network, address string) (net.Conn, error) {
	if r.Dial != nil {
		return r.Dial(ctx, network, address)
	}
	var d net.Dialer
	return d.DialContext(ctx, network, address)
}
