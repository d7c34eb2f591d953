package healthcheck

import (
	"testing"
	"time"
)

func TestStep(t *testing.T) {
	const ok, fail = true, false
	tests := []struct {
		name       string
		rise, fall int
		results    []bool
		want       []State
	}{
		{"unknown then success is up at once", 2, 2, []bool{ok}, []State{Up}},
		{"unknown then failure is down at once", 2, 2, []bool{fail}, []State{Down}},
		{"fall 2 goes through suspect", 2, 2, []bool{ok, fail, fail}, []State{Up, Suspect, Down}},
		{"fall 3", 2, 3, []bool{ok, fail, fail, fail}, []State{Up, Suspect, Suspect, Down}},
		{"fall 1 skips suspect", 2, 1, []bool{ok, fail}, []State{Up, Down}},
		{"success clears suspect", 2, 2, []bool{ok, fail, ok, fail, ok}, []State{Up, Suspect, Up, Suspect, Up}},
		{"rise 2", 2, 2, []bool{fail, ok, ok}, []State{Down, Down, Up}},
		{"rise 3", 3, 2, []bool{fail, ok, ok, ok}, []State{Down, Down, Down, Up}},
		{"failure resets rise", 2, 2, []bool{fail, ok, fail, ok, ok}, []State{Down, Down, Down, Down, Up}},
		{"rise 1", 1, 2, []bool{fail, ok}, []State{Down, Up}},
		{"down stays down", 2, 2, []bool{fail, fail, fail}, []State{Down, Down, Down}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var c counts
			for i, r := range tc.results {
				c = step(c, r, false, tc.rise, tc.fall)
				if c.state != tc.want[i] {
					t.Fatalf("after result %d (%v): state %v, want %v", i, r, c.state, tc.want[i])
				}
				if c.successes > 0 && c.failures > 0 {
					t.Fatalf("both counts non-zero: %+v", c)
				}
			}
		})
	}
}

func TestStepDefinitive(t *testing.T) {
	c := step(counts{}, true, false, 2, 3)
	c = step(c, false, true, 2, 3)
	if c.state != Down {
		t.Fatalf("definitive failure from up: %v, want down", c.state)
	}
}

func TestJitterBounds(t *testing.T) {
	const d = time.Second
	lo := jitter(d, func(int64) int64 { return 0 })
	hi := jitter(d, func(n int64) int64 { return n - 1 })
	if lo != 950*time.Millisecond || hi != 1050*time.Millisecond {
		t.Fatalf("jitter range [%v, %v], want [950ms, 1.05s]", lo, hi)
	}
	if maxJitter(d) != hi {
		t.Fatalf("maxJitter %v, want %v", maxJitter(d), hi)
	}
	// Every draw stays in bounds.
	s := uint64(1)
	rnd := func(n int64) int64 { s = s*6364136223846793005 + 1442695040888963407; return int64(s>>1) % n }
	for range 1000 {
		if j := jitter(d, rnd); j < lo || j > hi {
			t.Fatalf("jitter %v out of [%v, %v]", j, lo, hi)
		}
	}
}

func TestNextDelay(t *testing.T) {
	s := Spec{}.WithDefaults()
	s.DownInterval = 5 * time.Second
	mid := func(n int64) int64 { return n / 2 }
	tests := []struct {
		name  string
		c     counts
		first bool
		want  time.Duration
	}{
		{"up", counts{state: Up, successes: 3}, false, time.Second},
		{"first result up staggers over the interval", counts{state: Up, successes: 1}, true, 500 * time.Millisecond},
		{"first result down staggers over down_interval", counts{state: Down, failures: 1}, true, 2500 * time.Millisecond},
		{"suspect is fast", counts{state: Suspect, failures: 1}, false, 200 * time.Millisecond},
		{"down rising is fast", counts{state: Down, successes: 1}, false, 200 * time.Millisecond},
		{"down is slow", counts{state: Down, failures: 4}, false, 5 * time.Second},
	}
	for _, tc := range tests {
		if got := nextDelay(&s, tc.c, tc.first, mid); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestStateString(t *testing.T) {
	for s, want := range map[State]string{Unknown: "unknown", Up: "up", Suspect: "suspect", Down: "down", 9: "state(9)"} {
		if s.String() != want {
			t.Errorf("%d: %q, want %q", s, s.String(), want)
		}
	}
}
