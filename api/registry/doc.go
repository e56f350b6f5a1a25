// Package registry is the one list of fsegate's error codes, built from
// the explicit list of each package that raises codes (api.Codes,
// fse.Infos, signature.Codes, queue.Codes …), each joined with its HTTP
// status from api's table. docs/errors.md documents every code under a
// heading of the same name.
//
// The tests of package api (api/codes_test.go) keep the lists, api's table
// of statuses, docs/errors.md and the source in step: a code declared
// twice, a code without a status (or a warning with one), a code without
// its section in docs/errors.md, a section without its code, or a
// code-like string raised anywhere in the module's non-test source that no
// list declares, each fails them.
//
// The package links every library that raises codes (the queue, the
// OpenID Connect client …): it is for tests and tools, not for a server,
// which needs only api's table.
package registry
