// Package admintest holds test support for the admin HTTP API: a request
// run through a handler in memory, as from a given client, with its JSON
// reply decoded, and a self-signed key pair for admin_tls. Only tests
// should import it.
package admintest

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// Call runs one request through h from client (an address with port),
// with token as its bearer token unless empty, and decodes a JSON reply
// (nil for any other). The Host is an address literal, one the server
// accepts.
func Call(t testing.TB, h http.Handler, method, path, body, token, client string) (int, map[string]any) {
	t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	req.RemoteAddr = client
	req.Host = "127.0.0.1:8053" // httptest's example.com is not a name of the server
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	var out map[string]any
	if strings.HasPrefix(rec.Header().Get("Content-Type"), "application/json") {
		if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
			t.Fatalf("%s %s: reply is not JSON: %v\n%s", method, path, err, rec.Body)
		}
	}
	return rec.Code, out
}
