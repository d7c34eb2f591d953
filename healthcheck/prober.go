package healthcheck

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"os"
	"strings"
	"syscall"
	"time"
)

// Prober checks a target once. Its error says why the target failed, in a
// few words ("connect: connection refused", "http: status 503"); nil means
// healthy. Check must return by the time ctx is done (the loop puts the
// spec's Timeout on it).
type Prober interface {
	Check(ctx context.Context, t Target) error
}

// Watcher is implemented by a Prober whose kind does not poll but holds a
// connection: the loop opens a Session and waits on it instead of calling
// Check on a schedule. Open must return by the time ctx is done.
type Watcher interface {
	Open(ctx context.Context, t Target) (Session, error)
}

// Session is one held connection of a Watcher.
type Session interface {
	// Wait blocks until the connection is lost, and says why, or until
	// ctx is done (then it returns ctx's error).
	Wait(ctx context.Context) error
	// Close releases the connection.
	Close() error
}

// binder is implemented by the built-in probers: it does a target's one-off
// setup (parse status codes, compile the regexp, load the CA file, build the
// transport) once, when the target's loop is created, instead of per probe.
type binder interface {
	bind(t Target) (Prober, error)
}

// builtinProbers returns a fresh set of the built-in kinds.
func builtinProbers() map[string]Prober {
	return map[string]Prober{
		"tcp":   TCPProber{},
		"http":  HTTPProber{},
		"https": HTTPProber{},
		"tls":   TLSProber{},
		"dns":   DNSProber{},
		"watch": WatchProber{},
	}
}

// failedProber fails every probe with a setup error (say, an unreadable CA
// file), so a target whose check cannot be built shows why, Down.
type failedProber struct{ err error }

func (p failedProber) Check(context.Context, Target) error { return p.err }

// ProbeError is a failed probe: the phase that failed (connect, tls, http,
// dns, watch) and the cause. Its text is short, for status pages and logs;
// the cause stays reachable through errors.Is/As.
type ProbeError struct {
	Op  string
	Err error
}

func (e *ProbeError) Error() string { return e.Op + ": " + describe(e.Err) }

func (e *ProbeError) Unwrap() error { return e.Err }

// probeErr wraps err as a ProbeError for op, unless it already is one.
func probeErr(op string, err error) error {
	var pe *ProbeError
	if errors.As(err, &pe) {
		return pe
	}
	return &ProbeError{Op: op, Err: err}
}

// describe turns the usual network and TLS errors into a few words, without
// the "dial tcp 127.0.0.1:80:" prefix that the address column already shows.
func describe(err error) string {
	var (
		invalid  x509.CertificateInvalidError
		unknown  x509.UnknownAuthorityError
		hostname x509.HostnameError
		alert    tls.AlertError
		verify   *tls.CertificateVerificationError
		errno    syscall.Errno
	)
	switch {
	case err == nil:
		return "ok"
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded):
		return "timeout"
	case errors.Is(err, context.Canceled):
		return "canceled"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "connection closed by peer"
	case errors.As(err, &invalid):
		if invalid.Reason == x509.Expired && invalid.Cert != nil {
			if time.Now().Before(invalid.Cert.NotBefore) {
				return "certificate not yet valid"
			}
			return "certificate expired"
		}
		return "invalid certificate: " + invalid.Error()
	case errors.As(err, &unknown):
		return "certificate signed by unknown authority"
	case errors.As(err, &hostname):
		return strings.TrimPrefix(hostname.Error(), "x509: ")
	case errors.As(err, &verify):
		return verify.Err.Error()
	case errors.As(err, &alert):
		return "remote error: " + alert.Error()
	case errors.As(err, &errno):
		switch errno {
		case syscall.ECONNREFUSED:
			return "connection refused"
		case syscall.ECONNRESET:
			return "connection reset"
		case syscall.ETIMEDOUT:
			return "timeout"
		case syscall.EHOSTUNREACH:
			return "host unreachable"
		case syscall.ENETUNREACH:
			return "network unreachable"
		case syscall.EPIPE:
			return "broken pipe"
		}
		return errno.Error()
	}
	var op *net.OpError
	if errors.As(err, &op) && op.Err != nil {
		return describe(op.Err)
	}
	return err.Error()
}
