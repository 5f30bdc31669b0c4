//! The runtime object-store requests run on: one small multi-threaded tokio
//! runtime for the process, waited on by parking the calling thread.

use std::future::Future;
use std::pin::pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll, Wake, Waker};
use std::thread::{self, Thread};

/// The process's runtime for object-store requests.
pub(super) fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("persist-object-store")
            .enable_all()
            .build()
            .expect("persist: cannot start the object-store runtime")
    })
}

/// Runs `fut` on the runtime and waits for it, from any thread.
pub(super) fn run<F>(fut: F) -> F::Output
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    join(runtime().spawn(fut))
}

pub(super) fn join<T>(handle: tokio::task::JoinHandle<T>) -> T {
    match block_on(handle) {
        Ok(v) => v,
        Err(e) => match e.try_into_panic() {
            Ok(panic) => std::panic::resume_unwind(panic),
            Err(e) => panic!("persist: object-store request cancelled: {e}"),
        },
    }
}

/// Waits for a future by parking this thread (no runtime is entered, so this
/// works inside another runtime's context too).
fn block_on<F: Future>(fut: F) -> F::Output {
    struct Unpark(Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
        fn wake_by_ref(self: &Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(Arc::new(Unpark(thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut fut = pin!(fut);
    loop {
        if let Poll::Ready(v) = fut.as_mut().poll(&mut cx) {
            return v;
        }
        thread::park();
    }
}
