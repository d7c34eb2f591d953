package hadns

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
)

// Limits of the admin server. A client that holds a connection, sends its
// request slowly or never reads the reply ties up one descriptor and one
// goroutine; these bound how many and for how long, so the admin port cannot
// take the file descriptors the health checker needs.
const (
	// adminMaxConns is the most connections the admin server holds open;
	// one more is closed as soon as it is accepted.
	adminMaxConns = 64
	// adminHeaderTimeout bounds reading a request's headers.
	adminHeaderTimeout = 5 * time.Second
	// adminReadTimeout bounds reading a whole request, body included.
	adminReadTimeout = 10 * time.Second
	// adminWriteTimeout bounds writing a reply (from the end of the
	// request's headers).
	adminWriteTimeout = 30 * time.Second
	// adminIdleTimeout closes a keep-alive connection with no request.
	adminIdleTimeout = 30 * time.Second
	// adminMaxHeaderBytes bounds a request's headers.
	adminMaxHeaderBytes = 16 << 10
)

// limitListener holds at most cap(sem) connections open. Unlike
// netutil.LimitListener, which stops accepting and leaves the excess in the
// kernel's queue (where a client waits with no answer), it accepts the
// excess and closes it at once, so a client learns right away and the queue
// cannot fill with connections nobody serves.
type limitListener struct {
	net.Listener
	sem chan struct{}
}

func newLimitListener(ln net.Listener, n int) *limitListener {
	return &limitListener{Listener: ln, sem: make(chan struct{}, n)}
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
			adminRejectedConns.Inc()
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

// adminServer is the admin HTTP API on one address. It is shared by every
// engine that names the address: a Corefile reload starts the new plugin
// instance (same address) before stopping the old, so the listener must
// outlive both. The last engine out closes it.
type adminServer struct {
	addr string
	ops  *operations
	srv  *http.Server
	ln   net.Listener
	done chan struct{} // closed when Serve returned

	mu      sync.Mutex
	engines []*engine    // in registration order: the newest wins a zone both serve
	cfg     *adminConfig // of the newest engine: its token and certificate apply

	statusMu  sync.Mutex    // one status build at a time
	status    *statusCache  // the last one built
	statusGen atomic.Uint64 // bumped by every change through the API
}

// registerAdmin adds e to the admin server on cfg.addr, starting it if none
// runs there.
func (o *operations) registerAdmin(e *engine, cfg *adminConfig) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	a, ok := o.admins[cfg.addr]
	if ok {
		a.mu.Lock()
		if (a.cfg.cert == nil) != (cfg.cert == nil) {
			log.Warningf("admin %s: switching between TLS and plain HTTP takes a restart; keeping %s", cfg.addr, map[bool]string{true: "TLS", false: "plain HTTP"}[a.cfg.cert != nil])
		}
		a.engines = append(a.engines, e)
		a.cfg = cfg
		a.mu.Unlock()
		return nil
	}
	ln, err := net.Listen("tcp", cfg.addr)
	if err != nil {
		return fmt.Errorf("admin %s: %w", cfg.addr, err)
	}
	a = &adminServer{addr: cfg.addr, ops: o, engines: []*engine{e}, cfg: cfg, done: make(chan struct{})}
	// The limit is below TLS, so a handshake holds a slot too.
	ln = newLimitListener(ln, adminMaxConns)
	if cfg.cert != nil {
		ln = tls.NewListener(ln, &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: a.certificate})
	}
	a.ln = ln
	a.srv = &http.Server{
		Handler:           a.routes(),
		ReadHeaderTimeout: adminHeaderTimeout,
		ReadTimeout:       adminReadTimeout,
		WriteTimeout:      adminWriteTimeout,
		IdleTimeout:       adminIdleTimeout,
		MaxHeaderBytes:    adminMaxHeaderBytes,
		// Slow or broken clients are not worth a log line each.
		ErrorLog: stdlog.New(io.Discard, "", 0),
	}
	go func() {
		defer close(a.done)
		if err := a.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Errorf("admin %s: %v", a.addr, err)
		}
	}()
	o.admins[cfg.addr] = a
	log.Infof("admin API on %s", a.url())
	return nil
}

// unregisterAdmin removes e; the last engine out stops the server.
func (o *operations) unregisterAdmin(e *engine, addr string) {
	o.mu.Lock()
	a, ok := o.admins[addr]
	if !ok {
		o.mu.Unlock()
		return
	}
	a.mu.Lock()
	a.engines = slices.DeleteFunc(a.engines, func(x *engine) bool { return x == e })
	last := len(a.engines) == 0
	if !last {
		// The newest engine left decides the token and certificate: after a
		// failed reload, the configuration still serving.
		a.cfg = a.engines[len(a.engines)-1].cfg.admin
	}
	a.mu.Unlock()
	if last {
		delete(o.admins, addr)
	}
	o.mu.Unlock()
	if last {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if err := a.srv.Shutdown(ctx); err != nil {
			a.srv.Close()
		}
		<-a.done
	}
}

func (a *adminServer) url() string {
	if a.cfg.cert != nil {
		return "https://" + a.ln.Addr().String()
	}
	return "http://" + a.ln.Addr().String()
}

func (a *adminServer) certificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.cfg.cert == nil {
		return nil, errors.New("no certificate")
	}
	return a.cfg.cert, nil
}

// current returns the registered engines and the config that applies.
func (a *adminServer) current() ([]*engine, *adminConfig) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.engines), a.cfg
}

// authorize decides whether r may proceed. Changes need the configured
// token; reads need it too, except from loopback clients. A token that is
// sent must be right.
func authorize(r *http.Request, cfg *adminConfig, change bool) (int, error) {
	tok, hasTok := bearer(r)
	if change && cfg.token == "" {
		return http.StatusForbidden, fmt.Errorf("changes are refused: no admin token is configured (set admin_token_file in the Corefile or %s)", tokenEnv)
	}
	if hasTok && cfg.token != "" {
		if subtle.ConstantTimeCompare([]byte(tok), []byte(cfg.token)) != 1 {
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
	if cfg.token == "" {
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
