package dnssec

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzReadKey feeds arbitrary key files to ReadKey: it must return a key or
// an error, never panic, and a key it returns must sign verifiable RRSIGs.
func FuzzReadKey(f *testing.F) {
	for _, role := range []string{"ksk", "zsk"} {
		base := filepath.Join("..", "..", "zones", "keys", "Kexample.test.+013."+role+".NOT-FOR-PRODUCTION")
		pub, err := os.ReadFile(base + ".key")
		if err != nil {
			f.Fatal(err)
		}
		priv, err := os.ReadFile(base + ".private")
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(pub), string(priv))
	}
	f.Add("example.test. IN DNSKEY 257 3 15 l02Woi0iS8Aa25FQkUd9RMzZHJpBoRQwAQEX1SxZJA4=\n",
		"Private-key-format: v1.2\nAlgorithm: 15 (ED25519)\nPrivateKey: ODIyNjAzODQ2MjgwODAxMjI2NDUxOTAyMDQxNDIyNjI=\n")
	f.Add("", "")
	f.Fuzz(func(t *testing.T, pub, priv string) {
		k, err := parseKey("K.key", []byte(pub), "K.private", []byte(priv), zone)
		if err != nil {
			return
		}
		if err := k.selfTest(); err != nil {
			t.Fatalf("ReadKey returned a key that does not sign: %v", err)
		}
	})
}
