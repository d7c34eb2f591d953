package healthcheck

import (
	"crypto/x509"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Spec is the configuration of one check. Its yaml tags let the plugin decode a
// zone file's check block straight into it (this package does not import a
// YAML library). A zero field means its default, which WithDefaults fills in;
// the defaults are stated on every field.
type Spec struct {
	// Kind is the probe kind: tcp, http, https, tls, dns or watch.
	// Default "tcp".
	Kind string `yaml:"kind"`

	// Interval is the delay between probes while the target is Up (±5%
	// jitter). Default 1s.
	Interval time.Duration `yaml:"interval"`
	// Timeout bounds one probe (for watch: one connect and the send/expect
	// exchange). It must be below Interval. Default 800ms.
	Timeout time.Duration `yaml:"timeout"`
	// FastInterval is the delay between probes while the target is in
	// transition (Suspect, or Down with some successes), so that a first
	// failure is confirmed quickly. For watch it is the first reconnect
	// backoff. Default 200ms.
	FastInterval time.Duration `yaml:"fast_interval"`
	// DownInterval is the delay between probes while the target is Down
	// (±5% jitter). For watch it caps the reconnect backoff. Default Interval.
	DownInterval time.Duration `yaml:"down_interval"`
	// Rise is how many consecutive successes take a Down target Up.
	// Default 2.
	Rise int `yaml:"rise"`
	// Fall is how many consecutive failures take an Up target Down (it is
	// Suspect in between). Ignored by watch, whose lost connection is
	// definitive. Default 2.
	Fall int `yaml:"fall"`

	// Port is the port to probe when it differs from the backend's service
	// port. Default 0: the target's own port.
	Port int `yaml:"port"`

	// Source is the local address probes are sent from (an IP address of
	// the target's family), for a host with several addresses whose
	// backends accept checks from one of them only. Default "": the
	// kernel's choice. It is not read from a zone's check section: the
	// plugin sets it from the instance's `probe_source`, since it is a
	// property of the host the checker runs on, not of the zone.
	Source string `yaml:"-"`

	// Method is the HTTP method, GET or HEAD. Default GET (http/https only).
	Method string `yaml:"method"`
	// Path is the request path, with an optional query. Default "/".
	Path string `yaml:"path"`
	// Host is the Host header (and, for https, the default TLS server name).
	// Default: the target's address.
	Host string `yaml:"host"`
	// Headers are extra request headers. Default none.
	Headers map[string]string `yaml:"headers"`
	// Status lists the accepted status codes, each a code ("204") or an
	// inclusive range ("200-399"). Default ["200-399"]. Redirects are not
	// followed: a 3xx is judged by its own status.
	Status []string `yaml:"status"`
	// Body, when set, must occur in the response body (read up to 64 KiB).
	// Default none.
	Body string `yaml:"body"`
	// BodyRegexp, when set, must match the response body (read up to
	// 64 KiB), in Go's RE2 syntax. Default none.
	BodyRegexp string `yaml:"body_regexp"`

	// ServerName is the TLS server name (SNI) and the name the certificate
	// must be valid for (tls/https). Default Host if set, else none: the
	// certificate must then be valid for the target's IP address.
	ServerName string `yaml:"server_name"`
	// CAFile is a PEM file of CA certificates to verify the target's
	// certificate against. Default: the system roots.
	CAFile string `yaml:"ca_file"`
	// Insecure skips certificate verification (tls/https). Default false:
	// verification is on.
	Insecure bool `yaml:"insecure"`

	// QName is the name the dns probe asks for. Required for kind dns.
	QName string `yaml:"qname"`
	// QType is the query type of the dns probe. Default "A".
	QType string `yaml:"qtype"`
	// RCode is the response code the dns probe expects. Default "NOERROR".
	RCode string `yaml:"rcode"`

	// Send is a line (a newline is appended) the watch probe writes once
	// connected. Default none.
	Send string `yaml:"send"`
	// Expect, when set, must occur in the first line the watch probe reads
	// once connected (within Timeout). Default none.
	Expect string `yaml:"expect"`
	// KeepaliveInterval is the watch connection's TCP keepalive idle time
	// and probe interval, in whole seconds (the kernel's unit). Default 1s.
	KeepaliveInterval time.Duration `yaml:"keepalive_interval"`
	// KeepaliveCount is how many unanswered keepalive probes make the kernel
	// drop the watch connection (through TCP_USER_TIMEOUT). A dropped
	// connection makes the target Suspect while one reconnect, bounded by
	// Timeout, tells a silent host (Down) from a lost packet (Up again). At
	// the defaults a silent host is Down within
	// KeepaliveInterval*(KeepaliveCount+1) + Timeout = 2.8s, plus the
	// kernel's timer slack (see DetectionBound). Default 1.
	KeepaliveCount int `yaml:"keepalive_count"`
}

// Defaults, one place for the values the field comments state.
const (
	DefaultKind              = "tcp"
	DefaultInterval          = time.Second
	DefaultTimeout           = 800 * time.Millisecond
	DefaultFastInterval      = 200 * time.Millisecond
	DefaultRise              = 2
	DefaultFall              = 2
	DefaultMethod            = "GET"
	DefaultPath              = "/"
	DefaultStatus            = "200-399"
	DefaultQType             = "A"
	DefaultRCode             = "NOERROR"
	DefaultKeepaliveInterval = time.Second
	DefaultKeepaliveCount    = 1
)

// bodyLimit caps how much of a response body the http probe reads.
const bodyLimit = 64 << 10

// Kinds lists the built-in probe kinds.
var Kinds = []string{"tcp", "http", "https", "tls", "dns", "watch"}

// WithDefaults returns s with every zero field set to its documented default.
// Kind-specific defaults are filled only for their kind, so that two tcp
// specs that differ only in unused http fields stay equal.
func (s Spec) WithDefaults() Spec {
	if s.Kind == "" {
		s.Kind = DefaultKind
	}
	s.Kind = strings.ToLower(s.Kind)
	if s.Interval == 0 {
		s.Interval = DefaultInterval
	}
	if s.Timeout == 0 {
		s.Timeout = DefaultTimeout
	}
	if s.FastInterval == 0 {
		s.FastInterval = DefaultFastInterval
	}
	if s.DownInterval == 0 {
		s.DownInterval = s.Interval
	}
	if s.Rise == 0 {
		s.Rise = DefaultRise
	}
	if s.Fall == 0 {
		s.Fall = DefaultFall
	}
	switch s.Kind {
	case "http", "https":
		if s.Method == "" {
			s.Method = DefaultMethod
		}
		s.Method = strings.ToUpper(s.Method)
		if s.Path == "" {
			s.Path = DefaultPath
		}
		if len(s.Status) == 0 {
			s.Status = []string{DefaultStatus}
		}
	case "dns":
		if s.QType == "" {
			s.QType = DefaultQType
		}
		s.QType = strings.ToUpper(s.QType)
		if s.RCode == "" {
			s.RCode = DefaultRCode
		}
		s.RCode = strings.ToUpper(s.RCode)
	case "watch":
		if s.KeepaliveInterval == 0 {
			s.KeepaliveInterval = DefaultKeepaliveInterval
		}
		if s.KeepaliveCount == 0 {
			s.KeepaliveCount = DefaultKeepaliveCount
		}
	}
	return s
}

// Validate checks a defaulted spec (call WithDefaults first) and returns every
// problem it finds, joined. It reads CAFile, so that a missing or bad file is
// reported when the configuration is loaded rather than as a failing probe.
func (s Spec) Validate() error { return s.validate(Kinds) }

// validate is Validate with the list of known kinds (a Checker may have
// more than the built-in ones).
func (s Spec) validate(kinds []string) error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }

	if !slices.Contains(kinds, s.Kind) {
		bad("unknown kind %q (want one of %s)", s.Kind, strings.Join(kinds, ", "))
	}
	if s.Interval <= 0 {
		bad("interval %v must be positive", s.Interval)
	}
	if s.Timeout <= 0 {
		bad("timeout %v must be positive", s.Timeout)
	} else if s.Timeout >= s.Interval {
		bad("timeout %v must be below interval %v", s.Timeout, s.Interval)
	}
	if s.FastInterval <= 0 {
		bad("fast_interval %v must be positive", s.FastInterval)
	}
	if s.DownInterval <= 0 {
		bad("down_interval %v must be positive", s.DownInterval)
	}
	if s.Rise < 1 {
		bad("rise %d must be at least 1", s.Rise)
	}
	if s.Fall < 1 {
		bad("fall %d must be at least 1", s.Fall)
	}
	if s.Port < 0 || s.Port > 65535 {
		bad("port %d out of range", s.Port)
	}
	if s.Source != "" {
		if a, err := netip.ParseAddr(s.Source); err != nil || a.Zone() != "" || a.IsUnspecified() {
			bad("source %q: want an IP address of this host", s.Source)
		}
	}

	isHTTP := s.Kind == "http" || s.Kind == "https"
	if isHTTP {
		if s.Method != "GET" && s.Method != "HEAD" {
			bad("method %q: want GET or HEAD", s.Method)
		}
		if !strings.HasPrefix(s.Path, "/") {
			bad("path %q must start with /", s.Path)
		}
		if _, err := parseStatus(s.Status); err != nil {
			errs = append(errs, err)
		}
		if s.BodyRegexp != "" {
			if _, err := regexp.Compile(s.BodyRegexp); err != nil {
				bad("body_regexp: %w", err)
			}
		}
		if s.Method == "HEAD" && (s.Body != "" || s.BodyRegexp != "") {
			bad("body and body_regexp need method GET (a HEAD response has no body)")
		}
	} else if s.Method != "" || s.Path != "" || len(s.Status) > 0 || s.Body != "" || s.BodyRegexp != "" || s.Host != "" || len(s.Headers) > 0 {
		bad("method, path, host, headers, status, body and body_regexp are for kinds http and https, not %q", s.Kind)
	}

	if s.Kind == "https" || s.Kind == "tls" {
		if s.CAFile != "" {
			if _, err := loadCAFile(s.CAFile); err != nil {
				errs = append(errs, err)
			}
		}
	} else if s.ServerName != "" || s.CAFile != "" || s.Insecure {
		bad("server_name, ca_file and insecure are for kinds https and tls, not %q", s.Kind)
	}

	if s.Kind == "dns" {
		if s.QName == "" {
			bad("kind dns needs a qname")
		}
		if _, ok := dnsType(s.QType); !ok {
			bad("unknown qtype %q", s.QType)
		}
		if _, ok := dnsRcode(s.RCode); !ok {
			bad("unknown rcode %q", s.RCode)
		}
	} else if s.QName != "" || s.QType != "" || s.RCode != "" {
		bad("qname, qtype and rcode are for kind dns, not %q", s.Kind)
	}

	if s.Kind == "watch" {
		// The kernel takes keepalive times in whole seconds.
		if s.KeepaliveInterval < time.Second || s.KeepaliveInterval%time.Second != 0 {
			bad("keepalive_interval %v must be a whole number of seconds, at least 1s", s.KeepaliveInterval)
		}
		if s.KeepaliveCount < 1 {
			bad("keepalive_count %d must be at least 1", s.KeepaliveCount)
		}
	} else if s.Send != "" || s.Expect != "" || s.KeepaliveInterval != 0 || s.KeepaliveCount != 0 {
		bad("send, expect, keepalive_interval and keepalive_count are for kind watch, not %q", s.Kind)
	}
	return errors.Join(errs...)
}

// DetectionBound is the worst-case time from a target failing to it being
// Down, at this (defaulted) spec. The plugin adds the TTL to it to show a
// service's failover budget.
//
// For the polling kinds: the failure happens just after a successful probe;
// the next probe starts at most Interval+5% jitter later and takes up to
// Timeout to fail (a silent host; a refused connect fails at once); each of
// the Fall-1 confirming probes follows FastInterval after the last one ended
// and takes up to Timeout again:
//
//	Interval*1.05 + (Fall-1)*FastInterval + Fall*Timeout
//
// At the defaults that is 1.05s+0.2s+1.6s = 2.85s for a silent host, and
// 1.25s when connections are refused (the Timeout terms vanish).
//
// For watch, a crashed backend process is seen at once (milliseconds): the
// kernel closes or resets the held connection when the process dies. The
// bound returned is the one for a host that vanishes without a word. The
// kernel drops the connection at the keepalive timer's firing after
// KeepaliveCount unanswered probes, KeepaliveInterval*(KeepaliveCount+1)
// after the host's last answer at most; the timer wheel fires a timer up to
// 1/8 of its length late (measured: tens of milliseconds on a one-second
// timer), so that part counts 9/8. Then one reconnect, failing after
// Timeout, confirms it:
//
//	KeepaliveInterval*(KeepaliveCount+1) * 9/8 + Timeout
//
// which is 2.25s+0.8s = 3.05s at the defaults.
func (s Spec) DetectionBound() time.Duration {
	if s.Kind == "watch" {
		return s.KeepaliveInterval*time.Duration(s.KeepaliveCount+1)*9/8 + s.Timeout
	}
	fall := max(s.Fall, 1)
	return maxJitter(s.Interval) + time.Duration(fall-1)*s.FastInterval + time.Duration(fall)*s.Timeout
}

// loadCAFile reads a PEM bundle of CA certificates.
func loadCAFile(name string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(name)
	if err != nil {
		return nil, fmt.Errorf("ca_file: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("ca_file %s: no PEM certificates found", name)
	}
	return pool, nil
}
