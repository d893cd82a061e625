"""Python client for MCIAS: `Client` (sync) and `AsyncClient` (grpc.aio).

Both have the same methods; failures raise a subclass of `MciasError`.
"""

from .aio import AsyncClient
from .client import Client
from .errors import (
    AlreadyExists,
    InvalidArgument,
    MciasError,
    NotFound,
    PermissionDenied,
    RateLimited,
    ServerError,
    Unauthenticated,
    Unavailable,
)

__all__ = [
    "AlreadyExists",
    "AsyncClient",
    "Client",
    "InvalidArgument",
    "MciasError",
    "NotFound",
    "PermissionDenied",
    "RateLimited",
    "ServerError",
    "Unauthenticated",
    "Unavailable",
]
