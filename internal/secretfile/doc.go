// Package secretfile reads and creates the small secret files fsegate's
// commands keep on disk (the gateway's operator token and store key, the
// workstation's local API token): one line, readable by its owner only.
// (The workstation's PIN files are read apart, as bytes it clears.)
//
// Contract: Read refuses a file that its group or others may read or write
// (ErrUnsafe, code SECRET_FILE_UNSAFE in docs/errors.md) before reading it,
// and an empty one (ErrEmpty); Create writes a fresh random secret with mode
// 0600 (its directory 0700 when it makes it) and never overwrites a file.
// Errors name the file; they wrap the sentinels and the system's errors
// (fs.ErrNotExist for a missing file).
package secretfile
