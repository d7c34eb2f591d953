package zone

import (
	"fmt"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode"

	"go.yaml.in/yaml/v3"

	"github.com/hadns/hadns/internal/fileerr"
)

// Zone files are decoded in two passes over one yaml.Node tree: strictKeys
// reports every unknown key with its line, then the ordinary decoder fills the
// structs. yaml.v3's own KnownFields does not survive custom UnmarshalYAML
// methods (Node.Decode starts a fresh, lenient decoder), and we need those
// methods to remember line numbers for later validation errors.

var durationType = reflect.TypeOf(time.Duration(0))

// strictKeys walks n against the yaml tags of t and appends an error for
// every mapping key that names no field, and for every value of the wrong
// type (a TTL that is no TTL, text where a number goes, a scalar where a list
// goes), naming its key. A value of the wrong type is replaced by null, so
// the decoder that runs next leaves that field at its default and keeps the
// rest of its mapping: yaml.v3 drops a whole list element whose decoding
// failed, which would hide every other problem of that service or backend.
// TTL fields (tag hadns:"ttl") are rewritten to their number of seconds.
func strictKeys(n *yaml.Node, t reflect.Type, errs *fileerr.List) {
	strictNode(n, t, "", errs)
}

func strictNode(n *yaml.Node, t reflect.Type, key string, errs *fileerr.List) {
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
		elem := field{typ: t.Elem()}
		kept := n.Content[:0:0]
		for _, c := range n.Content {
			if msg := checkValue(c, elem); msg != "" {
				errs.Addf(c.Line, "%s: %s", key, msg)
				continue
			}
			kept = append(kept, c)
			strictNode(c, t.Elem(), key, errs)
		}
		n.Content = kept
	case reflect.Struct:
		if n.Kind != yaml.MappingNode || t == durationType || t == yamlNodeType {
			return
		}
		fields := yamlFields(t)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			f, ok := fields[k.Value]
			if !ok {
				errs.Addf(k.Line, "unknown key %q%s", k.Value, suggest(k.Value, fields))
				continue
			}
			if msg := checkValue(v, f); msg != "" {
				errs.Addf(v.Line, "%s: %s", k.Value, msg)
				n.Content[i+1] = &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null", Line: v.Line, Column: v.Column, LineComment: wrongTypeMark}
				continue
			}
			strictNode(v, f.typ, k.Value, errs)
		}
	}
}

var yamlNodeType = reflect.TypeOf(yaml.Node{})

// wrongTypeMark marks the null strictKeys put in place of a value of the
// wrong type, so checks for required keys do not report that key again.
const wrongTypeMark = "# hadns: wrong type, reported"

// wrongType reports whether mapping n's key k held a value of the wrong type.
func wrongType(n *yaml.Node, k string) bool {
	for i := 0; n != nil && i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == k {
			return n.Content[i+1].LineComment == wrongTypeMark
		}
	}
	return false
}

// field is what strictKeys knows of a struct field.
type field struct {
	typ reflect.Type
	ttl bool // tagged hadns:"ttl": seconds, or a number with units (1h30m)
}

// yamlFields maps yaml keys to fields for a struct type.
func yamlFields(t reflect.Type) map[string]field {
	m := make(map[string]field, t.NumField())
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
		m[name] = field{typ: f.Type, ttl: f.Tag.Get("hadns") == "ttl"}
	}
	return m
}

// scalarStructs are the struct types also written as a single scalar.
var scalarStructs = map[reflect.Type]bool{reflect.TypeOf(srvConfig{}): true}

// checkValue returns why v cannot be decoded into f, or "". A TTL field's
// node is rewritten to its number of seconds.
func checkValue(v *yaml.Node, f field) string {
	if v.Kind == yaml.AliasNode && v.Alias != nil {
		v = v.Alias
	}
	if v.Kind == yaml.ScalarNode && v.ShortTag() == "!!null" {
		return ""
	}
	t := f.typ
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == yamlNodeType {
		return ""
	}
	if f.ttl {
		if v.Kind != yaml.ScalarNode {
			return "a TTL is a single value, not " + kindName(v)
		}
		secs, err := parseTTL(v.Value)
		if err != nil {
			return err.Error()
		}
		v.Value, v.Tag, v.Style = strconv.FormatUint(uint64(secs), 10), "!!int", 0
		return ""
	}
	switch t.Kind() {
	case reflect.Slice:
		if v.Kind != yaml.SequenceNode {
			return "want a list, not " + kindName(v)
		}
		return ""
	case reflect.Map:
		if v.Kind != yaml.MappingNode {
			return "want a mapping, not " + kindName(v)
		}
		return ""
	case reflect.Struct:
		if t == durationType {
			break
		}
		if v.Kind == yaml.MappingNode || (v.Kind == yaml.ScalarNode && scalarStructs[t]) {
			return ""
		}
		return "want a mapping, not " + kindName(v)
	}
	if v.Kind != yaml.ScalarNode {
		return "want a single value, not " + kindName(v)
	}
	if err := v.Decode(reflect.New(t).Interface()); err == nil {
		return ""
	}
	switch {
	case t == durationType:
		return fmt.Sprintf("%q is not a duration (like 500ms, 15s or 1m30s)", v.Value)
	case t.Kind() >= reflect.Uint && t.Kind() <= reflect.Uint64:
		return fmt.Sprintf("%q is not a whole number from 0 to %d", v.Value, uint64(1)<<t.Bits()-1)
	case t.Kind() >= reflect.Int && t.Kind() <= reflect.Int64:
		return fmt.Sprintf("%q is not a whole number", v.Value)
	case t.Kind() == reflect.Bool:
		return fmt.Sprintf("%q is not true or false", v.Value)
	}
	return fmt.Sprintf("%q is not a %s", v.Value, t)
}

// kindName names a node's kind for an error message.
func kindName(v *yaml.Node) string {
	switch v.Kind {
	case yaml.SequenceNode:
		return "a list"
	case yaml.MappingNode:
		return "a mapping"
	}
	return fmt.Sprintf("%q", v.Value)
}

// maxTTL is the largest TTL: RFC 2181 §8 makes the top bit of the 32-bit
// field zero, and resolvers read a TTL with it set as 0.
const maxTTL = 1<<31 - 1

// parseTTL reads a TTL as BIND and miekg/dns's zone parser read one: a number
// of seconds, or numbers each followed by a unit s, m, h, d or w in either
// case (1h30m, 2W), summed. It refuses a TTL above maxTTL.
func parseTTL(s string) (uint32, error) {
	bad := fmt.Errorf("%q is not a TTL: seconds, or a number with units s, m, h, d, w (like 3600 or 1h)", s)
	if s == "" {
		return 0, bad
	}
	var total, cur uint64
	digits := false
	for _, c := range s {
		if c >= '0' && c <= '9' {
			cur = cur*10 + uint64(c-'0')
			digits = true
			if cur > maxTTL {
				return 0, fmt.Errorf("%q is above %d, the largest TTL (RFC 2181 §8)", s, maxTTL)
			}
			continue
		}
		unit, ok := ttlUnits[unicode.ToLower(c)]
		if !ok || !digits {
			return 0, bad
		}
		total += cur * unit
		cur, digits = 0, false
		if total > maxTTL {
			return 0, fmt.Errorf("%q is above %d, the largest TTL (RFC 2181 §8)", s, maxTTL)
		}
	}
	total += cur
	if total > maxTTL {
		return 0, fmt.Errorf("%q is above %d, the largest TTL (RFC 2181 §8)", s, maxTTL)
	}
	return uint32(total), nil
}

var ttlUnits = map[rune]uint64{'s': 1, 'm': 60, 'h': 3600, 'd': 86400, 'w': 604800}

// suggest names the closest known key, for typos like "backend" for "backends".
func suggest(key string, fields map[string]field) string {
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
func addYAMLError(err error, errs *fileerr.List, at int) {
	var msgs []string
	if te, ok := err.(*yaml.TypeError); ok {
		msgs = te.Errors
	} else {
		msgs = []string{err.Error()}
	}
	for _, m := range msgs {
		if sm := lineMsg.FindStringSubmatch(m); sm != nil {
			line, _ := strconv.Atoi(sm[1])
			errs.Addf(line, "%s", sm[2])
			continue
		}
		errs.Addf(at, "%s", strings.TrimPrefix(m, "yaml: "))
	}
}
