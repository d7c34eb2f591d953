package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"time"

	"github.com/hadns/hadns/test/internal/loadtest"
)

// profile loads hadns with the questions in file and meanwhile takes a CPU
// profile and an allocation profile (the allocations of that window only:
// /debug/pprof/allocs?seconds=N is a delta) from its pprof plugin; it
// writes them into c.artifacts and prints the top of each.
func profile(ctx context.Context, c config, s *server, file string) error {
	if err := os.MkdirAll(c.artifacts, 0o755); err != nil {
		return err
	}
	load, cancel := context.WithCancel(ctx)
	defer cancel()
	d := loadtest.Dnsperf{Server: "127.0.0.1", Port: s.port, QueryFile: file, Duration: time.Duration(c.profileSeconds+3) * time.Second,
		Clients: c.clients, Outstanding: c.outstanding, CPU: c.loadCPU}
	done := make(chan error, 1)
	go func() {
		_, err := d.Run(load)
		done <- err
	}()
	time.Sleep(time.Second) // let the load reach its steady state first

	profiles := []struct{ name, path string }{
		{"hadns-cpu.pprof", fmt.Sprintf("/debug/pprof/profile?seconds=%d", c.profileSeconds)},
		{"hadns-allocs.pprof", fmt.Sprintf("/debug/pprof/allocs?seconds=%d", c.profileSeconds)},
	}
	errs := make([]error, len(profiles))
	var wg sync.WaitGroup
	for i, p := range profiles {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = fetch(ctx, "http://"+s.pprofAddr+p.path, filepath.Join(c.artifacts, p.name))
		}()
	}
	wg.Wait()
	cancel()
	if err := <-done; err != nil {
		return fmt.Errorf("load during profiling: %w", err)
	}
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	fmt.Printf("\nprofiles of hadns under load (every question kind, %d s) in %s:\n", c.profileSeconds, c.artifacts)
	for _, top := range [][]string{
		{"-top", "-nodecount=25", s.bin, filepath.Join(c.artifacts, "hadns-cpu.pprof")},
		{"-top", "-nodecount=20", "-sample_index=alloc_space", s.bin, filepath.Join(c.artifacts, "hadns-allocs.pprof")},
	} {
		cmd := exec.CommandContext(ctx, "go", append([]string{"tool", "pprof"}, top...)...)
		out, err := cmd.CombinedOutput()
		fmt.Printf("\n$ go tool pprof %v\n%s", top, out)
		if err != nil {
			return fmt.Errorf("go tool pprof: %w", err)
		}
	}
	return nil
}

func fetch(ctx context.Context, url, path string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("%s: %s: %s", url, resp.Status, b)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
