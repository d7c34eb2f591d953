package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// artifactsDir holds what tests leave for people to look at (gitignored).
const artifactsDir = "../artifacts"

// browserPath finds headless Chromium. Without one the browser test skips,
// unless HADNS_REQUIRE_BROWSER=1 (CI), where it fails.
func browserPath(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	msg := "no Chromium found (apt-get install chromium); the status page browser test needs one"
	if os.Getenv("HADNS_REQUIRE_BROWSER") == "1" {
		t.Fatal(msg + " and HADNS_REQUIRE_BROWSER=1")
	}
	t.Skip(msg)
	return ""
}

// TestStatusPage loads the status page in headless Chromium, kills a real
// backend, waits until its cell on the already open page turns down (the
// page polls the API by itself), and saves a screenshot among the artefacts.
func TestStatusPage(t *testing.T) {
	bin := browserPath(t)
	t.Parallel()
	s, port, bs := startAdminServer(t)
	victim := fmt.Sprintf("%s:%d", admEast[1], port)

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(bin),
		chromedp.NoSandbox, // CI runs as root
		chromedp.Flag("disable-gpu", true),
		chromedp.WindowSize(1300, 700),
	)
	actx, acancel := chromedp.NewExecAllocator(ctx, opts...)
	defer acancel()
	bctx, bcancel := chromedp.NewContext(actx)
	defer bcancel()

	url := fmt.Sprintf("http://127.0.0.1:%d/", s.Ports.AdminPort)
	if err := chromedp.Do(bctx, chromedp.Navigate(url)); err != nil {
		t.Fatalf("open %s: %v", url, err)
	}
	state := func() (string, error) {
		return chromedp.Run(bctx, chromedp.Evaluate[string](fmt.Sprintf(
			`(document.querySelector('.be[data-backend="%s"]') || {dataset: {state: "missing"}}).dataset.state`, victim)))
	}
	waitState := func(want string) {
		t.Helper()
		poll(t, "cell of "+victim+" "+want, admLimit, func() error {
			got, err := state()
			if err == nil && got != want {
				err = fmt.Errorf("cell state %q", got)
			}
			return err
		})
	}
	waitState("up")

	// Drain another backend, so the page shows an override too.
	if out, code := ctlRun(t, s, "-token-file", filepath.Join(s.Dir, "token"), "drain", fmt.Sprintf("%s:%d", admWest[0], port), "-reason", "screenshot"); code != 0 {
		t.Fatalf("drain: exit %d, %s", code, out)
	}
	bs[1].kill()
	waitState("down")

	shot, err := chromedp.Run(bctx, chromedp.FullScreenshot(100)) // 100: PNG
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	if err := os.MkdirAll(artifactsDir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(artifactsDir, "statuspage.png")
	if err := os.WriteFile(path, shot, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: test/artifacts/statuspage.png (%d bytes)", len(shot))
}
