package store

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.etcd.io/etcd/api/v3/mvccpb"
)

func TestConfigValidate(t *testing.T) {
	dir := t.TempDir()
	cert := filepath.Join(dir, "c.pem")
	if err := os.WriteFile(cert, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	ok := Config{Endpoints: []string{"127.0.0.1:2379"}, Instance: "ns1"}
	tests := []struct {
		name    string
		edit    func(c *Config)
		wantErr string
	}{
		{"defaults", func(*Config) {}, ""},
		{"https", func(c *Config) { c.Endpoints = []string{"https://etcd.example:2379"} }, ""},
		{"no endpoint", func(c *Config) { c.Endpoints = nil }, "at least one"},
		{"bad scheme", func(c *Config) { c.Endpoints = []string{"ftp://x:1"} }, "scheme"},
		{"prefix without slashes", func(c *Config) { c.Prefix = "hadns" }, "start and end with /"},
		{"cert without key", func(c *Config) { c.CertFile = cert }, "go together"},
		{"missing ca", func(c *Config) { c.CAFile = filepath.Join(dir, "none.pem") }, "tls file"},
		{"user without password", func(c *Config) { c.Username = "u" }, "go together"},
		{"negative timeout", func(c *Config) { c.DialTimeout = -time.Second }, "negative"},
		{"short instance ttl", func(c *Config) { c.InstanceTTL = 100 * time.Millisecond }, "granularity"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := ok
			tc.edit(&c)
			err := c.Validate()
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("Validate() = %v, want an error with %q", err, tc.wantErr)
			}
		})
	}
	d := ok.withDefaults()
	if d.Prefix != "/hadns/v1/" || d.DialTimeout != 5*time.Second || d.InstanceTTL != 10*time.Second || d.Heartbeat != 2*time.Second {
		t.Errorf("defaults = %+v", d)
	}
}

func TestKeyLayout(t *testing.T) {
	s := &Store{cfg: Config{Prefix: DefaultPrefix}}
	tests := []struct {
		key  string
		want parsedKey
	}{
		{s.ZoneKey("Example.TEST"), parsedKey{kindZones, "example.test.", ""}},
		{s.OverrideKey("drain/east 1"), parsedKey{kindOverrides, "drain/east 1", ""}},
		{s.RegistrationKey("api.example.test.", "[2001:db8::1]:80"), parsedKey{kindRegistrations, "api.example.test.", "[2001:db8::1]:80"}},
		{s.ObservationKey("ns1", "http://10.0.0.1/health"), parsedKey{kindObservations, "ns1", "http://10.0.0.1/health"}},
		{s.ServedKey("ns2", "10.0.0.1"), parsedKey{kindServed, "ns2", "10.0.0.1"}},
	}
	for _, tc := range tests {
		got, ok := parseKey(DefaultPrefix, tc.key)
		if !ok || got != tc.want {
			t.Errorf("parseKey(%q) = %+v %v, want %+v", tc.key, got, ok, tc.want)
		}
	}
	if k := s.ZoneKey("example.test"); k != "/hadns/v1/zones/example.test." {
		t.Errorf("ZoneKey = %q", k)
	}
	for _, bad := range []string{"/other/zones/a.", "/hadns/v1/nodes/x", "/hadns/v1/zones/", "/hadns/v1/zones/a/b", "/hadns/v1/registrations/svc", "/hadns/v1/served/a/%zz"} {
		if pk, ok := parseKey(DefaultPrefix, bad); ok {
			t.Errorf("parseKey(%q) = %+v, want ignored", bad, pk)
		}
	}
}

func TestBackoff(t *testing.T) {
	b := Backoff(100*time.Millisecond, 10*time.Second)
	for attempt := range 100 {
		d := min(10*time.Second, 100*time.Millisecond<<min(attempt, 20))
		for range 20 {
			got := b(attempt)
			if got < d/2 || got > d {
				t.Fatalf("attempt %d: %s outside [%s, %s]", attempt, got, d/2, d)
			}
		}
	}
}

func kv(key, val string, rev int64) *mvccpb.KeyValue {
	return &mvccpb.KeyValue{Key: []byte(key), Value: []byte(val), ModRevision: rev}
}

func TestBuilderCopyOnWrite(t *testing.T) {
	s := &Store{cfg: Config{Prefix: DefaultPrefix}}
	b := newBuilder(DefaultPrefix, refuseBad, emptySnapshot())
	b.put(kv(s.ZoneKey("a.test."), "zone a", 2))
	b.put(kv(s.RegistrationKey("web", "b1"), `{"address":"10.0.0.1","site":"east"}`, 3))
	b.put(kv(s.OverrideKey("o"), `{"action":"drain","selector":{"site":"east"}}`, 4))
	first := b.next

	b = newBuilder(DefaultPrefix, refuseBad, first)
	b.put(kv(s.ZoneKey("a.test."), "bad", 5))                                            // refused: a.test. keeps "zone a"
	b.put(kv(s.RegistrationKey("web", "b2"), `{"address":"10.0.0.2","site":"west"}`, 6)) // added
	b.put(kv(s.OverrideKey("p"), `{"action":"drain","colour":"red"}`, 7))                // unknown field: refused
	b.del(s.OverrideKey("o"))
	b.put(kv("/hadns/v1/future/x", "whatever", 8)) // a later layout's kind: ignored
	second := b.next

	if len(first.Registrations["web"]) != 1 || len(first.Overrides) != 1 || len(first.Rejected) != 0 {
		t.Errorf("the previous snapshot changed: %+v", first)
	}
	if string(second.Zones["a.test."].Doc) != "zone a" {
		t.Errorf("refused zone replaced the good one: %q", second.Zones["a.test."].Doc)
	}
	if len(second.Registrations["web"]) != 2 || len(second.Overrides) != 0 || len(second.Rejected) != 2 {
		t.Errorf("second snapshot = %+v", second)
	}
	if !strings.Contains(second.Rejected[s.OverrideKey("p")], "colour") {
		t.Errorf("rejection does not name the unknown field: %q", second.Rejected)
	}
	// Deleting the last backend of a service drops the service.
	b = newBuilder(DefaultPrefix, refuseBad, second)
	b.del(s.RegistrationKey("web", "b1"))
	b.del(s.RegistrationKey("web", "b2"))
	if _, ok := b.next.Registrations["web"]; ok || len(second.Registrations["web"]) != 2 {
		t.Errorf("delete: new %+v, old %+v", b.next.Registrations, second.Registrations)
	}
}

func TestPersistRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "store.json")
	s := &Store{cfg: Config{Prefix: DefaultPrefix, CacheFile: path}, opt: Options{Clock: realClock{}, Validate: refuseBad}, logf: t.Logf}
	snap := emptySnapshot()
	snap.Revision = 42
	snap.Zones["a.test."] = Zone{Doc: []byte("zone a"), ModRevision: 40}
	snap.Zones["b.test."] = Zone{Doc: []byte("bad by now"), ModRevision: 41}
	snap.Overrides["o"] = Override{Action: "down", Selector: Selector{Backend: "10.0.0.1"}, Expires: time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)}
	snap.Served["ns1"] = map[string]Served{"10.0.0.1": {Last: time.Unix(1000, 0).UTC(), TTL: 30 * time.Second, For: time.Unix(900, 0).UTC()}}
	snap.Instances["ns1"] = Presence{Since: time.Unix(800, 0).UTC()}
	s.queuePersist(snap)
	s.flushPersist()
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Errorf("directory holds %d files, want only the copy (no temp left)", len(entries))
	}
	got, err := s.loadPersisted()
	if err != nil {
		t.Fatal(err)
	}
	if !got.Stale || got.Saved.IsZero() || got.Revision != 42 || string(got.Zones["a.test."].Doc) != "zone a" ||
		!got.Overrides["o"].Expires.Equal(snap.Overrides["o"].Expires) || !got.Served["ns1"]["10.0.0.1"].SafeAt().Equal(time.Unix(1030, 0)) || !got.Served["ns1"]["10.0.0.1"].For.Equal(time.Unix(900, 0)) ||
		!got.Instances["ns1"].Since.Equal(time.Unix(800, 0)) {
		t.Errorf("loaded %+v", got)
	}
	// A saved zone today's validator refuses is left out.
	if _, ok := got.Zones["b.test."]; ok || len(got.Rejected) != 1 {
		t.Errorf("saved zone now invalid: zones %v rejected %v", got.Zones, got.Rejected)
	}
	if err := os.WriteFile(path, []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := s.loadPersisted(); err == nil || !strings.Contains(err.Error(), path) {
		t.Errorf("corrupt copy: %v, want an error naming the file", err)
	}
}

func TestOverrideActive(t *testing.T) {
	now := time.Date(2026, 12, 1, 6, 0, 0, 0, time.UTC)
	if !(Override{}).Active(now) {
		t.Error("no expiry: want active")
	}
	if (Override{Expires: now}).Active(now) || !(Override{Expires: now.Add(time.Second)}).Active(now) {
		t.Error("expiry boundary wrong")
	}
}
