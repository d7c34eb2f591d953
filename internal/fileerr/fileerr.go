// Package fileerr holds the errors hadns reports about its configuration
// files (the Corefile and zone files): each one names its file and line, and
// a list of them lets an operator see every problem at once rather than fix
// one per reload. It knows nothing about what the files mean.
package fileerr

import (
	"fmt"
	"sort"
	"strings"
)

// FileError is one problem in a configuration file, located by line.
type FileError struct {
	File string
	Line int // 0 when the problem concerns the file as a whole
	Msg  string
}

func (e FileError) Error() string {
	if e.File == "" {
		return e.Msg
	}
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s: %s", e.File, e.Msg)
}

// ErrorList holds every problem found in one or more files, so an operator
// sees them all at once rather than fixing one per reload.
type ErrorList []FileError

func (l ErrorList) Error() string {
	s := make([]string, len(l))
	for i, e := range l {
		s[i] = e.Error()
	}
	return strings.Join(s, "\n")
}

// List collects problems for one file.
type List struct {
	File string
	Errs ErrorList
}

// Addf records a problem at line (0: the file as a whole).
func (l *List) Addf(line int, format string, args ...any) {
	l.Errs = append(l.Errs, FileError{File: l.File, Line: line, Msg: fmt.Sprintf(format, args...)})
}

// Err returns the collected problems sorted by line, or nil.
func (l *List) Err() error {
	if len(l.Errs) == 0 {
		return nil
	}
	sort.SliceStable(l.Errs, func(i, j int) bool { return l.Errs[i].Line < l.Errs[j].Line })
	return l.Errs
}

// Position is where a Corefile setting was read, so problems found after
// parsing (sites that do not fit together) still name their line.
type Position struct {
	File string
	Line int
}

// Errorf is a problem at p.
func (p Position) Errorf(format string, args ...any) FileError {
	return FileError{File: p.File, Line: p.Line, Msg: fmt.Sprintf(format, args...)}
}
