package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/hadns/hadns/test/internal/loadtest"
)

// startServer writes the zone and a Corefile (from corefile, a format with
// one %d for the port) into dir and starts hadns on a free loopback port,
// retrying on a port race; it returns when the server answers.
func startServer(ctx context.Context, bin, dir, zoneText, corefile string) (*loadtest.Server, error) {
	if err := os.WriteFile(filepath.Join(dir, zoneFile), []byte(zoneText), 0o644); err != nil {
		return nil, err
	}
	return loadtest.StartServer(ctx, bin, dir, func(port int) string { return fmt.Sprintf(corefile, port) }, zoneOrigin, -1)
}
