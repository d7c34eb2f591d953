package healthcheck

import (
	"context"
	"crypto/tls"
)

// TLSProber is kind tls: the TLS handshake completes and, unless Insecure,
// the certificate verifies (chain, validity dates, name).
type TLSProber struct{}

// Check dials t and handshakes. Use it through a Checker, which binds the
// TLS configuration once per target; called directly it builds it each time.
func (TLSProber) Check(ctx context.Context, t Target) error {
	p, err := TLSProber{}.bind(t)
	if err != nil {
		return err
	}
	return p.Check(ctx, t)
}

func (TLSProber) bind(t Target) (Prober, error) {
	cfg, err := tlsConfig(t)
	if err != nil {
		return nil, err
	}
	return &tlsCheck{cfg: cfg}, nil
}

type tlsCheck struct{ cfg *tls.Config }

func (p *tlsCheck) Check(ctx context.Context, t Target) error {
	conn, err := dialTLS(ctx, t, p.cfg)
	if err != nil {
		return err
	}
	return conn.Close()
}

// dialTLS connects and handshakes, failing with "connect:" or "tls:".
func dialTLS(ctx context.Context, t Target, cfg *tls.Config) (*tls.Conn, error) {
	raw, err := dialTCP(ctx, t)
	if err != nil {
		return nil, err
	}
	conn := tls.Client(raw, cfg)
	if err := conn.HandshakeContext(ctx); err != nil {
		resetClose(raw)
		return nil, probeErr("tls", err)
	}
	return conn, nil
}
