package loadtest

import (
	"testing"
	"time"
)

func TestSyncBufferWatch(t *testing.T) {
	var b SyncBuffer
	b.Write([]byte("[INFO] reloaded 1 zone(s)\n"))
	old := b.Watch("reloaded", 0)
	select {
	case <-old:
	default:
		t.Fatal("text already written did not fire")
	}
	from := b.Len()
	next := b.Watch("reloaded 2", from)
	b.Write([]byte("[INFO] relo"))
	select {
	case <-next:
		t.Fatal("fired on half the text")
	default:
	}
	b.Write([]byte("aded 2 zone(s)\n")) // the text split over two writes
	select {
	case at := <-next:
		if time.Since(at) > time.Minute {
			t.Errorf("odd time %v", at)
		}
	default:
		t.Fatal("did not fire on text split over writes")
	}
	if len(b.watches) != 0 {
		t.Errorf("%d watches left", len(b.watches))
	}
}
