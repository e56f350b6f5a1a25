package secretfile

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/fsegate/fsegate/problem"
)

// CodeUnsafe is the documented code of ErrUnsafe. Codes lists it.
const CodeUnsafe problem.Code = "SECRET_FILE_UNSAFE"

// Codes lists every code this package raises, for the registry
// (api/registry). Not an HTTP answer: the command, or 'gateway serve',
// stops.
func Codes() []problem.Info {
	return []problem.Info{
		{Code: CodeUnsafe, Title: "a secret file (the operator token) can be read or written by its group or others"},
	}
}

// Errors of Read.
var (
	ErrUnsafe = problem.New(CodeUnsafe, string(CodeUnsafe)+": can be read by others")
	ErrEmpty  = errors.New("empty")
)

// maxSize bounds what Read reads: a secret is one short line.
const maxSize = 4096

// Read returns the secret of the file at path, trimmed of spaces: an error
// wrapping ErrUnsafe when group or others have any permission on it
// (checked before reading; the fix is chmod 600), ErrEmpty when it holds
// nothing.
func Read(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return "", err
	}
	if !st.Mode().IsRegular() {
		return "", fmt.Errorf("%s is not a regular file", path)
	}
	if perm := st.Mode().Perm(); perm&0o077 != 0 {
		return "", fmt.Errorf("%s: %w (mode %v)", path, ErrUnsafe, perm)
	}
	b, err := io.ReadAll(io.LimitReader(f, maxSize+1))
	if err != nil {
		return "", err
	}
	if len(b) > maxSize {
		return "", fmt.Errorf("%s: over %d bytes, not a secret file", path, maxSize)
	}
	s := strings.TrimSpace(string(b))
	if s == "" {
		return "", fmt.Errorf("%s: %w", path, ErrEmpty)
	}
	return s, nil
}

// Create writes a fresh secret (32 random bytes, hexadecimal) to path with
// mode 0600, making its directory (0700) if needed; an existing file is an
// error (fs.ErrExist), never overwritten.
func Create(path string) (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	secret := hex.EncodeToString(b[:])
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return "", err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return "", err
	}
	if _, err := f.WriteString(secret + "\n"); err != nil {
		f.Close()
		return "", err
	}
	if err := f.Close(); err != nil {
		return "", err
	}
	return secret, nil
}

// ReadOrCreate reads the file at path, creating it first (Create) when it
// does not exist.
func ReadOrCreate(path string) (string, error) {
	s, err := Read(path)
	if errors.Is(err, fs.ErrNotExist) {
		return Create(path)
	}
	return s, err
}
