package fastxml

// ReadFast exposes the fast path to the tests: false means it declined.
var ReadFast = readFast
