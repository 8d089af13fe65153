//! What runs on each attempt after its TCP handshake (HE-9.1): nothing for a plain connect, the
//! caller's handshake (TLS, a protocol greeting) for [`crate::Connector::connect_with`].

use std::future::Future;
use std::io;
use std::pin::Pin;

use crate::core::svcb::ServiceEndpoint;

/// A handshake in progress. Dropping it abandons the handshake and closes its socket.
pub(crate) type HandshakeFuture<T> = Pin<Box<dyn Future<Output = io::Result<T>> + Send + 'static>>;

/// What follows an attempt's TCP handshake.
pub(crate) enum Phase<T> {
    /// Nothing: the connection is usable as it is (a plain connect).
    Ready(T),
    /// The caller's handshake, running on the connection; the attempt wins when it completes.
    Running(HandshakeFuture<T>),
}

/// Starts what follows an attempt's TCP handshake, on each attempt that gets that far.
pub(crate) trait Handshake<S>: Sync {
    /// What a connect returns.
    type Output: Send + 'static;

    /// Starts on a connected stream; `endpoint` is the HTTPS-record endpoint its address came
    /// from, when HTTPS records were used (HE-10.6), so a TLS handshake can offer the ALPN
    /// protocols it allows.
    fn start(&self, stream: S, endpoint: Option<&ServiceEndpoint>) -> Phase<Self::Output>;
}

/// A plain connect: the TCP stream is the result (HE-5.4).
#[derive(Debug, Clone, Copy)]
pub(crate) struct NoHandshake;

impl<S: Send + 'static> Handshake<S> for NoHandshake {
    type Output = S;

    fn start(&self, stream: S, _: Option<&ServiceEndpoint>) -> Phase<S> {
        Phase::Ready(stream)
    }
}

/// The caller's handshake, a function of the connected stream.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FnHandshake<F>(pub(crate) F);

impl<S, F, Fut, T> Handshake<S> for FnHandshake<F>
where
    F: Fn(S) -> Fut + Sync,
    Fut: Future<Output = io::Result<T>> + Send + 'static,
    T: Send + 'static,
{
    type Output = T;

    fn start(&self, stream: S, _: Option<&ServiceEndpoint>) -> Phase<T> {
        Phase::Running(Box::pin((self.0)(stream)))
    }
}
