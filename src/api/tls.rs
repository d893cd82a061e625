//! The listener: TCP accept with a bounded number of connections (in all,
//! and per client address), TLS
//! (rustls, TLS 1.2 minimum, ALPN h2 and http/1.1) with a handshake timeout,
//! and a connection type that remembers the peer address and closes cleanly.
//!
//! Clean close: however a connection ends (a response with `Connection:
//! close`, a parse error, an oversized body, a timeout, shutdown), the
//! dropped [`Conn`] sends TLS `close_notify` and a TCP FIN, then reads and
//! discards what the client still sends — at most [`LINGER_BYTES`] for at most
//! [`LINGER_TIME`] — before the socket is closed. Closing a socket with
//! unread data makes the kernel send a reset, which destroys the response the
//! client has not read yet; lingering lets it read the answer.

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc, watch};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::{self, ServerConfig};

use mcias_core::config::{ServerConfig as ServerSection, TlsVersion};
use mcias_core::error::{Error, Result};

/// Connections served at once; more wait in the kernel's backlog.
pub const MAX_CONNECTIONS: usize = 1024;
/// Connections one client address may hold at once: a quarter of
/// [`MAX_CONNECTIONS`], so that one address (with idle HTTP/2 connections,
/// which live as long as they answer pings) can never take every slot.
pub const MAX_CONNECTIONS_PER_ADDRESS: usize = MAX_CONNECTIONS / 4;
/// Time a client has to finish the TLS handshake.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Time a client has, once connected (after the handshake), to send the
/// first bytes of a request (HTTP/1.1 headers or the HTTP/2 preface).
/// hyper's header timeout starts only once it has read something, so a
/// client that completes the handshake and then says nothing would hold
/// its connection slot for ever (slowloris).
pub const FIRST_BYTES_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest time a closing connection is drained of unread input.
pub const LINGER_TIME: Duration = Duration::from_secs(5);
/// Most bytes a closing connection reads and discards.
pub const LINGER_BYTES: usize = 16 * 1024 * 1024;

/// Builds the rustls server config from the `[server]` section.
pub fn server_config(s: &ServerSection) -> Result<ServerConfig> {
    let (Some(cert), Some(key)) = (&s.tls_cert, &s.tls_key) else {
        return Err(Error::invalid(
            "invalid_config",
            "config key `server.tls_cert`/`server.tls_key`: both are required for TLS",
        ));
    };
    let certs = read_certs(cert)?;
    let key = read_key(key)?;
    let versions: &[&rustls::SupportedProtocolVersion] = match s.tls_min_version {
        TlsVersion::Tls12 => &[&rustls::version::TLS13, &rustls::version::TLS12],
        TlsVersion::Tls13 => &[&rustls::version::TLS13],
    };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut cfg = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(versions)
        .map_err(|e| Error::internal(format!("TLS versions: {e}")))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| {
            Error::invalid(
                "tls_key_mismatch",
                format!("config keys `server.tls_cert`/`server.tls_key`: {e}"),
            )
        })?;
    cfg.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(cfg)
}

fn read_certs(path: &Path) -> Result<Vec<rustls::pki_types::CertificateDer<'static>>> {
    let data = std::fs::read(path).map_err(|e| {
        Error::invalid(
            "tls_cert_unreadable",
            format!(
                "config key `server.tls_cert`: cannot read {}: {e}",
                path.display()
            ),
        )
    })?;
    let certs = rustls_pemfile::certs(&mut data.as_slice())
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| {
            Error::invalid(
                "tls_cert_invalid",
                format!("config key `server.tls_cert`: {e}"),
            )
        })?;
    if certs.is_empty() {
        return Err(Error::invalid(
            "tls_cert_invalid",
            format!(
                "config key `server.tls_cert`: no PEM certificate in {}",
                path.display()
            ),
        ));
    }
    Ok(certs)
}

fn read_key(path: &Path) -> Result<rustls::pki_types::PrivateKeyDer<'static>> {
    let data = zeroize::Zeroizing::new(std::fs::read(path).map_err(|e| {
        Error::invalid(
            "tls_key_unreadable",
            format!(
                "config key `server.tls_key`: cannot read {}: {e}",
                path.display()
            ),
        )
    })?);
    rustls_pemfile::private_key(&mut data.as_slice())
        .map_err(|e| {
            Error::invalid(
                "tls_key_invalid",
                format!("config key `server.tls_key`: {e}"),
            )
        })?
        .ok_or_else(|| {
            Error::invalid(
                "tls_key_invalid",
                format!(
                    "config key `server.tls_key`: no PEM private key in {}",
                    path.display()
                ),
            )
        })
}

enum Io {
    Tls(Box<tokio_rustls::server::TlsStream<TcpStream>>),
    Plain(TcpStream),
}

impl Io {
    /// Closes the write side (TLS `close_notify`, then FIN) and drains what
    /// the client still sends, within [`LINGER_BYTES`] and [`LINGER_TIME`].
    async fn linger(mut self) {
        let drain = async {
            // Errors mean the peer is gone already; nothing left to drain.
            if self.shutdown().await.is_err() {
                return;
            }
            let mut buf = vec![0u8; 16 * 1024];
            let mut left = LINGER_BYTES;
            while left > 0 {
                match self.read(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => left = left.saturating_sub(n),
                }
            }
        };
        if tokio::time::timeout(LINGER_TIME, drain).await.is_err() {
            tracing::debug!("closing connection after the linger time");
        }
    }
}

/// How many connections each client address holds.
#[derive(Debug, Default)]
struct PerAddress(Mutex<HashMap<IpAddr, usize>>);

/// One of an address's connections; given back when dropped.
#[derive(Debug)]
struct AddressSlot {
    table: Arc<PerAddress>,
    ip: IpAddr,
}

impl PerAddress {
    /// A slot for `ip`, unless it holds [`MAX_CONNECTIONS_PER_ADDRESS`].
    fn take(self: &Arc<Self>, ip: IpAddr) -> Option<AddressSlot> {
        let mut held = self.0.lock().ok()?;
        let n = held.entry(ip).or_insert(0);
        if *n >= MAX_CONNECTIONS_PER_ADDRESS {
            return None;
        }
        *n += 1;
        Some(AddressSlot {
            table: self.clone(),
            ip,
        })
    }
}

impl Drop for AddressSlot {
    fn drop(&mut self) {
        if let Ok(mut held) = self.table.0.lock()
            && let Some(n) = held.get_mut(&self.ip)
        {
            *n = n.saturating_sub(1);
            if *n == 0 {
                held.remove(&self.ip);
            }
        }
    }
}

/// A connection's places: one of the server's and one of its address's.
type Slot = (OwnedSemaphorePermit, AddressSlot);

/// One accepted connection; holds a slot of the connection limit until
/// closed. Dropping it closes it cleanly in the background (see the module
/// documentation).
pub struct Conn {
    io: Option<Io>,
    peer: SocketAddr,
    slot: Option<Slot>,
    /// Until the first bytes arrive: when they must have (see
    /// [`FIRST_BYTES_TIMEOUT`]).
    first_bytes: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl Conn {
    fn new(io: Io, peer: SocketAddr, slot: Slot) -> Self {
        Self {
            io: Some(io),
            peer,
            slot: Some(slot),
            first_bytes: Some(Box::pin(tokio::time::sleep(FIRST_BYTES_TIMEOUT))),
        }
    }

    /// The client's address.
    pub fn peer(&self) -> SocketAddr {
        self.peer
    }

    fn io(&mut self) -> io::Result<&mut Io> {
        self.io
            .as_mut()
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotConnected, "connection closed"))
    }
}

impl Drop for Conn {
    fn drop(&mut self) {
        let (Some(io), slot) = (self.io.take(), self.slot.take()) else {
            return;
        };
        // The slot stays taken while the connection lingers.
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(async move {
                io.linger().await;
                drop(slot);
            });
        }
    }
}

impl AsyncRead for Conn {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let res = Pin::new(this.io()?).poll_read(cx, buf);
        if let Some(deadline) = this.first_bytes.as_mut() {
            match &res {
                Poll::Ready(Ok(())) if buf.filled().len() > before => this.first_bytes = None,
                Poll::Pending if deadline.as_mut().poll(cx).is_ready() => {
                    this.first_bytes = None;
                    tracing::debug!(peer = %this.peer, "no request after the handshake; closing");
                    return Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        "no request within the time allowed after connecting",
                    )));
                }
                _ => {}
            }
        }
        res
    }
}

impl AsyncRead for Io {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match &mut *self {
            Io::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
            Io::Plain(s) => Pin::new(s).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Io {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match &mut *self {
            Io::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
            Io::Plain(s) => Pin::new(s).poll_write(cx, buf),
        }
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &mut *self {
            Io::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
            Io::Plain(s) => Pin::new(s).poll_flush(cx),
        }
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &mut *self {
            Io::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
            Io::Plain(s) => Pin::new(s).poll_shutdown(cx),
        }
    }
}

impl AsyncWrite for Conn {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(self.io()?).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(self.io()?).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(self.io()?).poll_shutdown(cx)
    }
}

/// Accepts connections until `stop` turns true, handing finished handshakes
/// to the returned channel. `tls = None` serves plaintext (loopback only, as
/// the config enforces).
pub fn accept_loop(
    listener: TcpListener,
    tls: Option<Arc<ServerConfig>>,
    mut stop: watch::Receiver<bool>,
) -> mpsc::Receiver<io::Result<Conn>> {
    let (tx, rx) = mpsc::channel(64);
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    let per_address = Arc::new(PerAddress::default());
    let acceptor = tls.map(TlsAcceptor::from);
    tokio::spawn(async move {
        loop {
            let accepted = tokio::select! {
                _ = stop.changed() => break,
                a = listener.accept() => a,
            };
            let (tcp, peer) = match accepted {
                Ok(v) => v,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            let Ok(slot) = slots.clone().try_acquire_owned() else {
                tracing::warn!(%peer, "connection limit reached; closing new connection");
                continue;
            };
            let Some(address_slot) = per_address.take(peer.ip()) else {
                tracing::warn!(%peer, "connection limit of this address reached; closing new connection");
                continue;
            };
            let slot = (slot, address_slot);
            let _ = tcp.set_nodelay(true);
            let tx = tx.clone();
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let io = match acceptor {
                    None => Io::Plain(tcp),
                    Some(acc) => {
                        match tokio::time::timeout(HANDSHAKE_TIMEOUT, acc.accept(tcp)).await {
                            Ok(Ok(s)) => Io::Tls(Box::new(s)),
                            Ok(Err(e)) => {
                                tracing::debug!(%peer, error = %e, "TLS handshake failed");
                                return;
                            }
                            Err(_) => {
                                tracing::debug!(%peer, "TLS handshake timed out");
                                return;
                            }
                        }
                    }
                };
                let _ = tx.send(Ok(Conn::new(io, peer, slot))).await;
            });
        }
    });
    rx
}
