// Package twin holds no code: its test runs the harness card test from a
// second test binary, so that 'go test ./...' proves two packages at once
// each get their own vpcd reader.
package twin
