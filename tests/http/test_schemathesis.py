"""Property-based run of schemathesis against /openapi.json with the admin
token, bounded in examples and time: no 5xx, every response matches the
schema."""

import os
import subprocess
import sys
from pathlib import Path


def run_schemathesis(server, token: str) -> subprocess.CompletedProcess:
    cmd = [
        str(Path(sys.executable).parent / "schemathesis"), "run", f"{server.base}/openapi.json",
        "--header", f"Authorization: Bearer {token}",
        "--tls-verify", server.ca,
        "--checks", "not_a_server_error,response_schema_conformance,status_code_conformance,content_type_conformance",
        "--max-examples", os.environ.get("SCHEMATHESIS_EXAMPLES", "20"),
        # Both would revoke the token the run authenticates with.
        "--exclude-operation-id", "AuthService_Logout",
        "--exclude-operation-id", "AuthService_RenewToken",
        "--request-timeout", "20",
        "--no-color",
    ]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=600)


def test_openapi_fuzz(server):
    token = server.login("admin", server.admin_password)
    out = run_schemathesis(server, token)
    attempts = 1
    while (
        attempts < 3
        and out.returncode != 0
        and "FAILURES" not in out.stdout
        and "Network Error" in out.stdout
    ):
        # A transport error with no check failing (a connection closed while
        # the generated request was malformed at the HTTP level) is retried;
        # check failures never are.
        print(out.stdout[-3000:])
        out = run_schemathesis(server, token)
        attempts += 1
    print(out.stdout[-6000:])
    assert out.returncode == 0, out.stdout[-6000:] + out.stderr[-2000:]
    assert "FAILURES" not in out.stdout
