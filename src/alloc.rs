//! The process allocator of the `husk` binary: size classes over memory
//! mapped in 1 MiB chunks that are never given back.
//!
//! husk is a short-lived command without threads. musl's allocator gives
//! memory back to the kernel eagerly (about 230 mmap and munmap calls in one
//! `husk run`), and glibc's sets up arenas that husk never needs. This one:
//! - rounds a request up to a power of two from 16 bytes to 64 KiB and keeps
//!   one free list per class, so memory freed in a loop (the event loop of
//!   `run`, `events --interval`) is reused, not grown;
//! - carves new blocks from a chunk: a page counts toward the RSS only once
//!   it is touched, and one chunk is enough for a whole `run`;
//! - maps a larger block (or one aligned beyond 16 bytes) on its own, grows
//!   it with mremap and unmaps it when it is freed.
//!
//! A spin lock makes it `Sync`; with no threads it is never contended, and a
//! forked child gets a consistent copy (no other thread can hold the lock).
//!
//! In the static musl build it is also C's malloc, free, calloc and realloc
//! (musl lets a static program replace them), so libseccomp and musl's own
//! allocations share the heap instead of pulling in musl's allocator, which
//! made the first compile of a large seccomp profile 20% slower.

use std::alloc::{GlobalAlloc, Layout};
use std::cell::UnsafeCell;
use std::ptr::null_mut;
use std::sync::atomic::{AtomicBool, Ordering};

const MIN_SHIFT: u32 = 4;
const MAX_SHIFT: u32 = 16;
const CLASSES: usize = (MAX_SHIFT - MIN_SHIFT + 1) as usize;
const CHUNK: usize = 1 << 20;
const ALIGN: usize = 16;
const PAGE: usize = 4096;

struct Heap {
    free: [*mut u8; CLASSES],
    next: usize,
    end: usize,
}

/// The allocator; `main.rs` installs it with `#[global_allocator]`.
pub struct Husk {
    lock: AtomicBool,
    heap: UnsafeCell<Heap>,
}

// SAFETY: every access to `heap` happens under `lock`.
unsafe impl Sync for Husk {}

impl Default for Husk {
    fn default() -> Self {
        Self::new()
    }
}

impl Husk {
    pub const fn new() -> Self {
        Husk {
            lock: AtomicBool::new(false),
            heap: UnsafeCell::new(Heap {
                free: [null_mut(); CLASSES],
                next: 0,
                end: 0,
            }),
        }
    }

    fn with<R>(&self, f: impl FnOnce(&mut Heap) -> R) -> R {
        while self
            .lock
            .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            std::hint::spin_loop();
        }
        // SAFETY: the lock is held, so this is the only reference.
        let r = f(unsafe { &mut *self.heap.get() });
        self.lock.store(false, Ordering::Release);
        r
    }
}

/// The process heap: Rust's global allocator (through [`Global`]) and, in
/// static musl builds, C's malloc family.
pub static HEAP: Husk = Husk::new();

/// `#[global_allocator]` handle for [`HEAP`] (installed by `main.rs`).
pub struct Global;

// SAFETY: forwards to HEAP, which upholds GlobalAlloc's contract.
unsafe impl GlobalAlloc for Global {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        HEAP.alloc(layout)
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        HEAP.alloc_zeroed(layout)
    }
    unsafe fn dealloc(&self, p: *mut u8, layout: Layout) {
        HEAP.dealloc(p, layout)
    }
    unsafe fn realloc(&self, p: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        HEAP.realloc(p, layout, new_size)
    }
}

/// The class of a small block (its size is `16 << class`), or None when the
/// block is mapped on its own.
pub fn class_of(layout: Layout) -> Option<usize> {
    let size = layout.size();
    if size > 1 << MAX_SHIFT || layout.align() > ALIGN {
        return None;
    }
    let s = size.max(1 << MIN_SHIFT);
    Some((usize::BITS - (s - 1).leading_zeros() - MIN_SHIFT) as usize)
}

fn pages(size: usize) -> usize {
    (size + PAGE - 1) & !(PAGE - 1)
}

fn map(len: usize) -> *mut u8 {
    // SAFETY: a new private anonymous mapping; no existing memory is touched.
    let p = unsafe {
        libc::mmap(
            null_mut(),
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    if p == libc::MAP_FAILED {
        null_mut()
    } else {
        p.cast()
    }
}

impl Heap {
    fn take(&mut self, class: usize) -> *mut u8 {
        let head = self.free[class];
        if !head.is_null() {
            // SAFETY: a free block holds the next free block's address.
            self.free[class] = unsafe { head.cast::<*mut u8>().read() };
            return head;
        }
        let size = 1usize << (class as u32 + MIN_SHIFT);
        if self.end - self.next < size {
            let base = map(CHUNK);
            if base.is_null() {
                return null_mut();
            }
            self.next = base as usize;
            self.end = self.next + CHUNK;
        }
        let p = self.next as *mut u8;
        self.next += size;
        p
    }

    fn give(&mut self, p: *mut u8, class: usize) {
        // The newest block goes back to the chunk, so that memory freed in
        // stack order serves any class.
        if p as usize + (1usize << (class as u32 + MIN_SHIFT)) == self.next {
            self.next = p as usize;
            return;
        }
        // SAFETY: the block is free and at least 16 bytes, 16-aligned.
        unsafe { p.cast::<*mut u8>().write(self.free[class]) };
        self.free[class] = p;
    }

    /// Grow the newest block in place (a Vec or String being built at the
    /// top of the heap): no copy and no block left behind.
    fn grow_top(&mut self, p: *mut u8, old: usize, new: usize) -> bool {
        let (old, new) = (
            1usize << (old as u32 + MIN_SHIFT),
            1usize << (new as u32 + MIN_SHIFT),
        );
        if p as usize + old == self.next && self.end - p as usize >= new {
            self.next = p as usize + new;
            return true;
        }
        false
    }
}

// SAFETY: blocks of one class never overlap and stay allocated until freed;
// every block is 16-aligned (chunks are page-aligned, sizes multiples of 16)
// and larger alignments are served by page-aligned mappings up to 4096.
unsafe impl GlobalAlloc for Husk {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        match class_of(layout) {
            Some(c) => self.with(|h| h.take(c)),
            None if layout.align() <= PAGE => map(pages(layout.size())),
            None => null_mut(),
        }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        match class_of(layout) {
            Some(_) => {
                let p = self.alloc(layout);
                if !p.is_null() {
                    p.write_bytes(0, layout.size());
                }
                p
            }
            // A new mapping is zero already.
            None => self.alloc(layout),
        }
    }

    unsafe fn dealloc(&self, p: *mut u8, layout: Layout) {
        match class_of(layout) {
            Some(c) => self.with(|h| h.give(p, c)),
            None => {
                libc::munmap(p.cast(), pages(layout.size()));
            }
        }
    }

    unsafe fn realloc(&self, p: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let new = Layout::from_size_align_unchecked(new_size, layout.align());
        match (class_of(layout), class_of(new)) {
            (Some(a), Some(b)) if a == b => p,
            (Some(a), Some(b)) if b > a && self.with(|h| h.grow_top(p, a, b)) => p,
            (None, None) => {
                let q = libc::mremap(
                    p.cast(),
                    pages(layout.size()),
                    pages(new_size),
                    libc::MREMAP_MAYMOVE,
                );
                if q == libc::MAP_FAILED {
                    null_mut()
                } else {
                    q.cast()
                }
            }
            _ => {
                let q = self.alloc(new);
                if !q.is_null() {
                    std::ptr::copy_nonoverlapping(p, q, layout.size().min(new_size));
                    self.dealloc(p, layout);
                }
                q
            }
        }
    }
}

/// C's allocator for the static musl build. A block carries its size in a
/// 16-byte header (C's free does not pass it); alignment is 16, as malloc
/// promises on x86_64.
#[cfg(target_env = "musl")]
mod c_abi {
    use super::{GlobalAlloc, Layout, ALIGN, HEAP};
    use libc::{c_void, size_t};
    use std::ptr::null_mut;

    const HDR: usize = 16;

    fn enomem() -> *mut c_void {
        // SAFETY: errno is this thread's.
        unsafe { *libc::__errno_location() = libc::ENOMEM };
        null_mut()
    }

    unsafe fn get(n: size_t, zero: bool) -> *mut c_void {
        let Some(total) = n.checked_add(HDR).filter(|t| *t <= isize::MAX as usize) else {
            return enomem();
        };
        let l = Layout::from_size_align_unchecked(total, ALIGN);
        let p = if zero {
            HEAP.alloc_zeroed(l)
        } else {
            HEAP.alloc(l)
        };
        if p.is_null() {
            return enomem();
        }
        p.cast::<usize>().write(total);
        p.add(HDR).cast()
    }

    unsafe fn block(p: *mut c_void) -> (*mut u8, Layout) {
        let base = p.cast::<u8>().sub(HDR);
        let total = base.cast::<usize>().read();
        (base, Layout::from_size_align_unchecked(total, ALIGN))
    }

    /// SAFETY (for the four): C's contracts; a pointer passed in came from
    /// these functions.
    #[no_mangle]
    pub unsafe extern "C" fn malloc(n: size_t) -> *mut c_void {
        get(n, false)
    }

    #[no_mangle]
    pub unsafe extern "C" fn calloc(n: size_t, m: size_t) -> *mut c_void {
        match n.checked_mul(m) {
            Some(t) => get(t, true),
            None => enomem(),
        }
    }

    #[no_mangle]
    pub unsafe extern "C" fn free(p: *mut c_void) {
        if !p.is_null() {
            let (base, l) = block(p);
            HEAP.dealloc(base, l);
        }
    }

    #[no_mangle]
    pub unsafe extern "C" fn realloc(p: *mut c_void, n: size_t) -> *mut c_void {
        if p.is_null() {
            return get(n, false);
        }
        let Some(total) = n.checked_add(HDR).filter(|t| *t <= isize::MAX as usize) else {
            return enomem();
        };
        let (base, l) = block(p);
        let q = HEAP.realloc(base, l, total);
        if q.is_null() {
            return enomem();
        }
        q.cast::<usize>().write(total);
        q.add(HDR).cast()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lay(size: usize, align: usize) -> Layout {
        Layout::from_size_align(size, align).unwrap()
    }

    #[test]
    fn classes() {
        assert_eq!(class_of(lay(1, 1)), Some(0));
        assert_eq!(class_of(lay(16, 8)), Some(0));
        assert_eq!(class_of(lay(17, 8)), Some(1));
        assert_eq!(class_of(lay(4096, 8)), Some(8));
        assert_eq!(class_of(lay(65536, 16)), Some(12));
        assert_eq!(class_of(lay(65537, 1)), None);
        assert_eq!(class_of(lay(8, 32)), None);
    }

    #[test]
    fn reuse_realloc_and_large_blocks() {
        let a = Husk::new();
        unsafe {
            let l = lay(100, 8);
            let p = a.alloc(l);
            assert_eq!(p as usize % ALIGN, 0);
            let above = a.alloc(l);
            p.write_bytes(7, 100);
            a.dealloc(p, l);
            // The freed block of the same class comes back first.
            assert_eq!(a.alloc(lay(120, 8)), p);
            // Growing within the class keeps the block; beyond it copies
            // (a block below the newest one cannot grow in place).
            assert!(!above.is_null());
            assert_eq!(a.realloc(p, lay(120, 8), 128), p);
            p.write_bytes(9, 128);
            let q = a.realloc(p, lay(128, 8), 1000);
            assert_ne!(q, p);
            assert_eq!(*q.add(127), 9);
            // A large block is its own mapping, zeroed, and grows in place or moves.
            let big = lay(200_000, 8);
            let z = a.alloc_zeroed(big);
            assert_eq!(z as usize % PAGE, 0);
            assert_eq!(*z.add(199_999), 0);
            z.write_bytes(3, 200_000);
            let z2 = a.realloc(z, big, 1 << 20);
            assert_eq!(*z2.add(199_999), 3);
            a.dealloc(z2, lay(1 << 20, 8));
            // Shrinking a large block into a class copies it back.
            let w = a.alloc(big);
            w.write_bytes(5, 64);
            let s = a.realloc(w, big, 64);
            assert_eq!(*s.add(63), 5);
            a.dealloc(s, lay(64, 8));
            // The newest block grows in place and, freed, returns to the chunk.
            let t = a.alloc(lay(16, 8));
            t.write(1);
            let t2 = a.realloc(t, lay(16, 8), 4000);
            assert_eq!(t2, t);
            assert_eq!(*t2, 1);
            a.dealloc(t2, lay(4000, 8));
            assert_eq!(a.alloc(lay(64, 8)), t);
            // Many blocks across chunks stay distinct.
            let mut v = Vec::new();
            for i in 0..40 {
                let p = a.alloc(lay(65536, 16));
                assert!(!p.is_null());
                p.write(i as u8);
                v.push(p);
            }
            for (i, p) in v.iter().enumerate() {
                assert_eq!(**p, i as u8);
            }
        }
    }

    /// Random allocations, reallocations and frees, each block filled with
    /// its own byte: no block may overlap another or lose its contents.
    #[test]
    fn random_blocks_keep_their_contents() {
        let a = Husk::new();
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut rnd = |n: usize| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % n as u64) as usize
        };
        let mut live: Vec<(*mut u8, usize, u8)> = Vec::new();
        let check = |p: *mut u8, n: usize, b: u8| unsafe {
            assert!(
                (0..n).all(|i| *p.add(i) == b),
                "block {p:?} of {n} lost its {b}"
            );
        };
        for step in 0..20_000u32 {
            let tag = (step % 251) as u8;
            match rnd(4) {
                0 | 1 => {
                    let n = 1 + if rnd(10) == 0 {
                        rnd(200_000)
                    } else {
                        rnd(3000)
                    };
                    let p = unsafe { a.alloc(lay(n, 8)) };
                    assert!(!p.is_null());
                    unsafe { p.write_bytes(tag, n) };
                    live.push((p, n, tag));
                }
                2 if !live.is_empty() => {
                    let (p, n, b) = live.swap_remove(rnd(live.len()));
                    check(p, n, b);
                    let m = 1 + rnd(2 * n + 100);
                    let q = unsafe { a.realloc(p, lay(n, 8), m) };
                    check(q, n.min(m), b);
                    unsafe { q.write_bytes(tag, m) };
                    live.push((q, m, tag));
                }
                _ if !live.is_empty() => {
                    let (p, n, b) = live.swap_remove(rnd(live.len()));
                    check(p, n, b);
                    unsafe { a.dealloc(p, lay(n, 8)) };
                }
                _ => {}
            }
        }
        for (p, n, b) in live {
            check(p, n, b);
            unsafe { a.dealloc(p, lay(n, 8)) };
        }
    }
}
