package hadns

import (
	"fmt"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Zone files are decoded in two passes over one yaml.Node tree: strictKeys
// reports every unknown key with its line, then the ordinary decoder fills the
// structs. yaml.v3's own KnownFields does not survive custom UnmarshalYAML
// methods (Node.Decode starts a fresh, lenient decoder), and we need those
// methods to remember line numbers for later validation errors.

var durationType = reflect.TypeOf(time.Duration(0))

// strictKeys walks n against the yaml tags of t and appends an error for
// every mapping key that names no field.
func strictKeys(n *yaml.Node, t reflect.Type, errs *errorList) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	switch t.Kind() {
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			return
		}
		for _, c := range n.Content {
			strictKeys(c, t.Elem(), errs)
		}
	case reflect.Struct:
		if n.Kind != yaml.MappingNode || t == durationType || t == yamlNodeType {
			return
		}
		fields := yamlFields(t)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			ft, ok := fields[k.Value]
			if !ok {
				errs.addf(k.Line, "unknown key %q%s", k.Value, suggest(k.Value, fields))
				continue
			}
			strictKeys(v, ft, errs)
		}
	}
}

var yamlNodeType = reflect.TypeOf(yaml.Node{})

// yamlFields maps yaml keys to field types for a struct type.
func yamlFields(t reflect.Type) map[string]reflect.Type {
	m := make(map[string]reflect.Type, t.NumField())
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		m[name] = f.Type
	}
	return m
}

// suggest names the closest known key, for typos like "backend" for "backends".
func suggest(key string, fields map[string]reflect.Type) string {
	best, bestD := "", 3
	for f := range fields {
		if d := editDistance(key, f); d < bestD || (d == bestD && best != "" && f < best) {
			best, bestD = f, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// lineMsg matches the "line N: message" form of yaml.v3's errors.
var lineMsg = regexp.MustCompile(`^(?:yaml: )?line (\d+): (.*)$`)

// addYAMLError splits a yaml.v3 error into one entry per message, keeping
// each message's line. A message without one is put at line at: yaml.v3 leaves
// the line out of a syntax error on the first line (it prints only a
// non-zero 0-based mark), and its decoder's own errors (excessive aliasing,
// an anchor that contains itself) carry none, so the caller says where the
// node being decoded starts.
func addYAMLError(err error, errs *errorList, at int) {
	var msgs []string
	if te, ok := err.(*yaml.TypeError); ok {
		msgs = te.Errors
	} else {
		msgs = []string{err.Error()}
	}
	for _, m := range msgs {
		if sm := lineMsg.FindStringSubmatch(m); sm != nil {
			line, _ := strconv.Atoi(sm[1])
			errs.addf(line, "%s", sm[2])
			continue
		}
		errs.addf(at, "%s", strings.TrimPrefix(m, "yaml: "))
	}
}
