package admin

import (
	"context"
	"crypto/subtle"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	stdlog "log"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hadns/hadns/healthcheck"
	"github.com/hadns/hadns/internal/ops"
)

// Limits of the admin server. A client that holds a connection, sends its
// request slowly or never reads the reply ties up one descriptor and one
// goroutine; these bound how many and for how long, so the admin port cannot
// take the file descriptors the health checker needs.
const (
	// MaxConns is the most connections an admin server holds open; one
	// more is closed as soon as it is accepted.
	MaxConns = 64
	// headerTimeout bounds reading a request's headers.
	headerTimeout = 5 * time.Second
	// readTimeout bounds reading a whole request, body included.
	readTimeout = 10 * time.Second
	// writeTimeout bounds writing a reply (from the end of the request's
	// headers).
	writeTimeout = 30 * time.Second
	// idleTimeout closes a keep-alive connection with no request.
	idleTimeout = 30 * time.Second
	// maxHeaderBytes bounds a request's headers.
	maxHeaderBytes = 16 << 10
)

// limitListener holds at most cap(sem) connections open. Unlike
// netutil.LimitListener, which stops accepting and leaves the excess in the
// kernel's queue (where a client waits with no answer), it accepts the
// excess and closes it at once, so a client learns right away and the queue
// cannot fill with connections nobody serves.
type limitListener struct {
	net.Listener
	sem      chan struct{}
	rejected func() // called for each connection closed at once
}

func newLimitListener(ln net.Listener, n int, rejected func()) *limitListener {
	return &limitListener{Listener: ln, sem: make(chan struct{}, n), rejected: rejected}
}

func (l *limitListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		select {
		case l.sem <- struct{}{}:
			return &limitConn{Conn: c, sem: l.sem}, nil
		default:
			l.rejected()
			c.Close()
		}
	}
}

// limitConn gives its slot back when closed (once, however often Close is
// called).
type limitConn struct {
	net.Conn
	sem  chan struct{}
	once sync.Once
}

func (c *limitConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() { <-c.sem })
	return err
}

// Logger is where the admin servers log (CoreDNS's plugin logger in
// hadns).
type Logger = ops.Logger

// Options are what the admin servers of a process share.
type Options struct {
	// Clock reads the time of overrides and of the status document; nil:
	// the system clock.
	Clock healthcheck.Clock
	// Log receives start, stop and trouble of the servers; it is required.
	Log Logger
	// OnRejectedConn, when set, is called for each connection closed at
	// once because a server held MaxConns.
	OnRejectedConn func()
}

// Servers are the admin servers of a process, one per listen address. Like
// the checker pool they outlive any one engine, because a Corefile reload
// starts the new plugin instance before stopping the old.
type Servers struct {
	opts Options

	mu     sync.Mutex
	byAddr map[string]*Server
}

// NewServers returns an empty set of admin servers.
func NewServers(opts Options) *Servers {
	if opts.Clock == nil {
		opts.Clock = healthcheck.SystemClock{}
	}
	if opts.OnRejectedConn == nil {
		opts.OnRejectedConn = func() {}
	}
	return &Servers{opts: opts, byAddr: map[string]*Server{}}
}

// Server is the admin HTTP API on one address. It is shared by every
// engine that names the address: a Corefile reload starts the new plugin
// instance (same address) before stopping the old, so the listener must
// outlive both. The last engine out closes it.
type Server struct {
	addr  string
	clock healthcheck.Clock
	log   Logger
	srv   *http.Server
	ln    net.Listener
	done  chan struct{} // closed when Serve returned

	mu      sync.Mutex
	engines []registration // in registration order: the newest wins a zone both serve
	cfg     *Config        // of the newest engine: its token and certificate apply

	statusMu  sync.Mutex    // one status build at a time
	status    *statusCache  // the last one built
	statusGen atomic.Uint64 // bumped by every change through the API
}

// registration is an engine and the configuration it registered with.
type registration struct {
	e   Engine
	cfg *Config
}

// Register adds e to the admin server on cfg.Addr, starting it if none
// runs there. The configuration of the newest engine applies.
func (s *Servers) Register(e Engine, cfg *Config) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.byAddr[cfg.Addr]
	if ok {
		a.mu.Lock()
		if (a.cfg.Cert == nil) != (cfg.Cert == nil) {
			s.opts.Log.Warningf("admin %s: switching between TLS and plain HTTP takes a restart; keeping %s", cfg.Addr, map[bool]string{true: "TLS", false: "plain HTTP"}[a.cfg.Cert != nil])
		}
		a.engines = append(a.engines, registration{e, cfg})
		a.cfg = cfg
		a.mu.Unlock()
		return nil
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("admin %s: %w", cfg.Addr, err)
	}
	a = &Server{addr: cfg.Addr, clock: s.opts.Clock, log: s.opts.Log, engines: []registration{{e, cfg}}, cfg: cfg, done: make(chan struct{})}
	// The limit is below TLS, so a handshake holds a slot too.
	ln = newLimitListener(ln, MaxConns, s.opts.OnRejectedConn)
	if cfg.Cert != nil {
		ln = tls.NewListener(ln, &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: a.certificate})
	}
	a.ln = ln
	a.srv = &http.Server{
		Handler:           a.routes(),
		ReadHeaderTimeout: headerTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		// Slow or broken clients are not worth a log line each.
		ErrorLog: stdlog.New(io.Discard, "", 0),
	}
	go func() {
		defer close(a.done)
		if err := a.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			a.log.Errorf("admin %s: %v", a.addr, err)
		}
	}()
	s.byAddr[cfg.Addr] = a
	a.log.Infof("admin API on %s", a.url())
	return nil
}

// Unregister removes e from the server on addr; the last engine out stops
// the server.
func (s *Servers) Unregister(e Engine, addr string) {
	s.mu.Lock()
	a, ok := s.byAddr[addr]
	if !ok {
		s.mu.Unlock()
		return
	}
	a.mu.Lock()
	a.engines = slices.DeleteFunc(a.engines, func(r registration) bool { return r.e == e })
	last := len(a.engines) == 0
	if !last {
		// The newest engine left decides the token and certificate: after a
		// failed reload, the configuration still serving.
		a.cfg = a.engines[len(a.engines)-1].cfg
	}
	a.mu.Unlock()
	if last {
		delete(s.byAddr, addr)
	}
	s.mu.Unlock()
	if last {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if err := a.srv.Shutdown(ctx); err != nil {
			a.srv.Close()
		}
		<-a.done
	}
}

// Get returns the server on addr (as configured, not as bound), or nil.
func (s *Servers) Get(addr string) *Server {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.byAddr[addr]
}

// Addr is the address the server listens on (its port chosen when the
// configured one was 0).
func (a *Server) Addr() net.Addr { return a.ln.Addr() }

// Handler is the server's HTTP handler: every route, behind the Host check
// and the token.
func (a *Server) Handler() http.Handler { return a.srv.Handler }

// Engines returns the registered engines, oldest first.
func (a *Server) Engines() []Engine {
	engines, _ := a.current()
	return engines
}

func (a *Server) url() string {
	if a.cfg.Cert != nil {
		return "https://" + a.ln.Addr().String()
	}
	return "http://" + a.ln.Addr().String()
}

func (a *Server) certificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.cfg.Cert == nil {
		return nil, errors.New("no certificate")
	}
	return a.cfg.Cert, nil
}

// current returns the registered engines and the config that applies.
func (a *Server) current() ([]Engine, *Config) {
	a.mu.Lock()
	defer a.mu.Unlock()
	engines := make([]Engine, len(a.engines))
	for i, r := range a.engines {
		engines[i] = r.e
	}
	return engines, a.cfg
}

// authorize decides whether r may proceed. Changes need the configured
// token; reads need it too, except from loopback clients. A token that is
// sent must be right.
func authorize(r *http.Request, cfg *Config, change bool) (int, error) {
	tok, hasTok := bearer(r)
	if change && cfg.Token == "" {
		return http.StatusForbidden, fmt.Errorf("changes are refused: no admin token is configured (set admin_token_file in the Corefile or %s)", TokenEnv)
	}
	if hasTok && cfg.Token != "" {
		if subtle.ConstantTimeCompare([]byte(tok), []byte(cfg.Token)) != 1 {
			return http.StatusUnauthorized, errors.New("wrong token")
		}
		return 0, nil
	}
	if change {
		return http.StatusUnauthorized, errors.New("this change needs the admin token: send Authorization: Bearer TOKEN")
	}
	if loopbackClient(r) {
		return 0, nil
	}
	if cfg.Token == "" {
		return http.StatusForbidden, errors.New("reads from other hosts need the admin token, and none is configured")
	}
	return http.StatusUnauthorized, errors.New("reads from other hosts need the admin token: send Authorization: Bearer TOKEN")
}

func bearer(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return "", false
	}
	scheme, tok, _ := strings.Cut(h, " ")
	if !strings.EqualFold(scheme, "Bearer") {
		return "", true // a malformed header counts as a wrong token
	}
	return strings.TrimSpace(tok), true
}

func loopbackClient(r *http.Request) bool {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	return err == nil && ap.Addr().Unmap().IsLoopback()
}
