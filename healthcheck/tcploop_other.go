//go:build !linux

package healthcheck

import (
	"context"
	"errors"
)

// tcpLoop is Linux only (it needs epoll); elsewhere every tcp target runs
// its own pollLoop.
type tcpLoop struct{}

func (c *Checker) tcpLoopSupported(*entry) bool { return false }

func newTCPLoop(*Checker) (*tcpLoop, error) { return nil, errors.ErrUnsupported }

func (*tcpLoop) add(*entry)              {}
func (*tcpLoop) remove(*entry)           {}
func (*tcpLoop) run(ctx context.Context) {}
