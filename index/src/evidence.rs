//! Evidence bundles: a ZIP with the raw snapshots of one or more posts, a manifest listing the
//! SHA-256 of every file with capture times, sources, legal bases, rule-set versions and the
//! indicators that fired, and a readable report; and their verification later.

use std::io::{Cursor, Read, Write};

use chrono::Utc;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use zip::write::SimpleFileOptions;

use crate::error::StoreError;
use crate::store::Store;

/// Name of the manifest inside a bundle.
pub const MANIFEST: &str = "manifest.json";

#[derive(Debug, Serialize, Deserialize)]
pub struct Manifest {
    pub generated_at: String,
    pub generated_by: String,
    pub posts: Vec<PostEntry>,
    /// Every other file of the bundle with its SHA-256.
    pub files: Vec<FileEntry>,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct PostEntry {
    pub id: i64,
    pub source_id: String,
    pub legal_basis: String,
    pub url: String,
    pub title: Option<String>,
    pub first_seen: String,
    pub last_seen: String,
    pub ruleset_version: Option<String>,
    pub score: Option<f64>,
    pub level: Option<String>,
    /// `id (weight): "matched text", …`
    pub indicators: Vec<String>,
    pub snapshots: Vec<SnapshotEntry>,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct SnapshotEntry {
    pub file: String,
    pub sha256: String,
    pub fetched_at: String,
    pub final_url: String,
    pub status: u16,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct FileEntry {
    pub name: String,
    pub sha256: String,
    pub bytes: u64,
}

fn sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Builds the bundle for `post_ids` (unknown ids are skipped).
pub async fn bundle(
    store: &Store,
    post_ids: &[i64],
    generated_by: &str,
) -> Result<Vec<u8>, StoreError> {
    let mut files: Vec<(String, Vec<u8>)> = Vec::new();
    let mut posts = Vec::new();
    let mut report = String::from(
        "<!doctype html><html lang=\"id\"><meta charset=\"utf-8\"><title>Laporan bukti Patroli</title><body><h1>Laporan bukti / Evidence report</h1>",
    );
    for &id in post_ids {
        let Some(post) = store.post(id).await? else {
            continue;
        };
        let mut snapshots = Vec::new();
        for info in store.snapshots_of(id).await? {
            let body = store.snapshot_body(info.id).await?;
            let file = format!("snapshots/{}.body", info.id);
            if !files.iter().any(|(n, _)| *n == file) {
                files.push((file.clone(), body));
            }
            snapshots.push(SnapshotEntry {
                file,
                sha256: info.sha256,
                fetched_at: info.fetched_at.to_rfc3339(),
                final_url: info.final_url,
                status: info.status,
            });
        }
        files.push((
            format!("posts/{id}.txt"),
            post.classified_text().into_bytes(),
        ));
        let v = post.verdict.as_ref();
        let indicators = v
            .map(|v| {
                v.indicators
                    .iter()
                    .map(|i| {
                        let quotes: Vec<String> =
                            i.matches.iter().map(|m| format!("{:?}", m.text)).collect();
                        format!("{} ({:+.2}): {}", i.id, i.weight, quotes.join(", "))
                    })
                    .collect()
            })
            .unwrap_or_default();
        let entry = PostEntry {
            id,
            legal_basis: store
                .legal_basis(&post.source_id)
                .await?
                .unwrap_or_default(),
            source_id: post.source_id.clone(),
            url: post.url.clone(),
            title: post.title.clone(),
            first_seen: post.first_seen.to_rfc3339(),
            last_seen: post.last_seen.to_rfc3339(),
            ruleset_version: v.map(|v| v.ruleset_version.to_string()),
            score: v.map(|v| v.score),
            level: v.map(|v| v.level.as_str().to_string()),
            indicators,
            snapshots,
        };
        report.push_str(&format!(
            "<h2>#{} {}</h2><p>{} · {}</p><p>Dasar hukum: {}</p><p>Skor {} · tingkat {} · aturan {}</p><ul>{}</ul><pre>{}</pre><ul>{}</ul>",
            id,
            html_escape(entry.title.as_deref().unwrap_or("")),
            html_escape(&entry.source_id),
            html_escape(&entry.url),
            html_escape(&entry.legal_basis),
            entry.score.map(|s| format!("{s:.2}")).unwrap_or_default(),
            entry.level.clone().unwrap_or_default(),
            html_escape(entry.ruleset_version.as_deref().unwrap_or("")),
            entry.indicators.iter().map(|i| format!("<li>{}</li>", html_escape(i))).collect::<String>(),
            html_escape(&post.classified_text()),
            entry
                .snapshots
                .iter()
                .map(|s| format!("<li>{} · {} · SHA-256 {}</li>", s.fetched_at, html_escape(&s.final_url), s.sha256))
                .collect::<String>(),
        ));
        posts.push(entry);
    }
    report.push_str("</body></html>");
    files.push(("report.html".into(), report.into_bytes()));
    let manifest = Manifest {
        generated_at: Utc::now().to_rfc3339(),
        generated_by: generated_by.to_string(),
        posts,
        files: files
            .iter()
            .map(|(name, bytes)| FileEntry {
                name: name.clone(),
                sha256: sha256(bytes),
                bytes: bytes.len() as u64,
            })
            .collect(),
    };
    let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let options = SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    let write_err =
        |e: &dyn std::fmt::Display| StoreError::Corrupt(format!("cannot write the bundle: {e}"));
    zip.start_file(MANIFEST, options)
        .map_err(|e| write_err(&e))?;
    zip.write_all(&serde_json::to_vec_pretty(&manifest).expect("manifest serialises"))
        .map_err(|e| write_err(&e))?;
    for (name, bytes) in &files {
        zip.start_file(name.as_str(), options)
            .map_err(|e| write_err(&e))?;
        zip.write_all(bytes).map_err(|e| write_err(&e))?;
    }
    Ok(zip.finish().map_err(|e| write_err(&e))?.into_inner())
}

/// What checking a bundle found; empty lists mean it is intact.
#[derive(Debug, Default, Serialize)]
pub struct Verification {
    pub files_checked: usize,
    /// Listed files whose bytes no longer match their SHA-256.
    pub mismatched: Vec<String>,
    /// Listed files that are not in the ZIP.
    pub missing: Vec<String>,
    /// Files in the ZIP that the manifest does not list.
    pub unlisted: Vec<String>,
    /// Snapshot hashes in the post entries that differ from the file list.
    pub inconsistent: Vec<String>,
}

impl Verification {
    pub fn intact(&self) -> bool {
        self.mismatched.is_empty()
            && self.missing.is_empty()
            && self.unlisted.is_empty()
            && self.inconsistent.is_empty()
    }
}

/// Checks a bundle against its own manifest. Errors only when it is not a readable bundle.
pub fn verify(bytes: &[u8]) -> Result<Verification, String> {
    let mut zip =
        zip::ZipArchive::new(Cursor::new(bytes)).map_err(|e| format!("not a ZIP file: {e}"))?;
    let mut manifest = String::new();
    zip.by_name(MANIFEST)
        .map_err(|_| format!("no {MANIFEST} in the ZIP: not a patroli evidence bundle"))?
        .read_to_string(&mut manifest)
        .map_err(|e| format!("{MANIFEST} cannot be read: {e}"))?;
    let manifest: Manifest =
        serde_json::from_str(&manifest).map_err(|e| format!("{MANIFEST} is not valid: {e}"))?;
    let mut v = Verification::default();
    for f in &manifest.files {
        let mut bytes = Vec::new();
        match zip.by_name(&f.name) {
            Ok(mut entry) => {
                entry
                    .read_to_end(&mut bytes)
                    .map_err(|e| format!("{} cannot be read: {e}", f.name))?;
                v.files_checked += 1;
                if sha256(&bytes) != f.sha256 {
                    v.mismatched.push(f.name.clone());
                }
            }
            Err(_) => v.missing.push(f.name.clone()),
        }
    }
    for name in zip.file_names() {
        if name != MANIFEST && !manifest.files.iter().any(|f| f.name == name) {
            v.unlisted.push(name.to_string());
        }
    }
    for p in &manifest.posts {
        for s in &p.snapshots {
            if !manifest
                .files
                .iter()
                .any(|f| f.name == s.file && f.sha256 == s.sha256)
            {
                v.inconsistent.push(format!("post {}: {}", p.id, s.file));
            }
        }
    }
    v.unlisted.sort();
    Ok(v)
}
