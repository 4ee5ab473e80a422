//! Work spread over the machine's cores with scoped threads, results in input order.

use std::sync::atomic::{AtomicUsize, Ordering};

/// The thread count set by [`set_thread_count`]; 0 when unset.
static THREADS: AtomicUsize = AtomicUsize::new(0);

/// Sets how many threads compress, decompress and SQL decode blocks on (0: back to the default,
/// `BALER_ARROW_THREADS` when set, else the machine's cores). Files and decoded values do not
/// depend on it; only the time does.
pub fn set_thread_count(threads: usize) {
    THREADS.store(threads, Ordering::Relaxed);
}

/// The number of threads to use: [`set_thread_count`]'s, else `BALER_ARROW_THREADS`, else the
/// machine's cores.
pub(crate) fn threads() -> usize {
    match THREADS.load(Ordering::Relaxed) {
        0 => std::env::var("BALER_ARROW_THREADS")
            .ok()
            .and_then(|t| t.parse().ok())
            .filter(|&t: &usize| t > 0)
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, usize::from)),
        n => n,
    }
}

/// `f` applied to every item, the items split into one contiguous chunk per core, each chunk on
/// its own thread; the results in the items' order, so that callers stay deterministic. A panic
/// in `f` is raised again here.
pub(crate) fn map<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let chunk = items.len().div_ceil(threads()).max(1);
    if items.len() <= 1 || chunk == items.len() {
        return items.iter().map(&f).collect();
    }
    let f = &f;
    std::thread::scope(|scope| {
        let handles: Vec<_> = items
            .chunks(chunk)
            .map(|part| scope.spawn(move || part.iter().map(f).collect::<Vec<R>>()))
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect()
    })
}
