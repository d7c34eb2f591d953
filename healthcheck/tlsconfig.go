package healthcheck

import (
	"crypto/tls"
	"net"
	"net/netip"
)

// tlsConfig builds the client TLS configuration of a tls or https target:
// verification on unless Insecure, against CAFile's roots when set, for
// ServerName, else the Host header's name, else the target's IP address.
func tlsConfig(t Target) (*tls.Config, error) {
	s := t.spec()
	cfg := &tls.Config{
		InsecureSkipVerify: s.Insecure, //nolint:gosec // explicit opt-in, documented on the field
		MinVersion:         tls.VersionTLS12,
		NextProtos:         []string{"http/1.1"},
	}
	switch {
	case s.ServerName != "":
		cfg.ServerName = s.ServerName
	case s.Host != "":
		host := s.Host
		if h, _, err := net.SplitHostPort(s.Host); err == nil {
			host = h
		}
		cfg.ServerName = host
	default:
		// An IP address as ServerName sends no SNI and makes crypto/tls
		// verify the certificate's IP SANs.
		cfg.ServerName = t.ProbeAddr().Addr().Unmap().String()
	}
	if _, err := netip.ParseAddr(cfg.ServerName); err == nil && s.Kind == "tls" {
		cfg.NextProtos = nil
	}
	if s.CAFile != "" {
		pool, err := loadCAFile(s.CAFile)
		if err != nil {
			return nil, probeErr("tls", err)
		}
		cfg.RootCAs = pool
	}
	return cfg, nil
}
