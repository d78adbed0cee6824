//! The datagram transport, injectable: a real UDP socket by default ([`UdpTransport`]); tests
//! wrap it ([`Lossy`]) or replace it.

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::task::{Context, Poll};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::io::ReadBuf;
use tokio::net::UdpSocket;

/// A datagram socket, owned by one node task.
///
/// `poll_recv` follows the usual poll contract (register `cx`'s waker when returning
/// `Pending`); the task also calls it with a no-op waker to drain what is already queued before
/// it fires timers. `send` must not block: a datagram that cannot go out now is an error (the
/// task counts it and moves on; the protocol tolerates loss).
pub trait Transport: Send + 'static {
    /// The address datagrams arrive at.
    fn local_addr(&self) -> io::Result<SocketAddr>;
    /// Receive one datagram into `buf`: its length and source. A datagram longer than `buf` may
    /// be truncated to `buf.len()` (the task's buffer is one byte longer than the largest
    /// datagram it accepts, so that truncation still shows as oversized).
    fn poll_recv(
        &mut self,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<(usize, SocketAddr)>>;
    /// Send one datagram to `to`, without blocking.
    fn send(&mut self, datagram: &[u8], to: SocketAddr) -> io::Result<()>;
}

/// A tokio UDP socket: the production transport.
#[derive(Debug)]
pub struct UdpTransport {
    socket: UdpSocket,
}

impl UdpTransport {
    /// Bind a UDP socket to `addr`.
    pub async fn bind(addr: impl tokio::net::ToSocketAddrs) -> io::Result<Self> {
        Ok(UdpTransport {
            socket: UdpSocket::bind(addr).await?,
        })
    }

    /// Use an already bound socket.
    pub fn from_socket(socket: UdpSocket) -> Self {
        UdpTransport { socket }
    }

    /// The socket.
    pub fn socket(&self) -> &UdpSocket {
        &self.socket
    }
}

impl Transport for UdpTransport {
    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.socket.local_addr()
    }

    fn poll_recv(
        &mut self,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<(usize, SocketAddr)>> {
        let mut read = ReadBuf::new(buf);
        match self.socket.poll_recv_from(cx, &mut read) {
            Poll::Ready(Ok(from)) => Poll::Ready(Ok((read.filled().len(), from))),
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => Poll::Pending,
        }
    }

    fn send(&mut self, datagram: &[u8], to: SocketAddr) -> io::Result<()> {
        // Straight to the (non-blocking) socket: tokio's `try_send_to` refuses to send until the
        // reactor has seen the socket writable once, which loses the first datagrams of a
        // fresh node (its join).
        socket2::SockRef::from(&self.socket)
            .send_to(datagram, &to.into())
            .map(|_| ())
    }
}

/// Shared knobs and counters of a [`Lossy`] transport; clone it to change the loss rate while
/// the node runs (for example 1.0 to cut a node off, 0.0 to heal).
#[derive(Clone, Debug, Default)]
pub struct LossControl {
    inner: Arc<LossInner>,
}

#[derive(Debug, Default)]
struct LossInner {
    /// Drop probability on send, in millionths.
    send_ppm: AtomicU32,
    /// Drop probability on receive, in millionths.
    recv_ppm: AtomicU32,
    sent_dropped: AtomicU64,
    recv_dropped: AtomicU64,
}

fn ppm(p: f64) -> u32 {
    (p.clamp(0.0, 1.0) * 1e6).round() as u32
}

impl LossControl {
    /// Drop each outgoing datagram with probability `p`.
    pub fn set_send_loss(&self, p: f64) {
        self.inner.send_ppm.store(ppm(p), Ordering::Relaxed);
    }

    /// Drop each incoming datagram with probability `p`.
    pub fn set_recv_loss(&self, p: f64) {
        self.inner.recv_ppm.store(ppm(p), Ordering::Relaxed);
    }

    /// Outgoing datagrams dropped so far.
    pub fn sent_dropped(&self) -> u64 {
        self.inner.sent_dropped.load(Ordering::Relaxed)
    }

    /// Incoming datagrams dropped so far.
    pub fn recv_dropped(&self) -> u64 {
        self.inner.recv_dropped.load(Ordering::Relaxed)
    }
}

/// A transport wrapper that drops datagrams at random (a lossy network, for tests and the
/// benchmark). Dropped datagrams vanish silently, as on a real network.
pub struct Lossy<T> {
    inner: T,
    control: LossControl,
    rng: StdRng,
}

impl<T: Transport> Lossy<T> {
    /// Wrap `inner`, dropping outgoing datagrams with probability `send_loss`; `seed` makes the
    /// drops reproducible.
    pub fn new(inner: T, send_loss: f64, seed: u64) -> Self {
        let control = LossControl::default();
        control.set_send_loss(send_loss);
        Lossy {
            inner,
            control,
            rng: StdRng::seed_from_u64(seed),
        }
    }

    /// The knobs and counters of this wrapper.
    pub fn control(&self) -> LossControl {
        self.control.clone()
    }

    fn lose(&mut self, ppm: &AtomicU32) -> bool {
        let p = ppm.load(Ordering::Relaxed);
        p > 0 && self.rng.random_range(0..1_000_000) < p
    }
}

impl<T> fmt::Debug for Lossy<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Lossy")
            .field("control", &self.control)
            .finish()
    }
}

impl<T: Transport> Transport for Lossy<T> {
    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.local_addr()
    }

    fn poll_recv(
        &mut self,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<(usize, SocketAddr)>> {
        loop {
            match self.inner.poll_recv(cx, buf) {
                Poll::Ready(Ok(got)) => {
                    let control = self.control.clone();
                    if self.lose(&control.inner.recv_ppm) {
                        control.inner.recv_dropped.fetch_add(1, Ordering::Relaxed);
                        continue;
                    }
                    return Poll::Ready(Ok(got));
                }
                other => return other,
            }
        }
    }

    fn send(&mut self, datagram: &[u8], to: SocketAddr) -> io::Result<()> {
        let control = self.control.clone();
        if self.lose(&control.inner.send_ppm) {
            control.inner.sent_dropped.fetch_add(1, Ordering::Relaxed);
            return Ok(());
        }
        self.inner.send(datagram, to)
    }
}
