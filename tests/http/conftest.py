"""Starts a real `mciassrv dev` on a free loopback port for the suite."""

import os
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]
BIN = os.environ.get("MCIAS_BIN", str(ROOT / "target" / "debug" / "mciassrv"))

CONFIG = """
[server]
listen_addr = "127.0.0.1:{port}"
tls_cert = "tls/server.pem"
tls_key = "tls/server-key.pem"

[database]
path = "mcias.db"

[master_key]
keyfile = "master.key"

[tokens]
issuer = "https://localhost:{port}"

[argon2]
memory_kib = 19456
time = 2
parallelism = 1

[rate_limit]
requests_per_second = 10000
burst = 10000
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, data_dir: Path, port: int, proc: subprocess.Popen):
        self.dir = data_dir
        self.port = port
        self.proc = proc
        self.base = f"https://localhost:{port}"
        self.ca = str(data_dir / "tls" / "ca.pem")
        self.admin_password = (data_dir / "admin-password").read_text().strip()

    def session(self) -> requests.Session:
        s = requests.Session()
        s.verify = self.ca
        # REQUESTS_CA_BUNDLE in the environment would override `verify`.
        s.trust_env = False
        return s

    def login(self, username: str, password: str) -> str:
        r = self.session().post(
            f"{self.base}/v1/auth/login",
            json={"username": username, "password": password},
            timeout=30,
        )
        assert r.status_code == 200, r.text
        return r.json()["token"]


@pytest.fixture(scope="session")
def server():
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp) / "dev"
        data_dir.mkdir()
        port = free_port()
        (data_dir / "mcias.toml").write_text(CONFIG.format(port=port))
        log = open(Path(tmp) / "server.log", "w")
        proc = subprocess.Popen(
            [BIN, "dev", "--data-dir", str(data_dir)],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.time() + 60
            while True:
                if proc.poll() is not None:
                    raise RuntimeError(f"mciassrv exited: {(Path(tmp) / 'server.log').read_text()}")
                ca = data_dir / "tls" / "ca.pem"
                try:
                    if not ca.exists():
                        raise FileNotFoundError(ca)
                    r = requests.get(
                        f"https://localhost:{port}/readyz",
                        verify=str(data_dir / "tls" / "ca.pem"),
                        timeout=2,
                    )
                    if r.status_code == 200 and (data_dir / "admin-password").exists():
                        break
                except (requests.RequestException, OSError):
                    pass
                if time.time() > deadline:
                    raise RuntimeError("mciassrv did not become ready")
                time.sleep(0.2)
            yield Server(data_dir, port, proc)
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
            log.close()
