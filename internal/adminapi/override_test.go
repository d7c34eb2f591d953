package adminapi

import (
	"strings"
	"testing"
)

// TestLogFieldsEscaped: an override's fields cannot forge log lines, even
// one read from a state file (the API refuses control characters).
func TestLogFieldsEscaped(t *testing.T) {
	o := &Override{ID: "1", Action: ActionDrain, Backend: "10.1.0.1", By: "alice\n[INFO] plugin/hadns: override cleared", Reason: "disk\r\nswap"}
	line := o.Describe()
	if strings.ContainsAny(line, "\r\n") {
		t.Fatalf("log line with a line break: %q", line)
	}
	if !strings.Contains(line, `by "alice\n[INFO]`) {
		t.Fatalf("by not quoted: %s", line)
	}
	if got := LogSafe("ops@host1"); got != "ops@host1" {
		t.Fatalf("plain text changed: %q", got)
	}
}
