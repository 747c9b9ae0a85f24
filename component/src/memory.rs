//! The engine's memory accounting. Every heap allocation goes through
//! [`CountingAllocator`], so the engine knows how many bytes it holds at any
//! moment; a scan's [`MemoryBudget`] compares its plans against that.

use crate::error::{Error, Result};
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

/// Bytes currently allocated on the heap.
static LIVE_BYTES: AtomicUsize = AtomicUsize::new(0);

/// The system allocator, counting the bytes it hands out and takes back.
pub struct CountingAllocator;

// SAFETY: every call is forwarded unchanged to `System`; the counter only
// observes the sizes.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller upholds `alloc`'s contract, which is System's.
        let pointer = unsafe { System.alloc(layout) };
        if !pointer.is_null() {
            LIVE_BYTES.fetch_add(layout.size(), Ordering::Relaxed);
        }
        pointer
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as for `alloc`.
        let pointer = unsafe { System.alloc_zeroed(layout) };
        if !pointer.is_null() {
            LIVE_BYTES.fetch_add(layout.size(), Ordering::Relaxed);
        }
        pointer
    }

    unsafe fn dealloc(&self, pointer: *mut u8, layout: Layout) {
        // SAFETY: `pointer` came from this allocator with `layout`.
        unsafe { System.dealloc(pointer, layout) };
        LIVE_BYTES.fetch_sub(layout.size(), Ordering::Relaxed);
    }

    unsafe fn realloc(&self, pointer: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: `pointer` came from this allocator with `layout`.
        let moved = unsafe { System.realloc(pointer, layout, new_size) };
        if !moved.is_null() {
            LIVE_BYTES.fetch_add(new_size, Ordering::Relaxed);
            LIVE_BYTES.fetch_sub(layout.size(), Ordering::Relaxed);
        }
        moved
    }
}

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

/// Bytes the engine holds on its heap now.
pub fn live_bytes() -> u64 {
    LIVE_BYTES.load(Ordering::Relaxed) as u64
}

/// Bytes of linear memory below the heap: the engine's static data and its
/// stack (none natively, where the limit is on the heap alone).
fn fixed_bytes() -> u64 {
    #[cfg(target_arch = "wasm32")]
    {
        unsafe extern "C" {
            /// Where the linker put the start of the heap.
            static __heap_base: u8;
        }
        // Only the symbol's address is taken, never its value.
        std::ptr::addr_of!(__heap_base) as u64
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        0
    }
}

/// How much memory a scan may use: a limit on everything the engine holds
/// while the scan runs (what it held before included).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemoryBudget {
    limit: u64,
}

impl Default for MemoryBudget {
    fn default() -> Self {
        Self {
            limit: Self::DEFAULT_LIMIT,
        }
    }
}

impl MemoryBudget {
    /// The limit when a request names none: 4 GiB, all a 32-bit instance has.
    pub const DEFAULT_LIMIT: u64 = 4 << 30;
    /// The smallest limit accepted: below it not even a footer fits.
    pub const MIN_LIMIT: u64 = 4 << 20;

    /// A budget of `limit` bytes (the default for `None`).
    pub fn new(limit: Option<u64>) -> Result<Self> {
        let limit = limit.unwrap_or(Self::DEFAULT_LIMIT);
        if limit < Self::MIN_LIMIT {
            return Err(Error::InvalidArgument(format!(
                "memory-limit must be at least {} bytes (4 MiB), not {limit}",
                Self::MIN_LIMIT
            )));
        }
        Ok(Self { limit })
    }

    /// The limit in bytes.
    pub fn limit(&self) -> u64 {
        self.limit
    }

    /// Bytes that may still be taken before the engine holds the limit
    /// (its static data and stack counted).
    pub fn available(&self) -> u64 {
        self.limit.saturating_sub(fixed_bytes() + live_bytes())
    }

    /// Fails with `memory-limit` unless `bytes` more fit now; `what` names
    /// them for the message.
    pub fn reserve(&self, bytes: u64, what: impl FnOnce() -> String) -> Result<()> {
        let available = self.available();
        if bytes <= available {
            return Ok(());
        }
        Err(Error::MemoryLimit(format!(
            "{} needs {} of memory, but the limit of {} leaves {} (raise the memory limit or read fewer columns)",
            what(),
            human_bytes(bytes),
            human_bytes(self.limit),
            human_bytes(available)
        )))
    }
}

/// `bytes` for people: "512 B", "3.2 MiB", "1.5 GiB".
pub fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_what_is_allocated_and_freed() {
        // Other tests allocate concurrently: look for a change of at least
        // the buffer's size while it lives.
        let before = live_bytes();
        let buffer = vec![0u8; 64 << 20];
        assert!(live_bytes() >= before + (60 << 20));
        drop(buffer);
        assert!(live_bytes() < before + (32 << 20));
    }

    #[test]
    fn limits_below_the_minimum_are_refused_and_reservations_checked() {
        assert!(matches!(
            MemoryBudget::new(Some(1024)),
            Err(Error::InvalidArgument(_))
        ));
        let budget = MemoryBudget::new(None).unwrap();
        assert_eq!(budget.limit(), MemoryBudget::DEFAULT_LIMIT);
        assert!(budget.reserve(1 << 20, || "a page".into()).is_ok());
        let tight = MemoryBudget::new(Some(MemoryBudget::MIN_LIMIT)).unwrap();
        let Err(Error::MemoryLimit(message)) = tight.reserve(u64::MAX, || "row group 3".into())
        else {
            panic!("a reservation beyond the limit must fail");
        };
        assert!(message.starts_with("row group 3 needs") && message.contains("4.0 MiB"));
    }

    #[test]
    fn formats_sizes() {
        assert_eq!(human_bytes(512), "512 B");
        assert_eq!(human_bytes(3 << 20), "3.0 MiB");
        assert_eq!(human_bytes(3 << 29), "1.5 GiB");
    }
}
