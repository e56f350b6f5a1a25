// Package cli is the small frame both binaries share: subcommands that
// register themselves, the FSEGATE_DEV switch, errors printed as
// "<prog>: error: …" with an optional hint, and exit codes 0 (success),
// 1 (failure) and 2 (misuse).
package cli
