// Package problem is fsegate's error vocabulary, shared by every library:
//
//   - Code, the type of a stable error code (NIR_KEY, CERT_REVOKED,
//     DUPLICATE_SHEET …): docs/errors.md explains each under a heading of
//     the same name;
//   - Info, a code's entry in the explicit list of the package that raises
//     it (fse.Codes, signature.Codes, queue.Codes …);
//   - Problem, the one coded problem: a code, the path of the field at
//     fault, a message and a hint;
//   - Error, a sentinel error that carries its code (queue.ErrDuplicate),
//     and CodeOf, which reads the code of any error that carries one.
//
// The package imports nothing of fsegate and nothing of HTTP. Statuses are
// chosen by the HTTP layer alone (package api, its table of statuses), as
// in wtf's http.ErrorStatusCode. The registry of every code is package
// api/registry; the tests of package api keep it, the code and
// docs/errors.md in step.
package problem
