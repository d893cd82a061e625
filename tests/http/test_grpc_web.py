"""gRPC-Web through a real gRPC-Web client: `buf curl --protocol grpcweb`."""

import json
import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BUF = os.environ.get("BUF", str(ROOT / "tools" / "node_modules" / ".bin" / "buf"))


def buf_curl(server, method: str, body: dict, token: str | None = None) -> subprocess.CompletedProcess:
    cmd = [
        BUF, "curl",
        "--protocol", "grpcweb",
        "--cacert", server.ca,
        "--schema", str(ROOT / "proto"),
        "--data", json.dumps(body),
        f"{server.base}/{method}",
    ]
    if token:
        cmd[2:2] = ["--header", f"Authorization: Bearer {token}"]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=60)


def test_grpc_web_login_and_validate(server):
    out = buf_curl(server, "mcias.v1.AuthService/Login", {"username": "admin", "password": server.admin_password})
    assert out.returncode == 0, out.stderr
    token = json.loads(out.stdout)["token"]
    out = buf_curl(server, "mcias.v1.TokenService/ValidateToken", {"token": token})
    assert out.returncode == 0, out.stderr
    answer = json.loads(out.stdout)
    assert answer["valid"] is True
    assert answer["claims"]["roles"] == ["admin"]


def test_grpc_web_errors_carry_the_grpc_code(server):
    out = buf_curl(server, "mcias.v1.AccountService/ListAccounts", {})
    assert out.returncode != 0
    assert "unauthenticated" in out.stderr.lower(), out.stderr
