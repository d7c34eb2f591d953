package store

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"time"

	"go.etcd.io/etcd/client/pkg/v3/transport"
)

// Defaults for Config fields left at their zero value.
const (
	// DefaultPrefix is where every hadns key lives; the version segment
	// changes only with an incompatible key layout.
	DefaultPrefix = "/hadns/" + LayoutVersion + "/"
	// DefaultDialTimeout bounds connecting to etcd, and every single
	// request the store makes.
	DefaultDialTimeout = 5 * time.Second
	// DefaultInstanceTTL is the TTL of the instance lease that holds this
	// instance's observations and served records: a dead instance's views
	// vanish this long after its last keepalive.
	DefaultInstanceTTL = 10 * time.Second
	// DefaultHeartbeat is how often the watcher asks etcd for a progress
	// notification when the watch is quiet; a watch that stays silent for
	// a heartbeat plus the dial timeout is taken as lost.
	DefaultHeartbeat = 2 * time.Second
)

// Config is the store's configuration: what the `store etcd` Corefile
// line will fill in. The zero value of each optional field means its
// documented default.
type Config struct {
	// Endpoints are the etcd client URLs (http://host:port or
	// https://host:port; a bare host:port means http). At least one.
	Endpoints []string
	// Prefix is the key prefix every hadns key is under. It must start and
	// end with "/". Default DefaultPrefix ("/hadns/v1/").
	Prefix string

	// CertFile and KeyFile are a TLS client certificate and key (both or
	// neither). CAFile is the CA bundle that signs the etcd servers'
	// certificates; empty means the system roots. Any of the three turns
	// TLS on; default plain TCP.
	CertFile string
	KeyFile  string
	CAFile   string

	// Username and Password authenticate to etcd (both or neither).
	// Default no authentication.
	Username string
	Password string

	// DialTimeout bounds connecting and each request. Default
	// DefaultDialTimeout (5 s).
	DialTimeout time.Duration

	// Instance names this instance in observations/ and served/ keys.
	// Default the host name. It must be unique in the nameserver set.
	Instance string
	// InstanceTTL is the TTL of the instance lease. Default
	// DefaultInstanceTTL (10 s); etcd rounds it up to whole seconds and
	// to its own minimum.
	InstanceTTL time.Duration

	// CacheFile is where the last known good snapshot is persisted.
	// Empty means no persistence: an instance restarted while etcd is
	// down then starts with no store data. Default empty; the plugin
	// sets it next to its state file.
	CacheFile string

	// Heartbeat is how often a quiet watch is checked. Default
	// DefaultHeartbeat (2 s).
	Heartbeat time.Duration
}

// withDefaults returns c with every zero optional field set to its default.
func (c Config) withDefaults() Config {
	if c.Prefix == "" {
		c.Prefix = DefaultPrefix
	}
	if c.DialTimeout == 0 {
		c.DialTimeout = DefaultDialTimeout
	}
	if c.InstanceTTL == 0 {
		c.InstanceTTL = DefaultInstanceTTL
	}
	if c.Heartbeat == 0 {
		c.Heartbeat = DefaultHeartbeat
	}
	if c.Instance == "" {
		if h, err := os.Hostname(); err == nil {
			c.Instance = h
		}
	}
	return c
}

// Validate checks the configuration after defaults are applied and says
// which field is wrong.
func (c Config) Validate() error {
	c = c.withDefaults()
	if len(c.Endpoints) == 0 {
		return errors.New("store: at least one etcd endpoint is required")
	}
	for _, e := range c.Endpoints {
		if err := validEndpoint(e); err != nil {
			return fmt.Errorf("store: endpoint %q: %w", e, err)
		}
	}
	if !strings.HasPrefix(c.Prefix, "/") || !strings.HasSuffix(c.Prefix, "/") {
		return fmt.Errorf("store: prefix %q must start and end with /", c.Prefix)
	}
	if (c.CertFile == "") != (c.KeyFile == "") {
		return errors.New("store: tls client certificate and key go together")
	}
	for _, f := range []string{c.CertFile, c.KeyFile, c.CAFile} {
		if f == "" {
			continue
		}
		if _, err := os.Stat(f); err != nil {
			return fmt.Errorf("store: tls file: %w", err)
		}
	}
	if (c.Username == "") != (c.Password == "") {
		return errors.New("store: username and password go together")
	}
	if c.DialTimeout < 0 || c.InstanceTTL < 0 || c.Heartbeat < 0 {
		return errors.New("store: durations must not be negative")
	}
	if c.InstanceTTL < time.Second {
		return fmt.Errorf("store: instance ttl %s is under etcd's 1 s lease granularity", c.InstanceTTL)
	}
	if c.Instance == "" {
		return errors.New("store: instance name is empty and the host name is unknown")
	}
	if err := validComponent(c.Instance); err != nil {
		return fmt.Errorf("store: instance %q: %w", c.Instance, err)
	}
	return nil
}

func validEndpoint(e string) error {
	if !strings.Contains(e, "://") {
		e = "http://" + e
	}
	u, err := url.Parse(e)
	if err != nil {
		return err
	}
	if u.Scheme != "http" && u.Scheme != "https" && u.Scheme != "unix" && u.Scheme != "unixs" {
		return fmt.Errorf("scheme %q is not http, https, unix or unixs", u.Scheme)
	}
	if u.Host == "" && !strings.HasPrefix(u.Scheme, "unix") {
		return errors.New("no host")
	}
	return nil
}

// tlsConfig builds the client TLS configuration with etcd's own transport
// helper, or nil when no TLS file is set.
func (c Config) tlsConfig() (*tls.Config, error) {
	if c.CertFile == "" && c.KeyFile == "" && c.CAFile == "" {
		for _, e := range c.Endpoints {
			if strings.HasPrefix(e, "https://") {
				return &tls.Config{MinVersion: tls.VersionTLS12}, nil
			}
		}
		return nil, nil
	}
	info := transport.TLSInfo{CertFile: c.CertFile, KeyFile: c.KeyFile, TrustedCAFile: c.CAFile}
	tc, err := info.ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("store: tls: %w", err)
	}
	return tc, nil
}
