package oidcauth

import "errors"

// Code is the stable code of a refused token or sign-in; docs/errors.md
// explains each under a heading of the same name.
type Code string

// The codes of the refusals (Error.Code).
const (
	CodeProvider   Code = "ECPS_PROVIDER_UNAVAILABLE"
	CodeSignature  Code = "ECPS_SIGNATURE"
	CodeIssuer     Code = "ECPS_ISSUER"
	CodeExpired    Code = "ECPS_EXPIRED"
	CodeTokenType  Code = "ECPS_TOKEN_TYPE"
	CodeAudience   Code = "ECPS_AUDIENCE"
	CodeACR        Code = "ECPS_ACR"
	CodeNationalID Code = "ECPS_NATIONAL_ID"
	CodeSignIn     Code = "ECPS_SIGNIN_FAILED"
)

// CodeInfo describes a code for the registry and the documentation.
type CodeInfo struct {
	Code  Code
	Title string
}

// Codes lists every code of this package (api/codes_oidcauth.go registers
// them).
func Codes() []CodeInfo {
	return []CodeInfo{
		{CodeProvider, "Pro Santé Connect (discovery, keys or userinfo) did not answer"},
		{CodeSignature, "the token is not a JWT signed (RS256) with a key the provider publishes"},
		{CodeIssuer, "the token was issued by another provider"},
		{CodeExpired, "the token is expired, or not valid yet"},
		{CodeTokenType, "an ID token where an access token is wanted, or the reverse"},
		{CodeAudience, "the token is for another client: its aud, or without aud its azp, names no client of the gateway"},
		{CodeACR, "the token's authentication level (acr) is missing or below eidas1"},
		{CodeNationalID, "no national id in the token, its sub or userinfo, or two of them disagree"},
		{CodeSignIn, "the sign-in flow failed (state, nonce, flow cookie, code exchange)"},
	}
}

// Error is a refusal: its Code, and Err saying why (for the log).
type Error struct {
	Code Code
	Err  error
}

func (e *Error) Error() string {
	if e.Err == nil {
		return string(e.Code)
	}
	return e.Err.Error()
}

func (e *Error) Unwrap() error { return e.Err }

// Is compares codes: errors.Is(err, ErrAudience) holds for every audience
// refusal whatever its reason.
func (e *Error) Is(target error) bool {
	var t *Error
	return errors.As(target, &t) && t.Code == e.Code
}

// Sentinels to compare with errors.Is.
var (
	ErrProvider   = &Error{Code: CodeProvider}
	ErrSignature  = &Error{Code: CodeSignature}
	ErrIssuer     = &Error{Code: CodeIssuer}
	ErrExpired    = &Error{Code: CodeExpired}
	ErrTokenType  = &Error{Code: CodeTokenType}
	ErrAudience   = &Error{Code: CodeAudience}
	ErrACR        = &Error{Code: CodeACR}
	ErrNationalID = &Error{Code: CodeNationalID}
	ErrSignIn     = &Error{Code: CodeSignIn}
)

func refusal(code Code, err error) error { return &Error{Code: code, Err: err} }

// CodeOf is the code of err, "" when it has none.
func CodeOf(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}
