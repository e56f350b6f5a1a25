package insurers

import "github.com/fsegate/fsegate/problem"

// CodeUnknown is the code of an *UnknownError: no insurer of the directory
// serves the sheet's destination. Codes lists it.
const CodeUnknown problem.Code = "INSURER_UNKNOWN"

// Codes lists every code this package raises, for the registry
// (api/registry).
func Codes() []problem.Info {
	return []problem.Info{
		{Code: CodeUnknown, Title: "no insurer of the directory serves this destination"},
	}
}

// ErrorCode is the stable error code of docs/errors.md (problem.CodeOf).
func (e *UnknownError) ErrorCode() problem.Code { return CodeUnknown }
