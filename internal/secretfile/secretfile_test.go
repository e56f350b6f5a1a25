package secretfile

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRead(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil { // past the umask
			t.Fatal(err)
		}
		return p
	}
	tests := []struct {
		name    string
		path    string
		want    string
		wantErr error
	}{
		{name: "owner only", path: write("ok", "s3cret\n", 0o600), want: "s3cret"},
		{name: "owner read only", path: write("ro", "  s3cret  ", 0o400), want: "s3cret"},
		{name: "group may read", path: write("g", "s3cret", 0o640), wantErr: ErrUnsafe},
		{name: "others may read", path: write("o", "s3cret", 0o604), wantErr: ErrUnsafe},
		{name: "group may write", path: write("gw", "s3cret", 0o620), wantErr: ErrUnsafe},
		{name: "empty", path: write("e", " \n", 0o600), wantErr: ErrEmpty},
		{name: "missing", path: filepath.Join(dir, "none"), wantErr: fs.ErrNotExist},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Read(tc.path)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("got %q, %v; want %v", got, err, tc.wantErr)
			}
			if got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
			if err != nil && !strings.Contains(err.Error(), tc.path) {
				t.Errorf("error %q does not name the file", err)
			}
		})
	}
	if _, err := Read(write("big", strings.Repeat("x", maxSize+1), 0o600)); err == nil {
		t.Error("a file over the size limit was read")
	}
	if _, err := Read(dir); err == nil {
		t.Error("a directory was read")
	}
}

func TestCreate(t *testing.T) {
	p := filepath.Join(t.TempDir(), "new", "token")
	s, err := ReadOrCreate(p)
	if err != nil || len(s) != 64 {
		t.Fatalf("got %q, %v; want 64 hex digits", s, err)
	}
	st, err := os.Stat(p)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v, %v; want 0600", st.Mode().Perm(), err)
	}
	if d, _ := os.Stat(filepath.Dir(p)); d.Mode().Perm() != 0o700 {
		t.Errorf("directory mode %v, want 0700", d.Mode().Perm())
	}
	again, err := ReadOrCreate(p)
	if err != nil || again != s {
		t.Errorf("read again: %q, %v; want the same secret", again, err)
	}
	if _, err := Create(p); !errors.Is(err, fs.ErrExist) {
		t.Errorf("create over a file: %v, want fs.ErrExist", err)
	}
	os.Chmod(p, 0o644)
	if _, err := ReadOrCreate(p); !errors.Is(err, ErrUnsafe) {
		t.Errorf("an unsafe file: %v, want ErrUnsafe", err)
	}
}
