//! Keeping a panic inside the SNMP library to the one poll that caused it.
//!
//! snmp2 0.5.3 does unchecked arithmetic on what an agent sends: an
//! unauthenticated SNMPv3 report with snmpEngineBoots 2^63-1 makes it
//! overflow (`engine_boots += 1`), a time of -2^63 too (`(time -
//! prev).abs()`), and with overflow checks on (debug builds, `cargo test`)
//! that is a panic. Anyone who can send a datagram from an agent's address
//! can do it, so a panic there must fail the poll with `decode_error`, be
//! logged and counted like any bad answer, and leave the device's polling
//! running. The panic's own message goes into the poll's error instead of
//! onto stderr.

use std::cell::Cell;
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::Once;
use std::task::{Context, Poll};

thread_local! {
    /// Set while this thread runs code whose panics are contained: the
    /// panic hook then stays quiet (the caller reports it).
    static CONTAINING: Cell<bool> = const { Cell::new(false) };
}

/// Installs, once, a panic hook that is silent for contained panics and
/// defers to the previous hook for every other.
fn install_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !CONTAINING.with(Cell::get) {
                previous(info);
            }
        }));
    });
}

/// Runs `f`; a panic becomes `Err` with its message.
pub fn contain<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    install_hook();
    let was = CONTAINING.with(|c| c.replace(true));
    let result = catch_unwind(AssertUnwindSafe(f));
    CONTAINING.with(|c| c.set(was));
    result.map_err(|payload| {
        payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "a panic without a message".to_string())
    })
}

/// A future whose panics are contained: it resolves to `Err(message)` the
/// first time its inner future panics, and the inner future is never
/// polled again.
pub struct Contained<F> {
    inner: Option<Pin<Box<F>>>,
}

impl<F: Future> Contained<F> {
    pub fn new(inner: F) -> Contained<F> {
        Contained {
            inner: Some(Box::pin(inner)),
        }
    }
}

impl<F: Future> Future for Contained<F> {
    type Output = Result<F::Output, String>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // `Contained` is Unpin: the inner future is pinned in its own box.
        let this = self.get_mut();
        let Some(inner) = this.inner.as_mut() else {
            return Poll::Ready(Err("polled after a panic".to_string()));
        };
        match contain(|| inner.as_mut().poll(cx)) {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(out)) => Poll::Ready(Ok(out)),
            Err(message) => {
                this.inner = None;
                Poll::Ready(Err(message))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_is_an_error_with_its_message_and_nothing_else_changes() {
        assert_eq!(contain(|| 7), Ok(7));
        let overflow = contain(|| -> i64 { panic!("attempt to add with overflow") });
        assert_eq!(overflow, Err("attempt to add with overflow".to_string()));
        assert!(
            !CONTAINING.with(Cell::get),
            "the thread is no longer containing"
        );
    }

    #[tokio::test]
    async fn a_future_that_panics_resolves_to_an_error_once() {
        let ok = Contained::new(async { 1 + 1 }).await;
        assert_eq!(ok, Ok(2));
        let mut panicking = Contained::new(async {
            tokio::task::yield_now().await;
            panic!("engine boots out of range");
        });
        let got: Result<(), String> = (&mut panicking).await;
        assert_eq!(got, Err("engine boots out of range".to_string()));
        let again = std::future::poll_fn(|cx| Pin::new(&mut panicking).poll(cx)).await;
        assert_eq!(again, Err("polled after a panic".to_string()));
    }
}
