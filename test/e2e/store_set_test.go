package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/hadns/hadns/internal/store/etcdtest"
)

// storeSet is a running nameserver set for a test: one etcd and n hadns
// instances (ns1..nsN) on storeCorefile, each with the extra hadns lines
// extra(i) gives (i from 0).
type storeSet struct {
	etcd *etcdtest.Server
	cli  *clientv3.Client
	ns   []*server
}

func startStoreSet(t *testing.T, n int, extra func(i int) string) *storeSet {
	t.Helper()
	dir := t.TempDir()
	if d, err := os.MkdirTemp("/dev/shm", "hadns-e2e-etcd-"); err == nil {
		dir = d // etcd fsyncs every write; tmpfs keeps that cheap
		t.Cleanup(func() { os.RemoveAll(d) })
	}
	etcd, err := etcdtest.Start(dir)
	if err != nil {
		t.Fatalf("etcd: %v", err)
	}
	t.Cleanup(etcd.Kill)
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{etcd.Endpoint}, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.Close() })
	set := &storeSet{etcd: etcd, cli: cli}
	for i := range n {
		lines := "        state state.json\n"
		if extra != nil {
			lines += extra(i)
		}
		cf := strings.NewReplacer("ENDPOINT", etcd.Endpoint, "INSTANCE", fmt.Sprintf("ns%d", i+1),
			"        state state.json\n", lines).Replace(storeCorefile)
		set.ns = append(set.ns, startServer(t, cf, files{"token": admToken + "\n"}))
	}
	return set
}

// push writes a zone document through instance i with `hadns ctl zone push`.
func (s *storeSet) push(t *testing.T, i int, doc string) {
	t.Helper()
	zf := filepath.Join(t.TempDir(), "zone.yaml")
	writeFile(t, zf, doc)
	if out, code := ctlRun(t, s.ns[i], "-token-file", filepath.Join(s.ns[i].Dir, "token"), "zone", "push", zf); code != 0 {
		t.Fatalf("zone push through ns%d: exit %d: %s", i+1, code, out)
	}
}

// get reads the keys under the store's default prefix and kind (e.g.
// "overrides/") straight from etcd: key (after the kind) → value.
func (s *storeSet) get(t *testing.T, kind string) map[string]string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), stLimit)
	defer cancel()
	prefix := "/hadns/v1/" + kind
	resp, err := s.cli.Get(ctx, prefix, clientv3.WithPrefix())
	if err != nil {
		t.Fatalf("etcd get %s: %v", prefix, err)
	}
	out := map[string]string{}
	for _, kv := range resp.Kvs {
		out[strings.TrimPrefix(string(kv.Key), prefix)] = string(kv.Value)
	}
	return out
}

// backendStatus finds backend addr in instance s's /v1/status.
func backendStatus(t *testing.T, s *server, addr string) (map[string]any, error) {
	t.Helper()
	code, st := stAPI(t, s, "GET", "/v1/status", "")
	if code != 200 {
		return nil, fmt.Errorf("status: %d %v", code, st)
	}
	data, _ := json.Marshal(st["zones"])
	var zones []struct {
		Services []struct {
			Backends []map[string]any `json:"backends"`
		} `json:"services"`
	}
	if err := json.Unmarshal(data, &zones); err != nil {
		return nil, err
	}
	for _, z := range zones {
		for _, sv := range z.Services {
			for _, b := range sv.Backends {
				if b["address"] == addr {
					return b, nil
				}
			}
		}
	}
	return nil, fmt.Errorf("no backend %s in the status", addr)
}
