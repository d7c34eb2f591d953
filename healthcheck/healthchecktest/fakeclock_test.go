package healthchecktest

import (
	"context"
	"testing"
	"time"
)

func TestFakeClock(t *testing.T) {
	t0 := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	c := NewFakeClock(t0)
	a, b := c.NewTimer(2*time.Second), c.NewTimer(time.Second)
	if n := c.Pending(); n != 2 {
		t.Fatalf("%d pending, want 2", n)
	}
	if d, ok := c.NextTimer(); !ok || d != time.Second {
		t.Fatalf("next timer in %v %v, want 1s", d, ok)
	}
	c.Advance(1500 * time.Millisecond)
	select {
	case at := <-b.C():
		if !at.Equal(t0.Add(time.Second)) {
			t.Fatalf("b fired at %v, want its deadline", at)
		}
	default:
		t.Fatal("b did not fire")
	}
	select {
	case <-a.C():
		t.Fatal("a fired early")
	default:
	}
	if got := c.Now(); !got.Equal(t0.Add(1500 * time.Millisecond)) {
		t.Fatalf("now %v", got)
	}

	// Reset leaves no stale tick; Stop disarms.
	c.Advance(time.Second) // a fires
	a.Reset(time.Second)
	select {
	case <-a.C():
		t.Fatal("stale tick after Reset")
	default:
	}
	a.Stop()
	if n := c.Pending(); n != 0 {
		t.Fatalf("%d pending after Stop, want 0", n)
	}

	// BlockUntil returns once enough timers are armed, or with ctx's error.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- c.BlockUntil(ctx, 1) }()
	b.Reset(time.Second)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	short, cancelShort := context.WithCancel(context.Background())
	cancelShort()
	if err := c.BlockUntil(short, 2); err == nil {
		t.Fatal("BlockUntil(2) with one timer armed returned no error")
	}
}
