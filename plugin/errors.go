package hadns

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

// errorList collects problems for one file.
type errorList struct {
	file string
	errs ErrorList
}

func (l *errorList) addf(line int, format string, args ...any) {
	l.errs = append(l.errs, FileError{File: l.file, Line: line, Msg: fmt.Sprintf(format, args...)})
}

// err returns the collected problems sorted by line, or nil.
func (l *errorList) err() error {
	if len(l.errs) == 0 {
		return nil
	}
	sort.SliceStable(l.errs, func(i, j int) bool { return l.errs[i].Line < l.errs[j].Line })
	return l.errs
}

// position is where a Corefile setting was read, so problems found after
// parsing (sites that do not fit together) still name their line.
type position struct {
	file string
	line int
}

func (p position) errorf(format string, args ...any) FileError {
	return FileError{File: p.file, Line: p.line, Msg: fmt.Sprintf(format, args...)}
}
