//! How text becomes search terms: an Indonesian-aware analysis chain.
//!
//! Two chains share their first steps — split on anything that is not a letter or digit, drop
//! absurdly long tokens, lower-case, fold accents to ASCII, expand chat slang with the rule
//! pack's own table (`yg` → `yang`, `krj` → `kerja`, `ln` → `luar negeri`) — and then part:
//!
//! * **stemmed** (the `title` and `text` fields): Indonesian stop words removed, then the Snowball
//!   Indonesian stemmer (Tala's algorithm, as in Lucene's Indonesian analyser), so `bekerja`,
//!   `pekerja` and `pekerjaan` all find `kerja`;
//! * **exact** (the `exact` field): no stop words, no stemming, for exact phrases and for typo
//!   correction against words that really occur.
//!
//! Both chains run on documents and on queries alike, so a query is analysed the way the text was.

use std::collections::HashMap;
use std::sync::Arc;

use tantivy::Index;
use tantivy::tokenizer::{
    AsciiFoldingFilter, LowerCaser, RemoveLongFilter, SimpleTokenizer, StopWordFilter,
    TextAnalyzer, Token, TokenFilter, TokenStream, Tokenizer,
};

/// Tokenizer name of the stemmed chain.
pub const STEMMED: &str = "patroli_stemmed";
/// Tokenizer name of the exact chain.
pub const EXACT: &str = "patroli_exact";
/// Tokens longer than this (in bytes) are dropped: no word is that long, and URLs or base64 junk
/// would only bloat the term dictionary.
const LONGEST_TOKEN: usize = 40;

/// Function words too common in Indonesian and Malay posts to help a search. Deliberately short:
/// negations and prepositions that carry meaning in recruitment ads (`tanpa`, `tidak`, `bukan`,
/// `luar`) stay searchable.
pub const STOP_WORDS: &[&str] = &[
    "yang", "dan", "di", "ke", "dari", "ini", "itu", "untuk", "dengan", "pada", "adalah", "atau",
    "juga", "akan", "dalam", "oleh", "sebagai", "kami", "kita", "saya", "anda", "kamu", "mereka",
    "ada", "sudah", "telah", "bisa", "dapat", "lagi", "saja", "hanya", "para", "pun", "lah", "kah",
    "nya", "agar", "supaya", "karena", "kerana", "jika", "kalau", "bila", "maka", "namun",
    "tetapi", "tapi", "serta", "sangat", "yg", "dgn", "utk", "the", "and", "of", "to", "a", "an",
    "in", "for", "is", "are", "with",
];

/// What the analysis chains need from outside: the slang table of the rule pack in use.
#[derive(Debug, Clone, Default)]
pub struct Analysis {
    /// One lower-case token → its expansion (one or more words).
    pub slang: HashMap<String, String>,
}

impl Analysis {
    /// A fingerprint of everything that decides which terms a text becomes. An index built under
    /// another fingerprint holds other terms and must be rebuilt.
    pub fn fingerprint(&self) -> String {
        use sha2::{Digest, Sha256};
        let mut entries: Vec<(&String, &String)> = self.slang.iter().collect();
        entries.sort();
        let mut h = Sha256::new();
        for (k, v) in entries {
            h.update(format!("slang {k}={v}\n"));
        }
        h.update(format!(
            "stop {STOP_WORDS:?}\nlongest {LONGEST_TOKEN}\nstemmer tala\n"
        ));
        hex::encode(&h.finalize()[..8])
    }

    /// Registers both chains on `index`.
    pub fn register(&self, index: &Index) {
        let slang = Slang(Arc::new(
            self.slang
                .iter()
                .map(|(k, v)| {
                    let words: Vec<String> = v
                        .split_whitespace()
                        .map(|w| w.to_lowercase())
                        .filter(|w| !w.is_empty())
                        .collect();
                    (k.to_lowercase(), words)
                })
                .filter(|(_, words)| !words.is_empty())
                .collect(),
        ));
        let base = || {
            TextAnalyzer::builder(SimpleTokenizer::default())
                .filter(RemoveLongFilter::limit(LONGEST_TOKEN))
                .filter(LowerCaser)
                .filter(AsciiFoldingFilter)
                .filter(slang.clone())
        };
        index.tokenizers().register(
            STEMMED,
            base()
                .filter(StopWordFilter::remove(
                    STOP_WORDS.iter().map(|w| w.to_string()),
                ))
                .filter(IndonesianStemmer)
                .build(),
        );
        index.tokenizers().register(EXACT, base().build());
    }
}

/// Expands slang tokens. A one-word expansion replaces the token; a longer one puts every word at
/// the token's position (like synonyms), so `ln` finds `luar` and `negeri`.
#[derive(Clone)]
struct Slang(Arc<HashMap<String, Vec<String>>>);

impl TokenFilter for Slang {
    type Tokenizer<T: Tokenizer> = SlangFilter<T>;

    fn transform<T: Tokenizer>(self, inner: T) -> SlangFilter<T> {
        SlangFilter {
            table: self.0,
            inner,
        }
    }
}

#[derive(Clone)]
struct SlangFilter<T> {
    table: Arc<HashMap<String, Vec<String>>>,
    inner: T,
}

impl<T: Tokenizer> Tokenizer for SlangFilter<T> {
    type TokenStream<'a> = SlangStream<'a, T::TokenStream<'a>>;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> Self::TokenStream<'a> {
        SlangStream {
            table: &self.table,
            tail: self.inner.token_stream(text),
            pending: Vec::new(),
        }
    }
}

struct SlangStream<'a, S> {
    table: &'a HashMap<String, Vec<String>>,
    tail: S,
    /// Words of the current expansion still to emit, last first.
    pending: Vec<String>,
}

impl<S: TokenStream> TokenStream for SlangStream<'_, S> {
    fn advance(&mut self) -> bool {
        if let Some(word) = self.pending.pop() {
            self.tail.token_mut().text = word;
            return true;
        }
        if !self.tail.advance() {
            return false;
        }
        if let Some(words) = self.table.get(&self.tail.token().text) {
            self.pending = words.iter().skip(1).rev().cloned().collect();
            self.tail.token_mut().text.clone_from(&words[0]);
        }
        true
    }

    fn token(&self) -> &Token {
        self.tail.token()
    }

    fn token_mut(&mut self) -> &mut Token {
        self.tail.token_mut()
    }
}

/// The Snowball Indonesian stemmer (from the `tantivy-stemmers` crate, whose token filter is
/// built for an older tantivy; this adapts its algorithm). Expects lower-case tokens.
#[derive(Clone, Copy)]
struct IndonesianStemmer;

impl TokenFilter for IndonesianStemmer {
    type Tokenizer<T: Tokenizer> = StemmerFilter<T>;

    fn transform<T: Tokenizer>(self, inner: T) -> StemmerFilter<T> {
        StemmerFilter { inner }
    }
}

#[derive(Clone)]
struct StemmerFilter<T> {
    inner: T,
}

impl<T: Tokenizer> Tokenizer for StemmerFilter<T> {
    type TokenStream<'a> = StemmerStream<T::TokenStream<'a>>;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> Self::TokenStream<'a> {
        StemmerStream {
            tail: self.inner.token_stream(text),
        }
    }
}

struct StemmerStream<S> {
    tail: S,
}

impl<S: TokenStream> TokenStream for StemmerStream<S> {
    fn advance(&mut self) -> bool {
        if !self.tail.advance() {
            return false;
        }
        let token = self.tail.token_mut();
        if let std::borrow::Cow::Owned(stem) = stem(&token.text) {
            token.text = stem;
        }
        true
    }

    fn token(&self) -> &Token {
        self.tail.token()
    }

    fn token_mut(&mut self) -> &mut Token {
        self.tail.token_mut()
    }
}

/// The Indonesian stem of one lower-case word.
pub fn stem(word: &str) -> std::borrow::Cow<'_, str> {
    tantivy_stemmers::algorithms::indonesian_tala(word)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Families of Indonesian words that must share one stem: verbs with meN-, ber-, di-, ter-,
    /// nouns with peN-/per- … -an and ke- … -an, particles and possessives.
    const FAMILIES: &[&[&str]] = &[
        &[
            "kerja",
            "bekerja",
            "pekerja",
            "pekerjaan",
            "dipekerjakan",
            "kerjanya",
        ],
        &[
            "berangkat",
            "keberangkatan",
            "diberangkatkan",
            "memberangkatkan",
        ],
        &["gaji", "gajinya", "digaji", "menggaji", "penggajian"],
        &["janji", "dijanjikan", "menjanjikan", "perjanjian"],
        &["urus", "diurus", "mengurus", "pengurusan", "urusan"],
        &["daftar", "mendaftar", "pendaftaran", "didaftarkan"],
        &["jual", "dijual", "menjual", "penjualan"],
        &["lamar", "melamar", "lamaran", "dilamar", "pelamar"],
        &["bantu", "dibantu", "membantu", "bantuan"],
        &["pinjam", "meminjam", "pinjaman", "dipinjamkan"],
        &["sapu", "menyapu"],
        &["kirim", "dikirim", "kirimkan"],
    ];

    #[test]
    fn indonesian_word_families_share_a_stem() {
        for family in FAMILIES {
            let stems: Vec<String> = family.iter().map(|w| stem(w).into_owned()).collect();
            assert!(
                stems.iter().all(|s| s == &stems[0]),
                "{family:?} stem to {stems:?}"
            );
        }
    }

    /// Tala's algorithm is a light stemmer without a root dictionary and errs in known ways, as
    /// in Lucene and Snowball: it does not restore the consonant a nasal prefix replaced
    /// (`mengirim`, `menipu`, `menawarkan` lose their k, t, t), a word starting with `r` after
    /// `per-` loses it, and a final `-i` goes even when it is part of the root. Those forms are
    /// still found through the unstemmed `exact` field. Pinned here so a change of stemmer shows.
    #[test]
    fn known_limits_of_the_algorithm() {
        for (word, stem_of_it) in [
            ("mengirim", "irim"),
            ("menipu", "ipu"),
            ("menawarkan", "awar"),
            ("perekrutan", "ekrut"),
            ("negeri", "neger"),
        ] {
            assert_eq!(stem(word), stem_of_it);
        }
    }

    #[test]
    fn different_words_keep_different_stems() {
        let roots = ["kerja", "gaji", "kirim", "tipu", "jual", "sawit", "lamar"];
        let stems: std::collections::BTreeSet<String> =
            roots.iter().map(|w| stem(w).into_owned()).collect();
        assert_eq!(stems.len(), roots.len(), "{stems:?}");
        // Place names and loan words survive untouched.
        for w in ["malaysia", "sarawak", "kamboja", "paspor", "visa"] {
            assert_eq!(stem(w), w);
        }
    }

    fn terms(index: &Index, tokenizer: &str, text: &str) -> Vec<(String, usize)> {
        let mut analyzer = index.tokenizers().get(tokenizer).unwrap();
        let mut stream = analyzer.token_stream(text);
        let mut out = Vec::new();
        while stream.advance() {
            out.push((stream.token().text.clone(), stream.token().position));
        }
        out
    }

    #[test]
    fn chains_fold_expand_and_stem() {
        let index = Index::create_in_ram(tantivy::schema::Schema::builder().build());
        let analysis = Analysis {
            slang: HashMap::from([
                ("krj".to_string(), "kerja".to_string()),
                ("ln".to_string(), "luar negeri".to_string()),
            ]),
        };
        analysis.register(&index);
        let stemmed = terms(
            &index,
            STEMMED,
            "Dicari PEKERJA yg mau krj di LN, gajinya besar",
        );
        let words: Vec<&str> = stemmed.iter().map(|(t, _)| t.as_str()).collect();
        assert_eq!(
            words,
            [
                "cari", "kerja", "mau", "kerja", "luar", "neger", "gaji", "besar"
            ]
        );
        // Both words of an expansion sit at the slang token's position.
        let luar = stemmed.iter().find(|(t, _)| t == "luar").unwrap().1;
        let negeri = stemmed.iter().find(|(t, _)| t == "neger").unwrap().1;
        assert_eq!(luar, negeri);
        let exact = terms(&index, EXACT, "Dicari PEKERJA yg mau krj, Kuching");
        let words: Vec<&str> = exact.iter().map(|(t, _)| t.as_str()).collect();
        assert_eq!(
            words,
            ["dicari", "pekerja", "yg", "mau", "kerja", "kuching"]
        );
    }

    #[test]
    fn fingerprint_follows_the_slang_table() {
        let a = Analysis::default();
        let b = Analysis {
            slang: HashMap::from([("krj".to_string(), "kerja".to_string())]),
        };
        assert_eq!(a.fingerprint(), Analysis::default().fingerprint());
        assert_ne!(a.fingerprint(), b.fingerprint());
    }
}
