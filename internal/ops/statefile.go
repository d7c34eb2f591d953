package ops

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/hadns/hadns/internal/adminapi"
)

// stateFile is what the state file holds. It is JSON so an operator can read
// it and tools can write it; hadns itself only ever replaces it whole.
type stateFile struct {
	Overrides []adminapi.Override `json:"overrides"`
}

// LoadState reads the overrides of a state file. A missing file is an empty
// state. A file that fails to parse gives an error naming the file and, where
// the decoder can tell, the line.
func LoadState(file string) ([]adminapi.Override, error) {
	data, err := os.ReadFile(file)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("state file %s: %w", file, err)
	}
	var st stateFile
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&st); err != nil {
		var syn *json.SyntaxError
		var typ *json.UnmarshalTypeError
		switch {
		case errors.As(err, &syn):
			return nil, fmt.Errorf("%s:%d: %v", file, lineAt(data, syn.Offset), err)
		case errors.As(err, &typ):
			return nil, fmt.Errorf("%s:%d: %v", file, lineAt(data, typ.Offset), err)
		}
		return nil, fmt.Errorf("%s: %v", file, err)
	}
	seen := map[string]bool{}
	for i, o := range st.Overrides {
		where := fmt.Sprintf("%s: overrides[%d]", file, i)
		switch {
		case o.ID == "":
			return nil, fmt.Errorf("%s: no id", where)
		case seen[o.ID]:
			return nil, fmt.Errorf("%s: id %s is used twice", where, o.ID)
		case !adminapi.ValidAction(o.Action):
			return nil, fmt.Errorf("%s: action %q is not drain, down or up", where, o.Action)
		}
		if err := o.Selector().Validate(); err != nil {
			return nil, fmt.Errorf("%s: %v", where, err)
		}
		seen[o.ID] = true
	}
	return st.Overrides, nil
}

// lineAt returns the 1-based line of byte offset off in data.
func lineAt(data []byte, off int64) int {
	off = min(max(off, 0), int64(len(data)))
	return bytes.Count(data[:off], []byte{'\n'}) + 1
}

// saveState replaces the state file atomically: a temporary file in the same
// directory is written and synced, renamed over the old one, and the
// directory synced, so a crash leaves either the old file or the new one.
func saveState(file string, list []adminapi.Override) error {
	if list == nil {
		list = []adminapi.Override{}
	}
	data, err := json.MarshalIndent(stateFile{Overrides: list}, "", "  ")
	if err != nil {
		return err
	}
	data = append(data, '\n')
	dir := filepath.Dir(file)
	tmp, err := os.CreateTemp(dir, filepath.Base(file)+".tmp*")
	if err != nil {
		return fmt.Errorf("state file %s: %w", file, err)
	}
	defer os.Remove(tmp.Name()) // after a successful rename there is nothing to remove
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("state file %s: %w", file, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("state file %s: %w", file, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("state file %s: %w", file, err)
	}
	if err := os.Rename(tmp.Name(), file); err != nil {
		return fmt.Errorf("state file %s: %w", file, err)
	}
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("state file %s: %w", file, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("state file %s: sync directory: %w", file, err)
	}
	return nil
}

// CheckStateDir checks that the state file's folder exists and that hadns
// may create files in it (the state file is replaced by renaming a new file
// over it), so a missing or read-only folder stops start-up with a clear
// error rather than failing the first override.
func CheckStateDir(file string) error {
	dir := filepath.Dir(file)
	fi, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("its folder %s: %w", dir, err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("%s is not a folder", dir)
	}
	probe, err := os.CreateTemp(dir, filepath.Base(file)+".tmp*")
	if err != nil {
		return fmt.Errorf("its folder %s is not writable: %w", dir, err)
	}
	probe.Close()
	return os.Remove(probe.Name())
}

// removeStaleTemps removes the temporary files of state file writes that a
// crash interrupted (saveState's FILE.tmp*), and reports how many it removed.
// Called once per state file and process, before any write of its own.
func removeStaleTemps(file string) int {
	m, err := filepath.Glob(filepath.Join(filepath.Dir(file), globEscape(filepath.Base(file))+".tmp*"))
	if err != nil {
		return 0
	}
	n := 0
	for _, f := range m {
		if os.Remove(f) == nil {
			n++
		}
	}
	return n
}

// globEscape escapes the characters filepath.Match treats specially.
func globEscape(s string) string {
	var b []byte
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '*', '?', '[', '\\':
			b = append(b, '\\')
		}
		b = append(b, s[i])
	}
	return string(b)
}
