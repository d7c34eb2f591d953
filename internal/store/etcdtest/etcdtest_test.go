package etcdtest

import (
	"strings"
	"testing"
)

// Without the binary, Start reports an error (the store's tests then fail
// rather than skip), naming the package to install.
func TestStartFailsWithoutBinary(t *testing.T) {
	t.Setenv("ETCD_BIN", "/nonexistent/etcd")
	s, err := Start(t.TempDir())
	if err == nil {
		s.Kill()
		t.Fatal("Start with a missing binary succeeded")
	}
	t.Setenv("ETCD_BIN", "")
	t.Setenv("PATH", t.TempDir())
	if _, err := Start(t.TempDir()); err == nil || !strings.Contains(err.Error(), "etcd-server") {
		t.Fatalf("Start without etcd on PATH = %v, want an error naming etcd-server", err)
	}
}
