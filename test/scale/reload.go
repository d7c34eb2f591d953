package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/miekg/dns"

	"github.com/hadns/hadns/test/internal/loadtest"
)

// reloads rewrites the big zone c.reloads times with a new address for
// www, and times the write to hadns's "reloaded" log line and to the new
// answer; then it checks that health state survived (a service's answer
// is not degraded).
func reloads(ctx context.Context, c config, srv *server, big shape, file string, addrs []string) error {
	text := big.zoneYAML(addrs)
	fmt.Printf("\nzone reload: %d KiB file, one static record changed, reload interval %v (the wait for the next file check is in both columns)\n",
		len(text)/1024, c.reload)
	var logs, answers []time.Duration
	for i := 0; i < c.reloads; i++ {
		big.wwwIP = fmt.Sprintf("127.0.0.%d", 81+i)
		from := srv.proc.Out.Len()
		logged := srv.proc.Out.Watch("reloaded ", from)
		failed := srv.proc.Out.Watch("reload failed", from)
		if err := writeFile(file, big.zoneYAML(addrs)); err != nil {
			return err
		}
		t0 := time.Now()
		want := big.wwwIP
		d, err := loadtest.WaitAnswer(ctx, srv.addr, "www."+big.origin, dns.TypeA, 2*time.Millisecond, t0, c.reload+30*time.Second,
			func(m *dns.Msg) bool { return len(m.Answer) == 1 && strings.HasSuffix(m.Answer[0].String(), "\t"+want) })
		if err != nil {
			return fmt.Errorf("reload %d: %w", i+1, err)
		}
		var l time.Duration
		select {
		case at := <-logged:
			l = at.Sub(t0)
		case <-failed:
			return fmt.Errorf("reload %d failed:\n%s", i+1, tail(srv.proc.Out.String(), 20))
		case <-time.After(5 * time.Second):
			return fmt.Errorf("reload %d: new answer but no \"reloaded\" log line", i+1)
		}
		logs, answers = append(logs, l), append(answers, d)
		fmt.Printf("  reload %d: log line after %v, new answer after %v\n", i+1, l.Round(time.Millisecond), d.Round(time.Millisecond))
	}
	if len(logs) > 0 {
		fmt.Printf("  median: log line %v, new answer %v\n", loadtest.MedianDuration(logs).Round(time.Millisecond), loadtest.MedianDuration(answers).Round(time.Millisecond))
	}
	// Health state survives a reload: the answer is the healthy one (TTL
	// 10, no Extended DNS Error), not "not ready".
	m, err := loadtest.Query(srv.addr, serviceName(0)+"."+big.origin, dns.TypeA, true)
	if err != nil {
		return err
	}
	if len(m.Answer) == 0 || m.Answer[0].Header().Ttl != 10 || hasEDE(m) {
		return fmt.Errorf("after the reloads the service answer is degraded:\n%v", m)
	}
	return nil
}

func hasEDE(m *dns.Msg) bool {
	if opt := m.IsEdns0(); opt != nil {
		for _, o := range opt.Option {
			if _, ok := o.(*dns.EDNS0_EDE); ok {
				return true
			}
		}
	}
	return false
}
