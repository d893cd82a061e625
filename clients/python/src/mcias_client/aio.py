"""The asynchronous client (grpc.aio)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Self, TypeVar, cast

import grpc
from mcias.v1 import (
    account_pb2,
    account_service_pb2,
    account_service_pb2_grpc,
    admin_service_pb2,
    admin_service_pb2_grpc,
    auth_service_pb2,
    auth_service_pb2_grpc,
    token_service_pb2,
    token_service_pb2_grpc,
)

from . import _common
from .errors import from_rpc_error

T = TypeVar("T")


class AsyncClient:
    """An asyncio MCIAS client (grpc.aio) over gRPC with TLS; methods are
    coroutines and the listings async iterators.

    ``server`` is ``host:port`` (an ``https://`` prefix is accepted),
    ``ca_cert`` a PEM file to trust instead of the system roots, ``token`` a
    bearer token to start with. ``login`` and ``renew`` replace the held
    token, ``logout`` drops it; one client may be shared between threads.
    Failures raise a subclass of `mcias_client.MciasError`.
    """

    def __init__(
        self,
        server: str,
        ca_cert: str | Path | None = None,
        token: str | None = None,
        *,
        timeout: float | None = 30.0,
    ) -> None:
        self._channel = grpc.aio.secure_channel(
            _common.target(server), _common.credentials(ca_cert)
        )
        self._token = _common.TokenHolder(token)
        self._timeout = timeout
        self._auth: Any = auth_service_pb2_grpc.AuthServiceStub(self._channel)
        self._tokens: Any = token_service_pb2_grpc.TokenServiceStub(self._channel)
        self._accounts: Any = account_service_pb2_grpc.AccountServiceStub(self._channel)
        self._admin: Any = admin_service_pb2_grpc.AdminServiceStub(self._channel)

    async def close(self) -> None:
        """Closes the channel."""
        await self._channel.close(None)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    @property
    def token(self) -> str:
        """The token the client currently sends (``""`` when none)."""
        return self._token.get()

    @token.setter
    def token(self, value: str | None) -> None:
        self._token.set(value)

    async def _call(self, method: Any, request: Any, result: type[T]) -> T:
        try:
            response = await method(request, metadata=self._token.metadata(), timeout=self._timeout)
        except grpc.RpcError as err:
            raise from_rpc_error(err) from None
        return cast(T, response)

    # --- authentication -------------------------------------------------

    async def login(
        self, username: str, password: str, totp_code: str = ""
    ) -> auth_service_pb2.LoginResponse:
        """Exchanges credentials for a token, which the client then holds."""
        res = await self._call(
            self._auth.Login,
            auth_service_pb2.LoginRequest(
                username=username, password=password, totp_code=totp_code
            ),
            auth_service_pb2.LoginResponse,
        )
        self._token.set(res.token)
        return res

    async def logout(self) -> None:
        """Revokes the held token and forgets it."""
        await self._call(
            self._auth.Logout, auth_service_pb2.LogoutRequest(), auth_service_pb2.LogoutResponse
        )
        self._token.set(None)

    async def renew(self) -> auth_service_pb2.RenewTokenResponse:
        """Replaces the held token with a fresh one; the old one is revoked."""
        res = await self._call(
            self._auth.RenewToken,
            auth_service_pb2.RenewTokenRequest(),
            auth_service_pb2.RenewTokenResponse,
        )
        self._token.set(res.token)
        return res

    # --- tokens ---------------------------------------------------------

    async def validate(self, token: str) -> token_service_pb2.ValidateTokenResponse:
        """Checks any token; an invalid token gives ``valid == False``."""
        return await self._call(
            self._tokens.ValidateToken,
            token_service_pb2.ValidateTokenRequest(token=token),
            token_service_pb2.ValidateTokenResponse,
        )

    async def public_keys(self) -> list[token_service_pb2.Jwk]:
        """The JWKs that verify tokens."""
        res = await self._call(
            self._tokens.ListPublicKeys,
            token_service_pb2.ListPublicKeysRequest(),
            token_service_pb2.ListPublicKeysResponse,
        )
        return list(res.keys)

    async def issue_service_token(
        self, account_id: str
    ) -> token_service_pb2.IssueServiceTokenResponse:
        """Issues a token for a system account (admin); the client keeps its own."""
        return await self._call(
            self._tokens.IssueServiceToken,
            token_service_pb2.IssueServiceTokenRequest(account_id=account_id),
            token_service_pb2.IssueServiceTokenResponse,
        )

    async def revoke_token(self, jti: str, reason: str = "") -> None:
        """Revokes a token by its jti (admin)."""
        await self._call(
            self._tokens.RevokeToken,
            token_service_pb2.RevokeTokenRequest(jti=jti, reason=reason),
            token_service_pb2.RevokeTokenResponse,
        )

    # --- admin service --------------------------------------------------

    async def health(self) -> str:
        """The server's status, ``SERVING`` when it can serve."""
        res = await self._call(
            self._admin.Health, admin_service_pb2.HealthRequest(), admin_service_pb2.HealthResponse
        )
        return res.status

    async def list_audit_events(
        self,
        account_id: str = "",
        event_type: str = "",
        since: datetime | None = None,
        page_size: int = 0,
    ) -> AsyncIterator[admin_service_pb2.AuditEvent]:
        """Iterates over matching audit events, newest first, page by page (admin)."""
        req = _common.audit_request(account_id, event_type, since, page_size)
        while True:
            res = await self._call(
                self._admin.ListAuditEvents, req, admin_service_pb2.ListAuditEventsResponse
            )
            for event in res.events:
                yield event
            if not res.next_page_token:
                return
            req.page_token = res.next_page_token

    # --- accounts -------------------------------------------------------

    async def create_account(
        self,
        username: str,
        account_type: _common.AccountTypeArg = "HUMAN",
        password: str = "",
    ) -> account_pb2.Account:
        """Creates an account (admin); system accounts take no password."""
        res = await self._call(
            self._accounts.CreateAccount,
            account_service_pb2.CreateAccountRequest(
                username=username,
                account_type=_common.account_type(account_type),
                password=password,
            ),
            account_service_pb2.CreateAccountResponse,
        )
        return res.account

    async def list_accounts(self, page_size: int = 0) -> AsyncIterator[account_pb2.Account]:
        """Iterates over every account that is not deleted, page by page (admin)."""
        req = account_service_pb2.ListAccountsRequest(page_size=page_size)
        while True:
            res = await self._call(
                self._accounts.ListAccounts, req, account_service_pb2.ListAccountsResponse
            )
            for account in res.accounts:
                yield account
            if not res.next_page_token:
                return
            req.page_token = res.next_page_token

    async def get_account(self, id: str) -> account_pb2.Account:
        """One account, deleted ones included (admin)."""
        res = await self._call(
            self._accounts.GetAccount,
            account_service_pb2.GetAccountRequest(id=id),
            account_service_pb2.GetAccountResponse,
        )
        return res.account

    async def update_account(
        self, id: str, status: _common.AccountStatusArg
    ) -> account_pb2.Account:
        """Sets an account's status (admin); leaving ACTIVE revokes its tokens."""
        res = await self._call(
            self._accounts.UpdateAccount,
            _common.update_request(id, status),
            account_service_pb2.UpdateAccountResponse,
        )
        return res.account

    async def delete_account(self, id: str) -> None:
        """Soft-deletes an account and revokes its tokens (admin)."""
        await self._call(
            self._accounts.DeleteAccount,
            account_service_pb2.DeleteAccountRequest(id=id),
            account_service_pb2.DeleteAccountResponse,
        )

    async def get_roles(self, account_id: str) -> list[str]:
        """An account's roles, sorted (admin)."""
        res = await self._call(
            self._accounts.GetRoles,
            account_service_pb2.GetRolesRequest(account_id=account_id),
            account_service_pb2.GetRolesResponse,
        )
        return list(res.roles)

    async def set_roles(self, account_id: str, roles: list[str]) -> list[str]:
        """Replaces an account's roles; returns them sorted (admin)."""
        res = await self._call(
            self._accounts.SetRoles,
            account_service_pb2.SetRolesRequest(account_id=account_id, roles=roles),
            account_service_pb2.SetRolesResponse,
        )
        return list(res.roles)

    async def get_pg_creds(self, account_id: str) -> account_service_pb2.PgCreds:
        """Stored PostgreSQL credentials, password included (self or admin)."""
        res = await self._call(
            self._accounts.GetPgCreds,
            account_service_pb2.GetPgCredsRequest(account_id=account_id),
            account_service_pb2.GetPgCredsResponse,
        )
        return res.creds

    async def set_pg_creds(
        self,
        account_id: str,
        host: str,
        port: int,
        database: str,
        username: str,
        password: str,
    ) -> None:
        """Stores PostgreSQL credentials for an account (self or admin)."""
        await self._call(
            self._accounts.SetPgCreds,
            account_service_pb2.SetPgCredsRequest(
                account_id=account_id,
                host=host,
                port=port,
                database=database,
                username=username,
                password=password,
            ),
            account_service_pb2.SetPgCredsResponse,
        )
