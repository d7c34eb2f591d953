package healthcheck

import (
	"go/build"
	"go/parser"
	"go/token"
	"path/filepath"
	"strings"
	"testing"
)

// TestNoFakesShip: the test doubles (the fake clock) live in
// healthchecktest, so the production package, which the server links,
// declares none. It reads the package's non-test files for every OS.
func TestNoFakesShip(t *testing.T) {
	pkg, err := build.ImportDir(".", 0)
	if err != nil {
		t.Fatal(err)
	}
	files := append(append([]string{}, pkg.GoFiles...), pkg.IgnoredGoFiles...)
	if len(files) == 0 {
		t.Fatal("no source files found")
	}
	fset := token.NewFileSet()
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, filepath.Join(pkg.Dir, name), nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, obj := range f.Scope.Objects {
			if strings.HasPrefix(obj.Name, "Fake") || strings.HasPrefix(obj.Name, "fake") {
				t.Errorf("%s declares %s: test doubles belong in healthchecktest", name, obj.Name)
			}
		}
	}
}
