package loadtest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// Server is a hadns process serving DNS on Addr.
type Server struct {
	*Proc
	Addr string // 127.0.0.1:PORT
}

// StartServer writes corefile(port) to dir/Corefile and starts bin on it,
// on a port free on 127.0.0.1 (pinned to cpu; -1: not pinned). A port taken
// between the choice and the bind is retried with another. It returns once
// the server answers an SOA query for origin, within about 15 s.
func StartServer(ctx context.Context, bin, dir string, corefile func(port int) string, origin string, cpu int) (*Server, error) {
	var lastErr error
	for attempt := 0; attempt < 4 && ctx.Err() == nil; attempt++ {
		port, err := FreePort()
		if err != nil {
			return nil, err
		}
		if err := os.WriteFile(filepath.Join(dir, "Corefile"), []byte(corefile(port)), 0o644); err != nil {
			return nil, err
		}
		p, err := StartProc("hadns", bin, []string{"-conf", "Corefile"}, dir, cpu)
		if err != nil {
			return nil, err
		}
		s := &Server{Proc: p, Addr: fmt.Sprintf("127.0.0.1:%d", port)}
		m := new(dns.Msg)
		m.SetQuestion(origin, dns.TypeSOA)
		cl := &dns.Client{Net: "udp", Timeout: 200 * time.Millisecond}
		for i := 0; i < 150 && s.Alive() && ctx.Err() == nil; i++ { // ~15 s
			if _, _, err := cl.Exchange(m, s.Addr); err == nil {
				return s, nil
			}
			time.Sleep(50 * time.Millisecond)
		}
		s.Stop()
		lastErr = fmt.Errorf("hadns did not answer on %s:\n%s", s.Addr, s.Out.String())
		if !strings.Contains(s.Out.String(), "address already in use") {
			break
		}
	}
	if lastErr == nil {
		lastErr = context.Cause(ctx)
	}
	return nil, lastErr
}
