"""Connections the server closes end cleanly: the client reads a status, then
the TLS close_notify, never a reset or a bare EOF.

Each case sends what once made clients see "EOF occurred in violation of
protocol": a body far over the limit (HTTP/1.1 and HTTP/2), invalid header
bytes, and a body longer than its Content-Length. Each runs 50 times in a row,
since the failure depended on timing.
"""

import socket
import ssl

import h2.config
import h2.connection
import h2.events
import pytest

ROUNDS = 50
BIG = 8 * 1024 * 1024


def tls(server, alpn: str) -> ssl.SSLSocket:
    ctx = ssl.create_default_context(cafile=server.ca)
    ctx.set_alpn_protocols([alpn])
    raw = socket.create_connection(("127.0.0.1", server.port), timeout=30)
    # A bare EOF must raise, not pass for a clean close.
    s = ctx.wrap_socket(raw, server_hostname="localhost", suppress_ragged_eofs=False)
    assert s.selected_alpn_protocol() == alpn
    return s


def read_to_close(s: ssl.SSLSocket) -> bytes:
    """Everything the server sends until its close_notify; raises on a reset
    or an EOF without close_notify."""
    data = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            return data
        data += chunk


def responses(data: bytes) -> list[tuple[int, dict[str, str]]]:
    """Status lines and headers of the HTTP/1.1 responses in `data`."""
    out = []
    while data:
        head, sep, rest = data.partition(b"\r\n\r\n")
        assert sep, f"truncated response: {data[:200]!r}"
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ")[1])
        headers = {}
        for line in lines[1:]:
            k, _, v = line.partition(":")
            headers[k.strip().lower()] = v.strip()
        n = int(headers.get("content-length", "0"))
        out.append((status, headers))
        data = rest[n:]
    return out


def exchange(server, raw: bytes) -> list[tuple[int, dict[str, str]]]:
    with tls(server, "http/1.1") as s:
        s.sendall(raw)
        return responses(read_to_close(s))


def test_http1_oversized_body_gets_413_and_a_clean_close(server):
    head = (
        "POST /v1/auth/login HTTP/1.1\r\nHost: localhost\r\n"
        f"Content-Type: application/json\r\nContent-Length: {BIG}\r\n\r\n"
    ).encode()
    body = b"x" * BIG
    for _ in range(ROUNDS):
        got = exchange(server, head + body)
        assert [status for status, _ in got] == [413], got
        assert got[0][1].get("connection") == "close", got


def test_http1_invalid_header_bytes_get_400_and_a_clean_close(server):
    body = b"{}" * 50_000
    raw = (
        b"POST /v1/auth/login HTTP/1.1\r\nHost: localhost\r\n"
        b"X-Bad\x01Name: \x7fvalue\r\n"
        b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body
    )
    for _ in range(ROUNDS):
        got = exchange(server, raw)
        assert [status for status, _ in got] == [400], got
        assert got[0][1].get("connection") == "close", got


def test_http1_body_longer_than_declared_gets_answers_and_a_clean_close(server):
    # Ten declared bytes, then 200 KB the server can only read as garbage.
    raw = (
        b"POST /v1/tokens/validate HTTP/1.1\r\nHost: localhost\r\n"
        b"Content-Type: application/json\r\nContent-Length: 10\r\n\r\n"
        b'{"a":"b"} ' + b"\x00garbage" * 25_000
    )
    for _ in range(ROUNDS):
        got = exchange(server, raw)
        statuses = [status for status, _ in got]
        # The declared request is answered; the rest is a request line that
        # does not parse.
        assert len(statuses) == 2 and statuses[1] == 400, got
        assert 200 <= statuses[0] < 500, got
        assert got[1][1].get("connection") == "close", got


def h2_oversized(server) -> tuple[int | None, bytes, list[h2.events.Event]]:
    with tls(server, "h2") as s:
        conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
        conn.initiate_connection()
        sid = conn.get_next_available_stream_id()
        conn.send_headers(
            sid,
            [
                (":method", "POST"),
                (":scheme", "https"),
                (":authority", "localhost"),
                (":path", "/v1/auth/login"),
                ("content-type", "application/json"),
                ("content-length", str(BIG)),
            ],
        )
        s.sendall(conn.data_to_send())
        status, body, seen = None, b"", []
        sent, done = 0, False
        while not done:
            # Send what flow control allows, then read what came back.
            while sent < BIG and conn.local_flow_control_window(sid) > 0:
                n = min(conn.local_flow_control_window(sid), conn.max_outbound_frame_size, BIG - sent)
                conn.send_data(sid, b"x" * n, end_stream=sent + n == BIG)
                sent += n
            s.sendall(conn.data_to_send())
            chunk = s.recv(65536)
            if not chunk:
                break
            for ev in conn.receive_data(chunk):
                seen.append(ev)
                if isinstance(ev, h2.events.ResponseReceived):
                    status = int(dict(ev.headers)[b":status"])
                elif isinstance(ev, h2.events.DataReceived):
                    body += ev.data
                    conn.acknowledge_received_data(ev.flow_controlled_length, sid)
                elif isinstance(ev, (h2.events.StreamEnded, h2.events.StreamReset)):
                    done = True
            s.sendall(conn.data_to_send())
        conn.close_connection()
        s.sendall(conn.data_to_send())
        return status, body, seen


def test_http2_oversized_body_gets_413_before_the_reset(server):
    for _ in range(ROUNDS):
        status, body, seen = h2_oversized(server)
        assert status == 413, seen
        assert b"larger than" in body, (body, seen)
        resets = [e for e in seen if isinstance(e, h2.events.StreamReset)]
        # A reset after a complete answer says "no error" (RFC 9113 §8.1).
        assert all(r.error_code == 0 for r in resets), resets


@pytest.mark.parametrize("path", ["/oauth2/token", "/oauth2/revoke"])
def test_oauth_oversized_form_gets_413(server, path):
    head = (
        f"POST {path} HTTP/1.1\r\nHost: localhost\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\n"
        f"Content-Length: {BIG}\r\n\r\n"
    ).encode()
    got = exchange(server, head + b"a" * BIG)
    assert [status for status, _ in got] == [413], got
