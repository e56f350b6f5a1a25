package cli

import "github.com/fsegate/fsegate/problem"

// CodeFileUnreadable is the code of a file a command was given and cannot
// read: 'workstation check', 'sign' and 'batch' (package workstation's
// ReadFile) and 'gateway verify' report it. Codes lists it.
const CodeFileUnreadable problem.Code = "FILE_UNREADABLE"

// Codes lists every code this package declares, for the registry
// (api/registry).
func Codes() []problem.Info {
	return []problem.Info{
		{Code: CodeFileUnreadable, Title: "the care sheet's file cannot be read"},
	}
}
