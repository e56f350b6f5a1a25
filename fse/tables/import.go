package tables

import (
	"errors"
	"fmt"
	iofs "io/fs"
	"os"
	"path/filepath"
)

// Import is a new version of one table of a tables directory, checked with
// the rest of the directory ('gateway tables import').
type Import struct {
	Dir   string // the tables directory
	Table Table
	// Current is the table's file as it is (nil: none yet), Incoming the
	// new version.
	Current, Incoming []byte
	// Changes are the differences from Current to Incoming, row by row;
	// OldVersion and NewVersion their versions ("none" when there is no
	// current file).
	Changes                []Change
	OldVersion, NewVersion string
}

// PlanImport checks incoming as the new version of table t of directory
// dir: the directory as it would be with it must load whole (Parse). It
// writes nothing.
func PlanImport(dir string, t Table, incoming []byte) (*Import, error) {
	files := map[string][]byte{}
	for _, tb := range All {
		b, err := os.ReadFile(filepath.Join(dir, tb.File))
		switch {
		case errors.Is(err, iofs.ErrNotExist):
			continue
		case err != nil:
			return nil, err
		}
		files[tb.File] = b
	}
	im := &Import{Dir: dir, Table: t, Current: files[t.File], Incoming: incoming}
	files[t.File] = incoming
	if _, err := Parse(files); err != nil {
		return nil, fmt.Errorf("the new %s does not load: %w", t.File, err)
	}
	var err error
	if im.Changes, im.OldVersion, im.NewVersion, err = Diff(t, im.Current, incoming); err != nil {
		return nil, err
	}
	if im.Current == nil {
		im.OldVersion = "none"
	}
	return im, nil
}

// Apply takes the new version: the current file is kept as NAME.previous,
// then the new one replaces it by a rename (never half written). It
// returns the table's path.
func (im *Import) Apply() (string, error) {
	target := filepath.Join(im.Dir, im.Table.File)
	if im.Current != nil {
		if err := os.WriteFile(target+".previous", im.Current, 0o644); err != nil {
			return "", err
		}
	}
	tmp := target + ".new"
	if err := os.WriteFile(tmp, im.Incoming, 0o644); err != nil {
		return "", err
	}
	if err := os.Rename(tmp, target); err != nil {
		return "", err
	}
	return target, nil
}
