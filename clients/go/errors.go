package mcias

import (
	"errors"
	"fmt"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Kind classifies an error by what the caller can do about it. Every *Error
// matches exactly one of the sentinel errors below with errors.Is.
type Kind int

// The error kinds, one per sentinel.
const (
	KindServer Kind = iota
	KindUnauthenticated
	KindPermissionDenied
	KindNotFound
	KindInvalidArgument
	KindAlreadyExists
	KindRateLimited
	KindUnavailable
)

// Sentinels to test an error's kind with errors.Is.
var (
	// ErrUnauthenticated: no token, an invalid or revoked token, or a failed login.
	ErrUnauthenticated = errors.New("mcias: unauthenticated")
	// ErrPermissionDenied: the token lacks the permission the call requires.
	ErrPermissionDenied = errors.New("mcias: permission denied")
	// ErrNotFound: the named account, token or credentials do not exist.
	ErrNotFound = errors.New("mcias: not found")
	// ErrInvalidArgument: the request was refused as malformed.
	ErrInvalidArgument = errors.New("mcias: invalid argument")
	// ErrAlreadyExists: the account (username) already exists.
	ErrAlreadyExists = errors.New("mcias: already exists")
	// ErrRateLimited: too many requests (RESOURCE_EXHAUSTED); retry later.
	ErrRateLimited = errors.New("mcias: rate limited")
	// ErrUnavailable: the server cannot be reached or is shutting down.
	ErrUnavailable = errors.New("mcias: unavailable")
	// ErrServer: any other failure (FAILED_PRECONDITION, INTERNAL, ...).
	ErrServer = errors.New("mcias: server error")
)

var kindSentinels = map[Kind]error{
	KindServer:           ErrServer,
	KindUnauthenticated:  ErrUnauthenticated,
	KindPermissionDenied: ErrPermissionDenied,
	KindNotFound:         ErrNotFound,
	KindInvalidArgument:  ErrInvalidArgument,
	KindAlreadyExists:    ErrAlreadyExists,
	KindRateLimited:      ErrRateLimited,
	KindUnavailable:      ErrUnavailable,
}

// Error is every error a Client method returns for a failed call. It carries
// the gRPC code and the server's message.
type Error struct {
	// Kind is the class of the error.
	Kind Kind
	// Code is the gRPC status code, for example codes.AlreadyExists.
	Code codes.Code
	// Message is the server's message.
	Message string
}

// Error implements error.
func (e *Error) Error() string {
	return fmt.Sprintf("mcias: %s: %s", CodeName(e.Code), e.Message)
}

// Is reports whether target is the sentinel of e's kind.
func (e *Error) Is(target error) bool {
	return kindSentinels[e.Kind] == target
}

var codeNames = map[codes.Code]string{
	codes.OK:                 "OK",
	codes.Canceled:           "CANCELLED",
	codes.Unknown:            "UNKNOWN",
	codes.InvalidArgument:    "INVALID_ARGUMENT",
	codes.DeadlineExceeded:   "DEADLINE_EXCEEDED",
	codes.NotFound:           "NOT_FOUND",
	codes.AlreadyExists:      "ALREADY_EXISTS",
	codes.PermissionDenied:   "PERMISSION_DENIED",
	codes.ResourceExhausted:  "RESOURCE_EXHAUSTED",
	codes.FailedPrecondition: "FAILED_PRECONDITION",
	codes.Aborted:            "ABORTED",
	codes.OutOfRange:         "OUT_OF_RANGE",
	codes.Unimplemented:      "UNIMPLEMENTED",
	codes.Internal:           "INTERNAL",
	codes.Unavailable:        "UNAVAILABLE",
	codes.DataLoss:           "DATA_LOSS",
	codes.Unauthenticated:    "UNAUTHENTICATED",
}

// CodeName returns the canonical name of a gRPC code, such as
// "ALREADY_EXISTS".
func CodeName(c codes.Code) string {
	if n, ok := codeNames[c]; ok {
		return n
	}
	return fmt.Sprintf("CODE_%d", uint32(c))
}

func kindOf(c codes.Code) Kind {
	switch c {
	case codes.Unauthenticated:
		return KindUnauthenticated
	case codes.PermissionDenied:
		return KindPermissionDenied
	case codes.NotFound:
		return KindNotFound
	case codes.InvalidArgument:
		return KindInvalidArgument
	case codes.AlreadyExists:
		return KindAlreadyExists
	case codes.ResourceExhausted:
		return KindRateLimited
	case codes.Unavailable:
		return KindUnavailable
	default:
		return KindServer
	}
}

// wrap turns a gRPC error into an *Error; nil stays nil.
func wrap(err error) error {
	if err == nil {
		return nil
	}
	st, ok := status.FromError(err)
	if !ok {
		return &Error{Kind: KindServer, Code: codes.Unknown, Message: err.Error()}
	}
	return &Error{Kind: kindOf(st.Code()), Code: st.Code(), Message: st.Message()}
}
