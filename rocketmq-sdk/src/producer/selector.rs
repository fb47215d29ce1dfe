//! Choosing a queue for ordered sends: `MessageQueueSelector` and the built-in selectors,
//! hash-compatible with the Java client so a Rust and a Java producer put the same order
//! id on the same queue.

use crate::protocol::message::hash::java_string_hash;
use crate::protocol::message::{Message, MessageQueue};

/// Java's `Object.hashCode()` for the argument types an order id usually has.
///
/// `SelectMessageQueueByHash` hashes its argument with `hashCode()`; implementing this
/// trait with the Java semantics of the matching boxed type keeps queue choice identical.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be a shard key",
    label = "no Java `hashCode()` for this type",
    note = "shard keys hash as Java does: `String`, `str`, `i16`, `i32`, `i64`, `u32`, `u64`, `bool` (or implement `JavaHashCode`)"
)]
pub trait JavaHashCode {
    /// The value Java's `hashCode()` returns for the equivalent Java object.
    fn java_hash_code(&self) -> i32;
}

impl JavaHashCode for str {
    /// `String.hashCode()` over UTF-16 code units.
    fn java_hash_code(&self) -> i32 {
        java_string_hash(self)
    }
}

impl JavaHashCode for String {
    fn java_hash_code(&self) -> i32 {
        java_string_hash(self)
    }
}

impl JavaHashCode for i32 {
    /// `Integer.hashCode()`: the value itself.
    fn java_hash_code(&self) -> i32 {
        *self
    }
}

impl JavaHashCode for i64 {
    /// `Long.hashCode()`: `(int)(value ^ (value >>> 32))`.
    fn java_hash_code(&self) -> i32 {
        let v = *self as u64;
        (v ^ (v >> 32)) as i32
    }
}

impl JavaHashCode for u64 {
    /// As a Java `long` with the same bits.
    fn java_hash_code(&self) -> i32 {
        (*self as i64).java_hash_code()
    }
}

impl JavaHashCode for u32 {
    /// As a Java `long` holding the value (Java has no unsigned int).
    fn java_hash_code(&self) -> i32 {
        (*self as i64).java_hash_code()
    }
}

impl JavaHashCode for i16 {
    /// `Short.hashCode()`: the value itself.
    fn java_hash_code(&self) -> i32 {
        *self as i32
    }
}

impl JavaHashCode for bool {
    /// `Boolean.hashCode()`: 1231 or 1237.
    fn java_hash_code(&self) -> i32 {
        if *self { 1231 } else { 1237 }
    }
}

impl<T: JavaHashCode + ?Sized> JavaHashCode for &T {
    fn java_hash_code(&self) -> i32 {
        (**self).java_hash_code()
    }
}

/// Picks the queue for a message from the topic's writable queues.
///
/// `queues` is never empty; the returned index is taken modulo its length.
pub trait MessageQueueSelector<A: ?Sized>: Send + Sync {
    /// The index in `queues` of the queue to send `message` to.
    fn select(&self, queues: &[MessageQueue], message: &Message, arg: &A) -> usize;
}

/// `SelectMessageQueueByHash`: `abs(arg.hashCode() % queues)`, as the Java client does.
#[derive(Debug, Clone, Copy, Default)]
pub struct SelectByHash;

impl<A: JavaHashCode + ?Sized> MessageQueueSelector<A> for SelectByHash {
    fn select(&self, queues: &[MessageQueue], _message: &Message, arg: &A) -> usize {
        java_hash_index(arg.java_hash_code(), queues.len())
    }
}

/// The Java selector's arithmetic: remainder first (keeping Java's sign), then `abs`.
pub fn java_hash_index(hash: i32, len: usize) -> usize {
    if len == 0 {
        return 0;
    }
    (hash.wrapping_rem(len as i32)).unsigned_abs() as usize
}

/// `SelectMessageQueueByRandom`.
#[derive(Debug, Clone, Copy, Default)]
pub struct SelectRandom;

impl<A: ?Sized> MessageQueueSelector<A> for SelectRandom {
    fn select(&self, queues: &[MessageQueue], _message: &Message, _arg: &A) -> usize {
        (fastrand_u64() % queues.len().max(1) as u64) as usize
    }
}

/// Any `Fn(&[MessageQueue], &Message, &A) -> usize` is a selector.
impl<A: ?Sized, F> MessageQueueSelector<A> for F
where
    F: Fn(&[MessageQueue], &Message, &A) -> usize + Send + Sync,
{
    fn select(&self, queues: &[MessageQueue], message: &Message, arg: &A) -> usize {
        self(queues, message, arg)
    }
}

// A small xorshift seeded from the std hasher's random keys: enough for load spreading,
// and no extra dependency.
fn fastrand_u64() -> u64 {
    use std::cell::Cell;
    use std::hash::{BuildHasher, Hasher};
    thread_local! {
        static STATE: Cell<u64> = Cell::new({
            let mut h = std::collections::hash_map::RandomState::new().build_hasher();
            h.write_u64(0x9E37_79B9_7F4A_7C15);
            h.finish() | 1
        });
    }
    STATE.with(|s| {
        let mut x = s.get();
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        s.set(x);
        x
    })
}

pub(crate) fn random_index(len: usize) -> usize {
    (fastrand_u64() % len.max(1) as u64) as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    fn queues(n: i32) -> Vec<MessageQueue> {
        (0..n).map(|i| MessageQueue::new("T", "b", i)).collect()
    }

    #[test]
    fn java_hash_selection_vectors() {
        // Values computed with Java semantics: "order-1".hashCode() = -1207111310 → % 8 = -6 → 6.
        let m = Message::new("T", "x");
        let qs = queues(8);
        assert_eq!("order-1".java_hash_code(), -1_207_111_310);
        assert_eq!(SelectByHash.select(&qs, &m, "order-1"), 6);
        let v: i64 = 123_456_789_012;
        assert_eq!(v.java_hash_code(), ((v as u64) ^ ((v as u64) >> 32)) as i32);
        assert_eq!(SelectByHash.select(&qs, &m, &(-7i32)), 7);
        assert_eq!(SelectByHash.select(&qs, &m, &i32::MIN), 0);
        assert_eq!(true.java_hash_code(), 1231);
    }

    #[test]
    fn closures_and_random_are_selectors() {
        let m = Message::new("T", "x");
        let qs = queues(4);
        let pick_last = |q: &[MessageQueue], _: &Message, _: &()| q.len() - 1;
        assert_eq!(pick_last.select(&qs, &m, &()), 3);
        for _ in 0..100 {
            assert!(SelectRandom.select(&qs, &m, &()) < 4);
        }
    }
}
