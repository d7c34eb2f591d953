package admin

import (
	_ "embed"
	"net/http"
)

// statusPage is the whole status page: markup, style and script in one file,
// nothing loaded from elsewhere, so it works on an isolated network.
//
//go:embed statuspage.html
var statusPage []byte

func servePage(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'")
	w.Write(statusPage)
}
