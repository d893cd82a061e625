"""What the sync and async clients share: TLS, the held token, requests."""

from __future__ import annotations

import threading
from datetime import datetime
from pathlib import Path

import grpc
from google.protobuf import field_mask_pb2, timestamp_pb2
from mcias.v1 import account_pb2, account_service_pb2, admin_service_pb2

AccountTypeArg = str | int
AccountStatusArg = str | int


def target(server: str) -> str:
    """``host:port`` from ``host:port`` or ``https://host:port``."""
    return server.removeprefix("https://").rstrip("/")


def credentials(ca_cert: str | Path | None) -> grpc.ChannelCredentials:
    root = Path(ca_cert).read_bytes() if ca_cert is not None else None
    return grpc.ssl_channel_credentials(root_certificates=root)


class TokenHolder:
    """The current bearer token, safe to read and replace from any thread."""

    def __init__(self, token: str | None) -> None:
        self._lock = threading.Lock()
        self._token = token or ""

    def get(self) -> str:
        with self._lock:
            return self._token

    def set(self, token: str | None) -> None:
        with self._lock:
            self._token = token or ""

    def metadata(self) -> tuple[tuple[str, str], ...]:
        token = self.get()
        return (("authorization", f"Bearer {token}"),) if token else ()


def account_type(value: AccountTypeArg) -> str:
    """`HUMAN`, `SYSTEM`, the full enum name or the enum value → full name."""
    if isinstance(value, int):
        return account_pb2.AccountType.Name(value)
    return value if value.startswith("ACCOUNT_TYPE_") else f"ACCOUNT_TYPE_{value.upper()}"


def account_status(value: AccountStatusArg) -> str:
    """`ACTIVE`, `INACTIVE`, `SUSPENDED`, the full enum name or the value → full name."""
    if isinstance(value, int):
        return account_pb2.AccountStatus.Name(value)
    return value if value.startswith("ACCOUNT_STATUS_") else f"ACCOUNT_STATUS_{value.upper()}"


def update_request(id: str, status: AccountStatusArg) -> account_service_pb2.UpdateAccountRequest:
    return account_service_pb2.UpdateAccountRequest(
        id=id,
        status=account_status(status),
        update_mask=field_mask_pb2.FieldMask(paths=["status"]),
    )


def audit_request(
    account_id: str, event_type: str, since: datetime | None, page_size: int
) -> admin_service_pb2.ListAuditEventsRequest:
    req = admin_service_pb2.ListAuditEventsRequest(
        account_id=account_id, event_type=event_type, page_size=page_size
    )
    if since is not None:
        ts = timestamp_pb2.Timestamp()
        ts.FromDatetime(since)
        req.since.CopyFrom(ts)
    return req
