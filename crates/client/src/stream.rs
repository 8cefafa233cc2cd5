//! With the `tokio` feature: the events of a [`QuorumClient`] as a `futures_core::Stream`.
//!
//! The client's poll fd (see [`QuorumClient`]'s `AsFd`) is registered with tokio's reactor;
//! the stream reads events without blocking and waits for readiness in between. The stream
//! ends after yielding the first error (e.g. `CS_ERR_LIBRARY` when the daemon exits).
#![forbid(unsafe_code)]

use std::pin::Pin;
use std::task::{ready, Context, Poll};

use futures_core::Stream;
use tokio::io::unix::AsyncFd;

use crate::{CsError, QuorumClient, QuorumEvent};

/// A stream of [`QuorumEvent`]s. Must be created inside a tokio runtime with I/O enabled.
#[derive(Debug)]
pub struct EventStream {
    fd: AsyncFd<QuorumClient>,
    done: bool,
}

impl QuorumClient {
    /// Turns the client into a stream of events (track first, e.g. with
    /// `TrackFlags::CURRENT | TrackFlags::CHANGES`). `Library` if the reactor refuses the fd.
    pub fn into_stream(self) -> Result<EventStream, CsError> {
        // tokio deprecates this constructor because it cannot prove that the fd outlives its
        // registration. Here it does: the fd belongs to the `QuorumClient` that the `AsyncFd`
        // owns, and is closed only when that is dropped, after deregistration.
        #[allow(deprecated)]
        let fd = AsyncFd::with_interest(self, tokio::io::Interest::READABLE).map_err(|_| CsError::Library)?;
        Ok(EventStream { fd, done: false })
    }
}

impl EventStream {
    /// The client, for requests (`getquorate`, `status`, ...) while streaming.
    pub fn client(&self) -> &QuorumClient {
        self.fd.get_ref()
    }
}

impl Stream for EventStream {
    type Item = Result<QuorumEvent, CsError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.done {
            return Poll::Ready(None);
        }
        // Take the readiness guard *before* looking, so that readiness arriving between an
        // empty look and `clear_ready` is not lost. A reactor error ends the stream.
        while let Ok(mut guard) = ready!(self.fd.poll_read_ready(cx)) {
            match guard.get_inner().try_next_event() {
                Ok(Some(event)) => return Poll::Ready(Some(Ok(event))),
                Ok(None) => guard.clear_ready(),
                Err(e) => {
                    self.done = true;
                    return Poll::Ready(Some(Err(e)));
                }
            }
        }
        self.done = true;
        Poll::Ready(Some(Err(CsError::Library)))
    }
}
