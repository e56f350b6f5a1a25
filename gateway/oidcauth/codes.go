package oidcauth

import (
	"errors"

	"github.com/fsegate/fsegate/problem"
)

// Code is problem.Code: the stable code of a refused token or sign-in;
// docs/errors.md explains each under a heading of the same name.
type Code = problem.Code

// The codes of the refusals (Error.Code), declared once; Codes lists them.
// CodeBearerInvalid is what the intake API answers for any refused bearer
// token; the reason's code goes to the gateway's log.
const (
	CodeBearerInvalid Code = "BEARER_INVALID"
	CodeProvider      Code = "ECPS_PROVIDER_UNAVAILABLE"
	CodeSignature     Code = "ECPS_SIGNATURE"
	CodeIssuer        Code = "ECPS_ISSUER"
	CodeExpired       Code = "ECPS_EXPIRED"
	CodeTokenType     Code = "ECPS_TOKEN_TYPE"
	CodeAudience      Code = "ECPS_AUDIENCE"
	CodeACR           Code = "ECPS_ACR"
	CodeNationalID    Code = "ECPS_NATIONAL_ID"
	CodeSignIn        Code = "ECPS_SIGNIN_FAILED"
)

// Codes lists every code this package raises, for the registry
// (api/registry).
func Codes() []problem.Info {
	return []problem.Info{
		{Code: CodeBearerInvalid, Title: "bearer access token refused (signature, issuer, audience, expiry, type, level or national id)"},
		{Code: CodeProvider, Title: "Pro Santé Connect (discovery, keys or userinfo) did not answer"},
		{Code: CodeSignature, Title: "the token is not a JWT signed (RS256) with a key the provider publishes"},
		{Code: CodeIssuer, Title: "the token was issued by another provider"},
		{Code: CodeExpired, Title: "the token is expired, or not valid yet"},
		{Code: CodeTokenType, Title: "an ID token where an access token is wanted, or the reverse"},
		{Code: CodeAudience, Title: "the token is for another client: its aud, or without aud its azp, names no client of the gateway"},
		{Code: CodeACR, Title: "the token's authentication level (acr) is missing or below eidas1"},
		{Code: CodeNationalID, Title: "no national id in the token, its sub or userinfo, or two of them disagree"},
		{Code: CodeSignIn, Title: "the sign-in flow failed (state, nonce, flow cookie, code exchange)"},
	}
}

// Error is a refusal: its Code, and Err saying why (for the log). It is
// kept apart from problem.Error because it wraps its reason and compares
// by code (errors.Is(err, ErrAudience) whatever the reason).
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

// ErrorCode is the refusal's code (problem.CodeOf).
func (e *Error) ErrorCode() Code { return e.Code }

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
