//! Near-duplicate detection for repost clusters: a 64-bit SimHash over word shingles, compared
//! by Hamming distance. Finding the stored posts close to a new one is `reposts.rs`'s job.

/// Fingerprints this many bits apart or closer are reposts of one text (measured on the sample
/// ads: a changed number or an added header moves 3–5 bits; different ads are 20+ apart).
pub const MAX_DISTANCE: u32 = 6;
/// Words per shingle.
const SHINGLE: usize = 3;

/// The starting state of FNV-1a, 64 bits: the shingles' hash. It is stable (fingerprints are
/// stored, so the hash must never change between builds; the standard library's hasher makes no
/// such promise).
const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;

/// Feeds `bytes` to an FNV-1a state (start from [`FNV_OFFSET`]).
fn fnv1a(mut h: u64, bytes: &[u8]) -> u64 {
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// Per byte value, its eight bits spread over the eight bytes of a `u64` (bit `j` in byte `j`):
/// adding these counts, per bit of a fingerprint, how many shingle hashes set it, eight bits to
/// one addition.
const SPREAD: [u64; 256] = {
    let mut table = [0u64; 256];
    let mut value = 0;
    while value < 256 {
        let mut bit = 0;
        while bit < 8 {
            if value >> bit & 1 == 1 {
                table[value] |= 1 << (bit * 8);
            }
            bit += 1;
        }
        value += 1;
    }
    table
};

/// Counts per bit of the shingle hashes, kept in one-byte lanes ([`SPREAD`]) and moved to wider
/// counters before a lane can overflow.
struct BitCounts {
    /// Per byte of a hash, eight one-byte counters.
    lanes: [u64; 8],
    /// Hashes added to `lanes` since they were last moved to `ones`.
    pending: u32,
    /// Per bit, the hashes that set it.
    ones: [u32; 64],
    /// Hashes added in all.
    total: u32,
}

impl BitCounts {
    fn new() -> BitCounts {
        BitCounts {
            lanes: [0; 8],
            pending: 0,
            ones: [0; 64],
            total: 0,
        }
    }

    fn add(&mut self, h: u64) {
        for (byte, lane) in self.lanes.iter_mut().enumerate() {
            *lane += SPREAD[(h >> (byte * 8)) as usize & 0xff];
        }
        self.pending += 1;
        self.total += 1;
        if self.pending == u32::from(u8::MAX) {
            self.flush();
        }
    }

    fn flush(&mut self) {
        for (byte, lane) in self.lanes.iter_mut().enumerate() {
            for bit in 0..8 {
                self.ones[byte * 8 + bit] += (*lane >> (bit * 8)) as u32 & 0xff;
            }
            *lane = 0;
        }
        self.pending = 0;
    }

    /// Bit `i` set where more hashes set bit `i` than left it clear.
    fn majority(mut self) -> u64 {
        self.flush();
        self.ones.iter().enumerate().fold(0u64, |acc, (bit, ones)| {
            if 2 * ones > self.total {
                acc | 1 << bit
            } else {
                acc
            }
        })
    }
}

/// The SimHash of a text: lower-cased words of letters and digits, in overlapping shingles,
/// each hashed as its words joined by single spaces (hashed in place, not joined).
pub fn simhash(text: &str) -> u64 {
    let lower = text.to_lowercase();
    // ASCII text (most posts) is split a byte at a time; the same words as the Unicode test.
    let words: Vec<&[u8]> = if lower.is_ascii() {
        lower
            .as_bytes()
            .split(|b| !b.is_ascii_alphanumeric())
            .filter(|w| !w.is_empty())
            .collect()
    } else {
        lower
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
            .map(str::as_bytes)
            .collect()
    };
    if words.is_empty() {
        return 0;
    }
    let mut counts = BitCounts::new();
    for shingle in words.windows(SHINGLE.min(words.len())) {
        let mut h = fnv1a(FNV_OFFSET, shingle[0]);
        for w in &shingle[1..] {
            h = fnv1a(fnv1a(h, b" "), w);
        }
        counts.add(h);
    }
    counts.majority()
}

/// Bits in which two fingerprints differ.
pub fn distance(a: u64, b: u64) -> u32 {
    (a ^ b).count_ones()
}

#[cfg(test)]
mod tests {
    use super::*;

    const AD: &str = "Dibutuhkan segera 20 orang untuk kerja dodos dan pungut brondol di ladang sawit daerah Sibu. Gaji RM 3.500 sebulan, mess dan makan ditanggung. Paspor dibantu, tiket free, nanti potong gaji. Minat hubungi WA 0812-5738-2041";

    /// The first implementation, kept as the definition the faster one must agree with.
    fn reference(text: &str) -> u64 {
        let lower = text.to_lowercase();
        let words: Vec<&str> = lower
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
            .collect();
        if words.is_empty() {
            return 0;
        }
        let mut weights = [0i32; 64];
        for shingle in words.windows(SHINGLE.min(words.len())) {
            let mut h = fnv1a(FNV_OFFSET, shingle[0].as_bytes());
            for w in &shingle[1..] {
                h = fnv1a(fnv1a(h, b" "), w.as_bytes());
            }
            for (bit, w) in weights.iter_mut().enumerate() {
                *w += if h >> bit & 1 == 1 { 1 } else { -1 };
            }
        }
        weights.iter().enumerate().fold(
            0u64,
            |acc, (bit, w)| if *w > 0 { acc | 1 << bit } else { acc },
        )
    }

    #[test]
    fn agrees_with_the_reference_on_random_texts() {
        let mut rng = fastrand::Rng::with_seed(7);
        let pieces = [
            "kerja", "Sawit", "SIBU", "gaji", "RM", "3.500", "WA", "0812", "-", ", ", " ", "  ",
            "\n", "İ", "ß", "Σ", "ŞŞ", "工作", "🔥", "é", "_", "x",
        ];
        for len in [0, 1, 2, 3, 4, 10, 300, 700] {
            for _ in 0..200 {
                let text: String = (0..len)
                    .map(|_| {
                        let p = pieces[rng.usize(..pieces.len())];
                        if rng.bool() {
                            format!("{p} ")
                        } else {
                            p.to_string()
                        }
                    })
                    .collect();
                assert_eq!(simhash(&text), reference(&text), "{text:?}");
            }
        }
        // One shingle over and over: every set bit counts each time, past a byte's range.
        let same = "kerja ".repeat(1_000);
        assert_eq!(simhash(&same), reference(&same));
    }

    #[test]
    fn reposts_are_close_and_other_texts_far() {
        let repost = AD.replace("20 orang", "25 orang");
        assert!(
            distance(simhash(AD), simhash(&repost)) <= MAX_DISTANCE,
            "a changed number stays close"
        );
        let reheaded = format!("🔥 REPOST 🔥 {AD}");
        assert!(
            distance(simhash(AD), simhash(&reheaded)) <= MAX_DISTANCE,
            "an added header stays close"
        );
        assert_eq!(
            simhash(AD),
            simhash(&AD.to_uppercase()),
            "case does not matter"
        );
        let other = "Lowongan kasir toko bangunan di Pontianak, lulusan SMA, gaji sesuai UMK, kirim lamaran ke kantor kami di Jalan Gajah Mada";
        assert!(distance(simhash(AD), simhash(other)) > 16);
    }

    #[test]
    fn fingerprints_never_change_between_builds() {
        // Stored fingerprints are compared with new ones: these values, computed when the
        // fingerprint was introduced, must hold forever (or every stored one be recomputed).
        let ad = "Dicari 20 orang kerja sawit di Sibu, gaji RM 3.500. WA 0812-5738-2041";
        assert_eq!(simhash(ad), 0x47bf_119e_93df_7de3);
        assert_eq!(simhash("İSTANBUL Straße ŞŞ kerja"), 0xe989_d1b8_11fb_6fb1);
        assert_eq!(
            simhash("dua kata"),
            simhash("Dua, KATA!"),
            "fewer words than a shingle"
        );
    }
}
