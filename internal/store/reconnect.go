package store

import (
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
)

// maxReconnectDelay caps gRPC's wait between attempts to reconnect to etcd.
// gRPC's default grows to 120 s: after a one-minute outage the next attempt
// could come 40 s after etcd was back, with every instance serving old data
// meanwhile. Attempts against a dead endpoint every 2 s cost nothing.
const maxReconnectDelay = 2 * time.Second

// reconnectParams is the client connection's reconnect policy: gRPC's
// defaults but a faster start and the cap above; each attempt may take
// the dial timeout.
func reconnectParams(dialTimeout time.Duration) grpc.ConnectParams {
	return grpc.ConnectParams{
		Backoff: backoff.Config{
			BaseDelay:  100 * time.Millisecond,
			Multiplier: backoff.DefaultConfig.Multiplier,
			Jitter:     backoff.DefaultConfig.Jitter,
			MaxDelay:   maxReconnectDelay,
		},
		MinConnectTimeout: dialTimeout,
	}
}
