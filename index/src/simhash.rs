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

/// The SimHash of a text: lower-cased words of letters and digits, in overlapping shingles,
/// each hashed as its words joined by single spaces (hashed in place, not joined).
pub fn simhash(text: &str) -> u64 {
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

/// Bits in which two fingerprints differ.
pub fn distance(a: u64, b: u64) -> u32 {
    (a ^ b).count_ones()
}

#[cfg(test)]
mod tests {
    use super::*;

    const AD: &str = "Dibutuhkan segera 20 orang untuk kerja dodos dan pungut brondol di ladang sawit daerah Sibu. Gaji RM 3.500 sebulan, mess dan makan ditanggung. Paspor dibantu, tiket free, nanti potong gaji. Minat hubungi WA 0812-5738-2041";

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
