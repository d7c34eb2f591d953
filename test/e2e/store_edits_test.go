package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hadns/hadns/internal/adminapi"
)

// The concurrent-edits test's backends: never started, only selected.
var editBackends = []string{"127.0.99.1", "127.0.99.2", "127.0.99.3", "127.0.99.4"}

const (
	editsTotal = 1000
	editsEvery = 10 // every 10th edit of a client is a clear, the others set
)

func editZone() string {
	var b strings.Builder
	b.WriteString(`origin: store.test.
soa: {mname: ns1.store.test., rname: hostmaster.store.test., serial: 1}
ns: [ns1]
records: |
  ns1 A 127.0.0.1
services:
  - name: api
    port: 8080
    backends:
`)
	for _, a := range editBackends {
		fmt.Fprintf(&b, "      - {address: %s, site: east}\n", a)
	}
	return b.String()
}

// edit is one client's request and what the instance said it replaced.
type edit struct {
	client  int
	key     string // the backend selected
	reason  string // the value written (a set), "" for a clear
	prev    string // the reason of the value it replaced or cleared; "" when the key was absent
	cleared bool   // a clear that removed a value
}

// apiCall is stAPI for goroutines: errors instead of t.Fatal.
func apiCall(s *server, method, path, body string, out any) (int, error) {
	req, err := http.NewRequest(method, fmt.Sprintf("http://127.0.0.1:%d%s", s.Ports.AdminPort, path), strings.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+admToken)
	resp, err := (&http.Client{Timeout: stLimit}).Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, err
	}
	return resp.StatusCode, json.Unmarshal(data, out)
}

// TestStoreConcurrentEdits has two clients edit the same few overrides at
// once, through two different instances, 1,000 edits in all, and checks
// that none was lost: per key, the values written and the values each
// edit reports it replaced (read and written under one compare-and-swap)
// form one unbroken history, whose last value is what etcd and every
// instance hold. A blind write would show as two edits replacing one value
// and a value nobody replaced that is not the final one.
func TestStoreConcurrentEdits(t *testing.T) {
	set := startStoreSet(t, 3, nil)
	set.push(t, 0, editZone())
	for i, s := range set.ns {
		poll(t, fmt.Sprintf("ns%d serves the zone", i+1), stLimit, func() error {
			_, err := backendStatus(t, s, editBackends[0])
			return err
		})
	}

	var mu sync.Mutex
	var edits []edit
	errs := make(chan error, 2)
	start := time.Now()
	var wg sync.WaitGroup
	for c, via := range set.ns[:2] {
		wg.Go(func() {
			for n := range editsTotal / 2 {
				// Both clients walk the keys in step, five edits each,
				// so most edits race the other client's on one key.
				key := editBackends[(n/5)%len(editBackends)]
				e := edit{client: c, key: key}
				if n%editsEvery == editsEvery-1 {
					var r adminapi.Change
					code, err := apiCall(via, "POST", "/v1/overrides", fmt.Sprintf(`{"action":"clear","backend":%q}`, key), &r)
					switch {
					case err != nil && code != http.StatusNotFound:
						errs <- fmt.Errorf("client %d clear %d: %d %v", c, n, code, err)
						return
					case code == http.StatusNotFound:
						// Nothing to clear: no write, nothing to account for.
						continue
					case code != 200 || len(r.Cleared) != 1:
						errs <- fmt.Errorf("client %d clear %d: %d %+v", c, n, code, r)
						return
					}
					e.prev, e.cleared = r.Cleared[0].Reason, true
				} else {
					e.reason = fmt.Sprintf("c%d-e%d", c, n)
					action := []string{"drain", "down", "up"}[n%3]
					var r adminapi.Change
					code, err := apiCall(via, "POST", "/v1/overrides", fmt.Sprintf(`{"action":%q,"backend":%q,"reason":%q}`, action, key, e.reason), &r)
					if err != nil || code != 200 || r.Override == nil || r.Override.Reason != e.reason {
						errs <- fmt.Errorf("client %d set %d: %d %v %+v", c, n, code, err, r)
						return
					}
					if r.Replaced != nil {
						e.prev = r.Replaced.Reason
					}
				}
				mu.Lock()
				edits = append(edits, e)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	crossed := 0
	for _, e := range edits {
		if e.prev != "" && !strings.HasPrefix(e.prev, fmt.Sprintf("c%d-", e.client)) {
			crossed++
		}
	}
	t.Logf("%d edits (%d writes) by two clients through ns1 and ns2 in %v; %d replaced the other client's value",
		editsTotal, len(edits), time.Since(start).Round(time.Millisecond), crossed)

	// What each key must hold at the end: the one value written that no
	// later edit replaced or cleared.
	want := map[string]string{}
	for _, key := range editBackends {
		written := map[string]bool{}
		consumed := map[string]int{}
		fromAbsent, clears := 0, 0
		for _, e := range edits {
			if e.key != key {
				continue
			}
			if e.reason != "" {
				written[e.reason] = true
			}
			if e.cleared {
				clears++
			}
			if e.prev == "" {
				fromAbsent++
			} else {
				consumed[e.prev]++
			}
		}
		var last []string
		for r := range written {
			switch consumed[r] {
			case 0:
				last = append(last, r)
			case 1:
			default:
				t.Errorf("%s: value %s was replaced %d times: an edit was lost", key, r, consumed[r])
			}
		}
		for r := range consumed {
			if !written[r] {
				t.Errorf("%s: an edit replaced %s, which no edit wrote", key, r)
			}
		}
		if len(last) > 1 {
			t.Errorf("%s: %d values nobody replaced (%v): all but one were lost", key, len(last), last)
			continue
		}
		absentAtEnd := 0
		if len(last) == 1 {
			want[key] = last[0]
		} else {
			absentAtEnd = 1
		}
		// Every absent state but a final one is ended by exactly one set.
		if fromAbsent != 1+clears-absentAtEnd {
			t.Errorf("%s: %d sets found the key absent, want %d (1 + %d clears - %d)", key, fromAbsent, 1+clears-absentAtEnd, clears, absentAtEnd)
		}
	}

	// etcd holds exactly that.
	got := map[string]string{}
	for id, v := range set.get(t, "overrides/") {
		var o struct{ Reason string }
		if err := json.Unmarshal([]byte(v), &o); err != nil {
			t.Fatalf("override %s: %v", id, err)
		}
		got[strings.TrimPrefix(id, "backend=")] = o.Reason
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("etcd holds %v, want %v", got, want)
	}
	// And so does every instance's status.
	for i, s := range set.ns {
		poll(t, fmt.Sprintf("ns%d's overrides", i+1), stLimit, func() error {
			var r struct{ Overrides []adminapi.Override }
			if code, err := apiCall(s, "GET", "/v1/overrides", "", &r); err != nil || code != 200 {
				return fmt.Errorf("%d %v", code, err)
			}
			have := map[string]string{}
			for _, o := range r.Overrides {
				have[o.Backend] = o.Reason
			}
			if fmt.Sprint(have) != fmt.Sprint(want) {
				return fmt.Errorf("has %v, want %v", have, want)
			}
			return nil
		})
	}
}
