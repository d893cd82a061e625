"""The error hierarchy: one class per kind of failure, all `MciasError`."""

from __future__ import annotations

import grpc


class MciasError(Exception):
    """A failed call. `code` is the gRPC code name (e.g. ``ALREADY_EXISTS``),
    `message` the server's message."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class Unauthenticated(MciasError):
    """No token, an invalid or revoked token, or a failed login."""


class PermissionDenied(MciasError):
    """The token lacks the permission the call requires."""


class NotFound(MciasError):
    """The named account, token or credentials do not exist."""


class InvalidArgument(MciasError):
    """The request was refused as malformed."""


class AlreadyExists(MciasError):
    """The account (username) already exists."""


class RateLimited(MciasError):
    """Too many requests (RESOURCE_EXHAUSTED); retry later."""


class Unavailable(MciasError):
    """The server cannot be reached or is shutting down."""


class ServerError(MciasError):
    """Any other failure (FAILED_PRECONDITION, INTERNAL, ...)."""


_BY_CODE: dict[grpc.StatusCode, type[MciasError]] = {
    grpc.StatusCode.UNAUTHENTICATED: Unauthenticated,
    grpc.StatusCode.PERMISSION_DENIED: PermissionDenied,
    grpc.StatusCode.NOT_FOUND: NotFound,
    grpc.StatusCode.INVALID_ARGUMENT: InvalidArgument,
    grpc.StatusCode.ALREADY_EXISTS: AlreadyExists,
    grpc.StatusCode.RESOURCE_EXHAUSTED: RateLimited,
    grpc.StatusCode.UNAVAILABLE: Unavailable,
}


def from_rpc_error(err: grpc.RpcError) -> MciasError:
    """Maps a gRPC error (sync or grpc.aio) to its `MciasError` class."""
    code_fn = getattr(err, "code", None)
    details_fn = getattr(err, "details", None)
    code = code_fn() if callable(code_fn) else grpc.StatusCode.UNKNOWN
    message = details_fn() if callable(details_fn) else str(err)
    if not isinstance(code, grpc.StatusCode):
        code = grpc.StatusCode.UNKNOWN
    cls = _BY_CODE.get(code, ServerError)
    return cls(code.name, str(message or ""))
