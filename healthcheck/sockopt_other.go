//go:build !linux

package healthcheck

import (
	"syscall"
	"time"
)

// setUserTimeout is Linux-only; elsewhere keepalive alone bounds detection.
func setUserTimeout(syscall.RawConn, time.Duration) error { return nil }
