"""Floods and slow clients on raw sockets against the real server: the
abusive connection is refused or closed, and the server stays up and
SERVING for everyone else (part of the attack suite; the rest is
tests/attack.rs).

- 10,000 streams opened quickly on one HTTP/2 connection, as fast as the
  client can write them: with RST_STREAM right after each (the "rapid
  reset" attack) and without (streams beyond the advertised limit);
- a CONTINUATION flood (a header block that never ends);
- slow clients (slowloris): silent after TCP connect, a ClientHello
  trickled a byte at a time, silent after the TLS handshake (HTTP/1.1 and
  HTTP/2), and HTTP/1.1 headers trickled a byte at a time: the handshake,
  first-bytes and header timeouts close each of them, while other clients
  are served;
- one address cannot hold more than a quarter of the connection slots.

Nothing here asserts how fast anything happens: a bound on waiting only
turns a hang into a failure.
"""

import select
import socket
import ssl
import threading
import time

import h2.config
import h2.connection
import h2.events
import h2.exceptions
import hpack
import hyperframe.frame
import requests

STREAMS = 10_000
# How long a slow client may live before the test calls it a hang: far
# above every server timeout (handshake 10 s, first bytes 10 s, headers
# 30 s).
HANG = 120


def serving(server) -> None:
    s = server.session()
    r = s.get(f"{server.base}/readyz", timeout=30)
    assert r.status_code == 200, r.text
    r = s.get(f"{server.base}/v1/health", timeout=30)
    assert r.status_code == 200 and r.json()["status"] == "SERVING", r.text
    assert server.login("admin", server.admin_password)


def tls(server, alpn: str | None = None, timeout: float = 30) -> ssl.SSLSocket:
    ctx = ssl.create_default_context(cafile=server.ca)
    if alpn:
        ctx.set_alpn_protocols([alpn])
    raw = socket.create_connection(("127.0.0.1", server.port), timeout=timeout)
    return ctx.wrap_socket(raw, server_hostname="localhost")


def h2_connection(server) -> tuple[ssl.SSLSocket, h2.connection.H2Connection]:
    s = tls(server, "h2")
    assert s.selected_alpn_protocol() == "h2"
    conn = h2.connection.H2Connection(
        config=h2.config.H2Configuration(client_side=True, header_encoding="utf-8")
    )
    conn.initiate_connection()
    s.sendall(conn.data_to_send())
    return s, conn


def request_headers(server, path: str = "/v1/health") -> list[tuple[str, str]]:
    return [
        (":method", "GET"),
        (":scheme", "https"),
        (":authority", f"localhost:{server.port}"),
        (":path", path),
    ]


def drain(s: ssl.SSLSocket, conn: h2.connection.H2Connection, seconds: float) -> dict:
    """Reads what the server sends for a while (or until it closes): counts
    of responses, resets and whether it sent GOAWAY."""
    seen = {"responses": 0, "resets": 0, "goaway": False, "closed": False}
    s.settimeout(1)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            data = s.recv(65536)
        except TimeoutError:
            continue
        except (ssl.SSLError, ConnectionError, OSError):
            seen["closed"] = True
            break
        if not data:
            seen["closed"] = True
            break
        try:
            events = conn.receive_data(data)
        except h2.exceptions.ProtocolError:
            # The server may stop caring about a stream the client already
            # reset; whatever it sends is an answer.
            seen["closed"] = True
            break
        for e in events:
            if isinstance(e, h2.events.ResponseReceived):
                seen["responses"] += 1
            elif isinstance(e, h2.events.StreamReset):
                seen["resets"] += 1
            elif isinstance(e, h2.events.ConnectionTerminated):
                seen["goaway"] = True
        try:
            out = conn.data_to_send()
            if out:
                s.sendall(out)
        except (ssl.SSLError, ConnectionError, OSError):
            seen["closed"] = True
            break
        if seen["goaway"]:
            break
    return seen


def test_rapid_reset_of_10000_streams_on_one_connection(server):
    s, conn = h2_connection(server)
    sent = 0
    try:
        for i in range(STREAMS):
            sid = conn.get_next_available_stream_id()
            conn.send_headers(sid, request_headers(server), end_stream=True)
            conn.reset_stream(sid)
            sent += 1
            if i % 100 == 99:
                s.sendall(conn.data_to_send())
        s.sendall(conn.data_to_send())
    except (ssl.SSLError, ConnectionError, OSError, h2.exceptions.ProtocolError):
        # The server may end the connection part way: that is its answer.
        pass
    seen = drain(s, conn, 30)
    s.close()
    print(f"rapid reset: {sent} streams sent, server: {seen}")
    assert sent > 0
    serving(server)


def raw_headers_frame(encoder: hpack.Encoder, sid: int, headers, end_headers=True) -> bytes:
    f = hyperframe.frame.HeadersFrame(sid)
    f.data = encoder.encode(headers)
    f.flags.add("END_STREAM")
    if end_headers:
        f.flags.add("END_HEADERS")
    return f.serialize()


def test_10000_streams_beyond_the_advertised_limit(server):
    # The client library would keep to the server's limit: write the frames
    # by hand after its preface.
    s, conn = h2_connection(server)
    encoder = hpack.Encoder()
    sent = 0
    try:
        batch = []
        for i in range(STREAMS):
            batch.append(raw_headers_frame(encoder, 1 + 2 * i, request_headers(server)))
            if len(batch) == 200:
                s.sendall(b"".join(batch))
                sent += len(batch)
                batch = []
        s.sendall(b"".join(batch))
        sent += len(batch)
    except (ssl.SSLError, ConnectionError, OSError):
        pass
    # Read raw frames: the client library knows nothing of these streams.
    seen = {"frames": 0, "goaway": False, "closed": False}
    s.settimeout(1)
    deadline = time.monotonic() + 30
    buf = b""
    while time.monotonic() < deadline and not seen["goaway"]:
        try:
            data = s.recv(65536)
        except TimeoutError:
            continue
        except (ssl.SSLError, ConnectionError, OSError):
            seen["closed"] = True
            break
        if not data:
            seen["closed"] = True
            break
        buf += data
        while len(buf) >= 9:
            length = int.from_bytes(buf[:3], "big")
            if len(buf) < 9 + length:
                break
            kind = buf[3]
            seen["frames"] += 1
            if kind == 0x7:
                seen["goaway"] = True
            buf = buf[9 + length :]
    s.close()
    print(f"streams beyond the limit: {sent} sent, server: {seen}")
    # The server answered the flood (responses, refusals or GOAWAY).
    assert seen["frames"] > 0 or seen["closed"], seen
    serving(server)


def test_continuation_flood_is_cut_off(server):
    s, conn = h2_connection(server)
    encoder = hpack.Encoder()
    s.sendall(raw_headers_frame(encoder, 1, request_headers(server), end_headers=False))
    closed = False
    try:
        for i in range(5_000):
            f = hyperframe.frame.ContinuationFrame(1)
            f.data = encoder.encode([(f"x-flood-{i}", "v" * 100)])
            s.sendall(f.serialize())
    except (ssl.SSLError, ConnectionError, OSError):
        closed = True
    seen = {"responses": 0, "resets": 0, "goaway": False, "closed": closed}
    if not closed:
        seen = drain(s, conn, HANG)
    s.close()
    print(f"CONTINUATION flood: {seen}")
    assert seen["goaway"] or seen["closed"] or seen["resets"], seen
    serving(server)


def closes_within(sock: socket.socket, seconds: float, trickle: bytes = b"") -> str:
    """Waits for the server to close `sock`, sending `trickle` a byte a
    second meanwhile; returns how it ended ('eof', 'reset') or 'open'."""
    sock.settimeout(1)
    deadline = time.monotonic() + seconds
    i = 0
    while time.monotonic() < deadline:
        if i < len(trickle):
            try:
                sock.send(trickle[i : i + 1])
            except (ConnectionError, OSError, ssl.SSLError):
                return "reset"
            i += 1
        try:
            data = sock.recv(4096)
            if not data:
                return "eof"
            # A response (a 408 or a close_notify's record) then the end.
        except TimeoutError:
            continue
        except ssl.SSLError as e:
            # The server's close_notify or an alert: closed.
            return f"tls: {e.reason}"
        except (ConnectionError, OSError):
            return "reset"
    return "open"


def test_slow_clients_are_closed_and_others_are_served(server):
    ctx = ssl.create_default_context(cafile=server.ca)
    # A ClientHello to trickle: the first bytes a real handshake sends.
    hello_in = ssl.MemoryBIO()
    hello_out = ssl.MemoryBIO()
    probe = ctx.wrap_bio(hello_in, hello_out, server_hostname="localhost")
    try:
        probe.do_handshake()
    except ssl.SSLWantReadError:
        pass
    client_hello = hello_out.read()
    assert client_hello[:1] == b"\x16", client_hello[:5]

    def tcp():
        return socket.create_connection(("127.0.0.1", server.port), timeout=30)

    cases = {
        "silent after TCP connect": (tcp, b""),
        "ClientHello a byte a second": (tcp, client_hello),
        "silent after the TLS handshake (HTTP/1.1)": (lambda: tls(server, "http/1.1"), b""),
        "silent after the TLS handshake (HTTP/2)": (lambda: tls(server, "h2"), b""),
        "HTTP/1.1 headers a byte a second": (
            lambda: tls(server, "http/1.1"),
            b"GET /v1/health HTTP/1.1\r\nHost: localhost\r\nX-Slow: " + b"a" * 200,
        ),
    }
    results = {}

    def run(name, make, trickle):
        s = make()
        try:
            results[name] = closes_within(s, HANG, trickle)
        finally:
            s.close()

    threads = [threading.Thread(target=run, args=(n, m, t)) for n, (m, t) in cases.items()]
    for t in threads:
        t.start()
    # While they hang on, everyone else is served.
    time.sleep(1)
    serving(server)
    for t in threads:
        t.join()
    print(f"slow clients: {results}")
    still_open = [n for n, r in results.items() if r == "open"]
    assert not still_open, f"never closed: {still_open}"
    serving(server)


def test_one_address_cannot_take_every_connection(server):
    """The server holds at most a quarter of its 1024 connections for one
    client address: more from 127.0.0.2 are closed at once, and 127.0.0.1
    is served meanwhile."""
    socks = []
    try:
        for _ in range(300):
            socks.append(
                socket.create_connection(
                    ("127.0.0.1", server.port), timeout=30, source_address=("127.0.0.2", 0)
                )
            )
        # Closed ones read as EOF at once; the others wait for a TLS
        # handshake (10 s), so look once, well within that.
        time.sleep(1)
        readable, _, _ = select.select(socks, [], [], 0)
        refused = 0
        for s in readable:
            try:
                if s.recv(1) == b"":
                    refused += 1
            except (ConnectionError, OSError):
                refused += 1
        print(f"300 silent connections from one address: {refused} closed at once")
        assert 300 - 256 <= refused < 300, refused
        serving(server)
    finally:
        for s in socks:
            s.close()
    serving(server)
