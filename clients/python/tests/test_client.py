"""The Python client against a real `mciassrv dev` (clients/testdata/with-server.sh)."""

from __future__ import annotations

import asyncio
import threading

import pytest

import mcias_client
from mcias_client import AsyncClient, Client

from .contract import env, run_async, run_sync


def test_contract_sync() -> None:
    server, ca, _, _ = env()
    assert run_sync(lambda: Client(server, ca_cert=ca)) > 10


def test_contract_async() -> None:
    server, ca, _, _ = env()
    assert asyncio.run(run_async(lambda: AsyncClient(server, ca_cert=ca))) > 10


def test_error_classes() -> None:
    server, ca, _, _ = env()
    with Client(server, ca_cert=ca) as c:
        with pytest.raises(mcias_client.Unauthenticated) as info:
            c.login("admin", "wrong password")
        assert isinstance(info.value, mcias_client.MciasError)
        assert info.value.code == "UNAUTHENTICATED"
        assert info.value.message
        with pytest.raises(mcias_client.Unauthenticated):
            list(c.list_accounts())


def test_token_argument_and_threads() -> None:
    server, ca, admin_password, _ = env()
    with Client(server, ca_cert=ca) as admin:
        token = admin.login("admin", admin_password).token
    # A client constructed with a token uses it; threads share it safely.
    with Client(f"https://{server}", ca_cert=ca, token=token) as c:
        assert c.token == token
        errors: list[BaseException] = []

        def work() -> None:
            try:
                assert "admin" in [a.username for a in c.list_accounts(page_size=1)]
            except BaseException as e:
                errors.append(e)

        threads = [threading.Thread(target=work) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        c.logout()
        assert c.token == ""
