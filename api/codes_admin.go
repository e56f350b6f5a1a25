package api

import "net/http"

// The codes of the gateway's admin listener (cmd/gateway/adminauth.go,
// gateway/operator; docs/errors.md, "Admin listener") and of the secret
// files the commands read (internal/secretfile).
func init() {
	reg(http.StatusMisdirectedRequest, false,
		"ADMIN_HOST_REFUSED", "the Host header names no host of the admin listener",
	)
	reg(http.StatusForbidden, false,
		"ADMIN_ORIGIN_REFUSED", "a state-changing request to the admin listener from another site",
		"OPERATOR_ONLY", "signed in, but not as an operator",
	)
	reg(http.StatusUnauthorized, false,
		"OPERATOR_REQUIRED", "the admin listener's operator views and /admin need an operator: the operator token or an e-CPS operator",
		"OPERATOR_TOKEN_INVALID", "the operator token given is not the gateway's",
	)
	// Not an HTTP answer: the command or 'gateway serve' stops.
	reg(http.StatusInternalServerError, false,
		"SECRET_FILE_UNSAFE", "a secret file (the operator token) can be read or written by its group or others",
	)
}
