//! Repost candidates, in memory: every stored post's SimHash filed under four bands of 16 bits,
//! so a new post's near-duplicates are found without a query. Two fingerprints up to 3 bits
//! apart always share a band; 4, 5 and 6 bits apart usually do (about 77%, 63% and 51% of random
//! flips), and a repost missed once is usually caught through the next one.
//!
//! Why not narrower bands, which guarantee more: a band of b bits puts about n / 2^b unrelated
//! posts in each bucket, so every new post is compared with 6 · n / 2^11 others under six 11-bit
//! bands — 3,000 at a million posts. Four 16-bit bands keep it at about 60 at a million.
//!
//! Why in memory: as a table, a post's four band rows landed on random leaves of a B-tree of
//! four rows a post, and finding and writing them was three quarters of the time spent storing
//! a page (measured at 200,000 posts: 11,100 posts/s with the table, 40,800 without any repost
//! lookup). The store keeps the fingerprints as an append-only log (`fingerprints`), which the
//! one writer at a time replays into this index: all of it once, then what other writers
//! logged since (see `Store::save_pages`). About 80 bytes a post: 77 MB at a million posts
//! (counted from the capacities after filing a million random fingerprints); the replay makes
//! the first page a process stores wait 2.0 s at a million posts (measured on the benchmark's
//! store; the pages after it took 1.5–5 ms).

use std::collections::HashMap;

use crate::simhash;

/// Bits per band.
const BAND_BITS: u32 = 16;
/// Bands per fingerprint.
const BANDS: usize = (u64::BITS / BAND_BITS) as usize;

/// The bucket of each band of a fingerprint: band `i`'s value, offset into band `i`'s buckets.
fn buckets_of(h: u64) -> [usize; BANDS] {
    std::array::from_fn(|i| {
        let value = (h >> (i as u32 * BAND_BITS)) & ((1 << BAND_BITS) - 1);
        (i << BAND_BITS) | value as usize
    })
}

/// The fingerprints of stored posts, by band.
#[derive(Default)]
pub(crate) struct Reposts {
    /// Slots in `posts`, by bucket ([`buckets_of`]); empty until the first post is added.
    buckets: Vec<Vec<u32>>,
    /// Post id and current fingerprint, per slot.
    posts: Vec<(i64, u64)>,
    slot_of: HashMap<i64, u32>,
    /// The highest `fingerprints.seq` this index holds everything up to, when it matches the
    /// committed log; `None` while a transaction that changes it is under way, and after one
    /// that failed: the index is then rebuilt from the log before it is used again.
    pub(crate) synced: Option<i64>,
}

impl Reposts {
    /// Files `id` under fingerprint `h`, replacing the fingerprint it had (its text changed).
    pub(crate) fn insert(&mut self, id: i64, h: u64) {
        if self.buckets.is_empty() {
            self.buckets = vec![Vec::new(); BANDS << BAND_BITS];
        }
        let slot = match self.slot_of.get(&id) {
            Some(&slot) => {
                let old = self.posts[slot as usize].1;
                for b in buckets_of(old) {
                    self.buckets[b].retain(|s| *s != slot);
                }
                self.posts[slot as usize].1 = h;
                slot
            }
            None => {
                let slot = u32::try_from(self.posts.len())
                    .expect("fewer than 4 billion posts are held in memory");
                self.posts.push((id, h));
                self.slot_of.insert(id, slot);
                slot
            }
        };
        for b in buckets_of(h) {
            self.buckets[b].push(slot);
        }
    }

    /// The posts other than `id` whose fingerprints are within [`simhash::MAX_DISTANCE`] of
    /// `h` and share a band with it, sorted.
    pub(crate) fn near(&self, id: i64, h: u64) -> Vec<i64> {
        if self.buckets.is_empty() {
            return Vec::new();
        }
        let mut near: Vec<i64> = buckets_of(h)
            .iter()
            .flat_map(|b| &self.buckets[*b])
            .map(|slot| self.posts[*slot as usize])
            .filter(|(other, o)| *other != id && simhash::distance(*o, h) <= simhash::MAX_DISTANCE)
            .map(|(other, _)| other)
            .collect();
        near.sort_unstable();
        near.dedup();
        near
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_cover_the_fingerprint() {
        let h = 0x1234_5678_9abc_def0u64;
        let back = buckets_of(h).iter().enumerate().fold(0u64, |acc, (i, b)| {
            assert_eq!(b >> BAND_BITS, i, "each band has its own buckets");
            acc | ((b & ((1 << BAND_BITS) - 1)) as u64) << (i as u32 * BAND_BITS)
        });
        assert_eq!(back, h);
    }

    #[test]
    fn finds_close_fingerprints_and_follows_changes() {
        let mut r = Reposts::default();
        let h = 0x0f0f_1234_5678_9abcu64;
        r.insert(1, h);
        r.insert(2, h ^ 0b111); // 3 bits apart
        r.insert(3, !h); // far
        // 4 bits apart, one in every band: no band in common, so missed (the limit in the doc above).
        r.insert(4, h ^ (1 << 3) ^ (1 << 20) ^ (1 << 40) ^ (1 << 60));
        assert_eq!(r.near(1, h), vec![2]);
        assert_eq!(r.near(99, h), vec![1, 2]);
        assert!(r.near(99, h ^ 0xffff_0000_ffff).is_empty());
        // Post 2's text changed: it is found under its new fingerprint only.
        r.insert(2, !h);
        assert_eq!(r.near(99, h), vec![1]);
        assert_eq!(r.near(99, !h ^ 1), vec![2, 3]);
        assert_eq!(r.posts.len(), 4, "a changed post keeps its slot");
    }
}
