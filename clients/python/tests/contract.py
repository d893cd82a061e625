"""Runs clients/testdata/contract.json against a sync or async client."""

from __future__ import annotations

import inspect
import json
import os
import re
import secrets
from collections.abc import Callable
from typing import Any

from mcias_client import AsyncClient, Client, MciasError

_VAR = re.compile(r"\$\{(\w+)\}")


def env() -> tuple[str, str, str, str]:
    names = ("MCIAS_SERVER", "MCIAS_CA_CERT", "MCIAS_ADMIN_PASSWORD", "MCIAS_CONTRACT")
    values = tuple(os.environ.get(n, "") for n in names)
    if not all(values):
        raise RuntimeError("run the tests through clients/testdata/with-server.sh")
    return values[0], values[1], values[2], values[3]


def subst(value: Any, variables: dict[str, Any]) -> Any:
    if isinstance(value, str):
        return _VAR.sub(lambda m: str(variables[m.group(1)]), value)
    if isinstance(value, list):
        return [subst(v, variables) for v in value]
    if isinstance(value, dict):
        return {k: subst(v, variables) for k, v in value.items()}
    return value


def _account(a: Any) -> dict[str, Any]:
    from mcias.v1 import account_pb2

    return {
        "id": a.id,
        "username": a.username,
        "account_type": account_pb2.AccountType.Name(a.account_type).removeprefix("ACCOUNT_TYPE_"),
        "status": account_pb2.AccountStatus.Name(a.status).removeprefix("ACCOUNT_STATUS_"),
        "totp_enabled": a.totp_enabled,
    }


def normalize(call: str, res: Any) -> dict[str, Any]:
    """The language-neutral result shape of contract.json."""
    if call == "health":
        return {"status": res}
    if call == "public_keys":
        return {"kids": [k.kid for k in res]}
    if call in ("login", "renew", "issue_service_token"):
        return {"token": res.token}
    if call == "validate":
        c = res.claims
        return {
            "valid": res.valid,
            "subject": c.subject,
            "roles": list(c.roles),
            "jti": c.jti,
            "token_type": c.token_type,
        }
    if call in ("create_account", "get_account", "update_account"):
        return _account(res)
    if call == "list_accounts":
        return {"usernames": [a.username for a in res]}
    if call in ("get_roles", "set_roles"):
        return {"roles": list(res)}
    if call == "get_pg_creds":
        return {
            "host": res.host,
            "port": res.port,
            "database": res.database,
            "username": res.username,
            "password": res.password,
        }
    if call == "list_audit_events":
        return {"event_types": [e.event_type for e in res]}
    return {}


def _as_list(v: Any) -> list[Any]:
    return v if isinstance(v, list) else [v]


def check(label: str, step: dict[str, Any], res: dict[str, Any], variables: dict[str, Any]) -> None:
    expect = step["expect"]
    for k, want in subst(expect.get("result", {}), variables).items():
        assert res.get(k) == want, f"{label}: {k} = {res.get(k)!r}, want {want!r}"
    for k, want in subst(expect.get("contains", {}), variables).items():
        for w in _as_list(want):
            assert w in res.get(k, []), f"{label}: {k} = {res.get(k)!r} lacks {w!r}"
    for k, want in subst(expect.get("excludes", {}), variables).items():
        for w in _as_list(want):
            assert w not in res.get(k, []), f"{label}: {k} = {res.get(k)!r} has {w!r}"
    for k in expect.get("nonempty", []):
        assert res.get(k), f"{label}: {k} is empty"
    for var, field in step.get("save", {}).items():
        variables[var] = res[field]


def load() -> tuple[dict[str, Any], dict[str, Any]]:
    _, _, admin_password, path = env()
    with open(path, encoding="utf-8") as f:
        contract: dict[str, Any] = json.load(f)
    variables: dict[str, Any] = {"admin_password": admin_password, "run": secrets.token_hex(4)}
    return contract, variables


def _label(i: int, step: dict[str, Any]) -> str:
    return f"step {i + 1} {step['name']!r} ({step['call']})"


def _expect_error(label: str, step: dict[str, Any], err: MciasError | None) -> None:
    want = step["expect"]["error"]
    assert err is not None, f"{label}: want {want}, the call succeeded"
    assert err.code == want, f"{label}: want {want}, got {err.code} ({err.message})"
    assert err.message, f"{label}: the error carries no message"


def run_sync(make: Callable[[], Client]) -> int:
    contract, variables = load()
    clients = {name: make() for name in contract["clients"]}
    try:
        for i, step in enumerate(contract["steps"]):
            label = _label(i, step)
            args = subst(step["args"], variables)
            err: MciasError | None = None
            res: Any = None
            try:
                res = getattr(clients[step["client"]], step["call"])(**args)
                if inspect.isgenerator(res):
                    res = list(res)
            except MciasError as e:
                err = e
            if "error" in step["expect"]:
                _expect_error(label, step, err)
                continue
            assert err is None, f"{label}: {err}"
            check(label, step, normalize(step["call"], res), variables)
        return len(contract["steps"])
    finally:
        for c in clients.values():
            c.close()


async def run_async(make: Callable[[], AsyncClient]) -> int:
    contract, variables = load()
    clients = {name: make() for name in contract["clients"]}
    try:
        for i, step in enumerate(contract["steps"]):
            label = _label(i, step)
            args = subst(step["args"], variables)
            err: MciasError | None = None
            res: Any = None
            try:
                res = getattr(clients[step["client"]], step["call"])(**args)
                if inspect.isasyncgen(res):
                    res = [x async for x in res]
                else:
                    res = await res
            except MciasError as e:
                err = e
            if "error" in step["expect"]:
                _expect_error(label, step, err)
                continue
            assert err is None, f"{label}: {err}"
            check(label, step, normalize(step["call"], res), variables)
        return len(contract["steps"])
    finally:
        for c in clients.values():
            await c.close()
