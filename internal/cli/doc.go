// Package cli is the small frame both binaries share: subcommands that
// register themselves, the FSEGATE_DEV switch, errors printed as
// "<prog>: error: …" with an optional hint, and exit codes 0 (success),
// 1 (failure) and 2 (misuse). A misuse prints the error once, a "did you
// mean" for a mistyped command or flag, and the one usage line; --version
// prints the version, VCS commit and Go version from the build information.
// FILE_UNREADABLE (CodeFileUnreadable) is the code both binaries' commands
// give a file they cannot read.
package cli
