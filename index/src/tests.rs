//! Store and index tests against a temporary SQLite store.

use chrono::{TimeZone, Utc};
use patroli_crawler::{CollectedPost, Snapshot};

use crate::{Analysis, PostOutcome, SearchError, SearchIndex, SearchRequest, Store, StoreError};

fn snapshot(body: &str) -> Snapshot {
    use sha2::Digest;
    Snapshot {
        requested_url: "http://site.test/a".into(),
        final_url: "http://site.test/a".into(),
        status: 200,
        headers: vec![("content-type".into(), "text/html".into())],
        body: body.as_bytes().to_vec(),
        sha256: hex::encode(sha2::Sha256::digest(body.as_bytes())),
        fetched_at: Utc.with_ymd_and_hms(2026, 11, 2, 3, 0, 0).unwrap(),
    }
}

fn post(key: &str, text: &str) -> CollectedPost {
    CollectedPost {
        source_id: "s".into(),
        url: format!("http://site.test/{key}"),
        external_id: Some(key.into()),
        title: Some("Loker".into()),
        text: text.into(),
        author: None,
        location: None,
        published: None,
    }
}

use crate::testing::store;

/// Stores `posts` as one page whose snapshot holds `body`, each with a verdict that flags
/// nothing, and returns their ids.
async fn save_classified(store: &Store, body: &str, posts: &[CollectedPost]) -> Vec<i64> {
    let saved = store.save_page(&snapshot(body), posts).await.unwrap();
    for (id, _) in &saved {
        store.save_verdict(*id, &verdict_with(&[])).await.unwrap();
    }
    saved.into_iter().map(|(id, _)| id).collect()
}

#[tokio::test]
async fn a_post_seen_again_is_a_sighting_not_a_new_post() {
    let (_d, store) = store().await;
    let first = store
        .save_page(
            &snapshot("<p>1</p>"),
            &[post("a", "kerja sawit"), post("b", "lain")],
        )
        .await
        .unwrap();
    assert_eq!(
        first.iter().map(|r| r.1).collect::<Vec<_>>(),
        [PostOutcome::New, PostOutcome::New]
    );
    let again = store
        .save_page(&snapshot("<p>2</p>"), &[post("a", "kerja sawit")])
        .await
        .unwrap();
    assert_eq!(again, [(first[0].0, PostOutcome::Seen)]);
    let changed = store
        .save_page(
            &snapshot("<p>3</p>"),
            &[post("a", "kerja sawit, gaji naik")],
        )
        .await
        .unwrap();
    assert_eq!(changed, [(first[0].0, PostOutcome::Changed)]);
    assert_eq!(store.count_posts().await.unwrap(), 2);
    assert_eq!(
        store.post(first[0].0).await.unwrap().unwrap().text,
        "kerja sawit, gaji naik"
    );
    // Every sighting keeps its own snapshot as evidence.
    let snaps = store.snapshots_of(first[0].0).await.unwrap();
    assert_eq!(snaps.len(), 3);
    let body = store.snapshot_body(snaps[0].id).await.unwrap();
    assert!(body.starts_with(b"<p>"));
}

#[tokio::test]
async fn snapshots_and_the_audit_log_cannot_be_changed() {
    let (_d, store) = store().await;
    store
        .save_page(&snapshot("bukti"), &[post("a", "x")])
        .await
        .unwrap();
    let tamper = store.execute_raw("UPDATE snapshots SET sha256 = 'x'").await;
    assert!(tamper.unwrap_err().to_string().contains("evidence"));
    store
        .audit("budi", "search", None, Some("q=sawit"), Some("127.0.0.1"))
        .await
        .unwrap();
    for sql in ["UPDATE audit_log SET actor = 'x'", "DELETE FROM audit_log"] {
        let e = store.execute_raw(sql).await.unwrap_err();
        assert!(e.to_string().contains("append-only"), "{e}");
    }
    let entries = store.audit_entries(10).await.unwrap();
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].actor, "budi");
}

#[tokio::test]
async fn sessions_expire_and_users_are_unique() {
    let (_d, store) = store().await;
    let id = store.add_user("budi", "officer", "hash").await.unwrap();
    assert!(matches!(
        store.add_user("budi", "admin", "h").await,
        Err(StoreError::Conflict(_))
    ));
    store
        .create_session("tok-live", id, "csrf", chrono::Duration::hours(1))
        .await
        .unwrap();
    store
        .create_session("tok-old", id, "csrf", chrono::Duration::seconds(-1))
        .await
        .unwrap();
    assert_eq!(
        store
            .session("tok-live")
            .await
            .unwrap()
            .unwrap()
            .user
            .username,
        "budi"
    );
    assert!(store.session("tok-old").await.unwrap().is_none());
    assert!(store.session("nope").await.unwrap().is_none());
    store.delete_session("tok-live").await.unwrap();
    assert!(store.session("tok-live").await.unwrap().is_none());
}

#[tokio::test]
async fn store_refuses_an_unwritable_data_dir_with_advice() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("not-a-dir");
    std::fs::write(&file, "x").unwrap();
    let e = Store::open(&file).await.err().unwrap();
    assert!(e.to_string().contains("--data-dir"), "{e}");
}

#[tokio::test]
async fn index_finds_highlights_rebuilds_and_refuses_bad_queries() {
    let (dir, store) = store().await;
    let saved = save_classified(
        &store,
        "x",
        &[
            post("a", "Dicari pekerja kebun sawit di Sibu, paspor dibantu"),
            post("b", "Lowongan kasir toko di Pontianak"),
        ],
    )
    .await;
    let index = SearchIndex::open(&dir.path().join("index"), &Analysis::default()).unwrap();
    assert_eq!(index.rebuild(&store).await.unwrap(), 2);
    assert_eq!(index.rebuild(&store).await.unwrap(), 2);
    assert_eq!(index.len(), 2);
    let req = |q: &str| SearchRequest {
        query: q.into(),
        limit: 10,
        ..Default::default()
    };
    let r = index.search(&req("sawit")).unwrap();
    assert_eq!(r.total, 1);
    assert_eq!(r.hits[0].id, saved[0] as u64);
    let s = &r.hits[0].snippet;
    assert_eq!(&s.text[s.highlights[0].clone()], "sawit");
    assert_eq!(index.search(&req("SAWIT sibu")).unwrap().total, 1);
    assert_eq!(index.search(&req("sawit OR kasir")).unwrap().total, 2);
    assert_eq!(index.search(&req("\"kebun sawit\"")).unwrap().total, 1);
    // A quoted phrase is matched as written; unquoted words by their stems.
    assert_eq!(index.search(&req("\"pekerjaan kebun\"")).unwrap().total, 0);
    assert_eq!(index.search(&req("pekerjaan kebun")).unwrap().total, 1);
    let r = index.search(&req("\"paspor dibantu\"")).unwrap();
    assert_eq!(r.total, 1);
    let s = &r.hits[0].snippet;
    let marked: Vec<&str> = s.highlights.iter().map(|h| &s.text[h.clone()]).collect();
    assert_eq!(
        marked,
        ["paspor", "dibantu"],
        "phrase words are highlighted"
    );
    // Words of the title are searched with the text.
    assert_eq!(index.search(&req("loker")).unwrap().total, 2);
    // Stop words neither fail nor narrow a search.
    assert_eq!(index.search(&req("sawit di")).unwrap().total, 1);
    assert_eq!(index.search(&req("\"sawit di sibu\"")).unwrap().total, 1);
    assert_eq!(index.search(&req("")).unwrap().total, 2);
    for bad in ["\"jalan tikus", "(sawit", "nosuchfield:x"] {
        match index.search(&req(bad)) {
            Err(SearchError::BadQuery { hint, .. }) => assert!(!hint.is_empty()),
            other => panic!("{bad}: {other:?}"),
        }
    }
    let huge = "a ".repeat(2000);
    assert!(matches!(
        index.search(&req(&huge)),
        Err(SearchError::BadQuery { .. })
    ));
    // The index still answers after bad queries.
    assert_eq!(index.search(&req("pontianak")).unwrap().total, 1);
    // A single-word prefix, alone, with other words, or excluded.
    assert_eq!(index.search(&req("pekerj*")).unwrap().total, 1);
    assert_eq!(index.search(&req("kasir pontia*")).unwrap().total, 1);
    assert_eq!(index.search(&req("lowongan -pontia*")).unwrap().total, 0);
    assert_eq!(index.search(&req("\"kebun saw\"*")).unwrap().total, 1);
    // Indonesian stemming: another form of the word finds the post, and is highlighted.
    let r = index.search(&req("pekerjaan")).unwrap();
    assert_eq!(r.total, 1);
    let s = &r.hits[0].snippet;
    assert_eq!(&s.text[s.highlights[0].clone()], "pekerja");
    // A typo in a longer word is corrected, and the results say so.
    let r = index.search(&req("pontianek")).unwrap();
    assert_eq!((r.total, r.corrected.as_deref()), (1, Some("pontianak")));
    let r = index.search(&req("kebun pontianek")).unwrap();
    assert_eq!(
        r.total, 0,
        "a correction that still finds nothing is not offered"
    );
    assert_eq!(r.corrected, None);
    // Unknown fields get the list of fields; dates that do not parse say how to write them.
    let Err(SearchError::BadQuery { hint, .. }) = index.search(&req("nosuchfield:x")) else {
        panic!("unknown field accepted");
    };
    assert!(hint.contains("destination"), "{hint}");
    let Err(SearchError::BadQuery { hint, .. }) = crate::parse_date("23/11/2026") else {
        panic!("a bad date parsed");
    };
    assert!(hint.contains("YYYY-MM-DD"), "{hint}");
}

/// A store holding posts `a`, `b` and `c` with `texts`, the first two classified; their ids.
async fn three_posts_two_classified(texts: [&str; 3]) -> (tempfile::TempDir, Store, [i64; 3]) {
    let (dir, store) = store().await;
    let saved = store
        .save_page(
            &snapshot("x"),
            &[
                post("a", texts[0]),
                post("b", texts[1]),
                post("c", texts[2]),
            ],
        )
        .await
        .unwrap();
    let ids = [saved[0].0, saved[1].0, saved[2].0];
    for id in &ids[..2] {
        store.save_verdict(*id, &verdict_with(&[])).await.unwrap();
    }
    (dir, store, ids)
}

#[tokio::test]
async fn the_index_follows_the_store_from_its_watermark() {
    use crate::{LeadChange, LeadStatus};
    let (dir, store, [a, _, c]) = three_posts_two_classified([
        "Kerja sawit Sarawak",
        "Kerja kasir Pontianak",
        "Belum diklasifikasi",
    ])
    .await;
    let path = dir.path().join("index");
    let index = SearchIndex::open(&path, &Analysis::default()).unwrap();
    // Only classified posts are indexed; unclassified ones follow with their verdict.
    assert_eq!(index.catch_up(&store).await.unwrap(), 2);
    assert_eq!(index.watermark(), store.change_seq().await.unwrap());
    assert_eq!(index.catch_up(&store).await.unwrap(), 0, "nothing new");
    // A lead status change reaches the index, and the lead filter sees it.
    store
        .change_lead(
            a,
            "siti",
            &LeadChange::Status {
                status: LeadStatus::InReview,
                target: None,
            },
        )
        .await
        .unwrap();
    assert_eq!(index.catch_up(&store).await.unwrap(), 1);
    let in_review = index
        .search(&SearchRequest {
            limit: 10,
            lead_status: Some(LeadStatus::InReview),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(
        in_review
            .hits
            .iter()
            .map(|h| h.id as i64)
            .collect::<Vec<_>>(),
        [a]
    );
    assert_eq!(in_review.hits[0].lead_status, "in_review");
    // The watermark survives a restart: a reopened index has nothing to redo.
    drop(index);
    let index = SearchIndex::open(&path, &Analysis::default()).unwrap();
    assert_eq!(index.len(), 2);
    assert_eq!(index.catch_up(&store).await.unwrap(), 0);
    // Changes made while it was closed are picked up.
    store.save_verdict(c, &verdict_with(&[])).await.unwrap();
    drop(index);
    // Another analysis (another slang table) means other terms: the index starts over.
    let slang = Analysis {
        slang: [("krj".to_string(), "kerja".to_string())].into(),
    };
    let index = SearchIndex::open(&path, &slang).unwrap();
    assert_eq!(index.len(), 0);
    assert_eq!(index.catch_up(&store).await.unwrap(), 3);
    let krj = index
        .search(&SearchRequest {
            query: "krj".into(),
            limit: 10,
            ..Default::default()
        })
        .unwrap();
    assert_eq!(
        krj.total, 2,
        "slang in the query is expanded like slang in posts"
    );
}

#[tokio::test]
async fn a_change_after_the_newest_verdict_is_deleted_still_reaches_the_index() {
    let (dir, store, [_, b, c]) = three_posts_two_classified([
        "Kerja sawit Sarawak",
        "Kerja kasir Pontianak",
        "Admin online Kamboja",
    ])
    .await;
    let index = SearchIndex::open(&dir.path().join("index"), &Analysis::default()).unwrap();
    assert_eq!(index.catch_up(&store).await.unwrap(), 2);
    // b, holding the highest change sequence, gets a new text: its verdict is deleted until it
    // is classified again. The next verdict must still take a value above the index's
    // watermark, or the index would skip it for good.
    let changed = store
        .save_page(&snapshot("y"), &[post("b", "Kerja kasir Singkawang")])
        .await
        .unwrap();
    assert_eq!(changed[0], (b, PostOutcome::Changed));
    store.save_verdict(c, &verdict_with(&[])).await.unwrap();
    assert_eq!(index.catch_up(&store).await.unwrap(), 1, "c is indexed");
    store.save_verdict(b, &verdict_with(&[])).await.unwrap();
    assert_eq!(index.catch_up(&store).await.unwrap(), 1, "b comes back");
    assert_eq!(index.len(), 3);
    assert_eq!(index.watermark(), store.change_seq().await.unwrap());
}

fn verdict_with(
    entities: &[(patroli_classifier::EntityKind, &str)],
) -> patroli_classifier::Verdict {
    patroli_classifier::Verdict {
        score: 0.8,
        level: patroli_classifier::Level::High,
        flagged: true,
        lang: patroli_classifier::Lang::IdMs,
        kalbar: true,
        indicators: Vec::new(),
        places: Vec::new(),
        destinations: Vec::new(),
        entities: entities
            .iter()
            .map(|(kind, value)| patroli_classifier::Entity {
                kind: *kind,
                value: value.to_string(),
                span: patroli_classifier::Span {
                    start: 0,
                    end: 0,
                    text: String::new(),
                },
            })
            .collect(),
        salaries: Vec::new(),
        ruleset_version: "t".into(),
    }
}

#[tokio::test]
async fn posts_sharing_identifiers_form_networks() {
    use patroli_classifier::EntityKind::{Phone, Telegram, Whatsapp};
    let (_d, store) = store().await;
    let ids: Vec<i64> = store
        .save_page(
            &snapshot("x"),
            &[
                post("a", "a"),
                post("b", "b"),
                post("c", "c"),
                post("d", "d"),
            ],
        )
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.0)
        .collect();
    let (a, b, c, d) = (ids[0], ids[1], ids[2], ids[3]);
    store
        .save_verdict(a, &verdict_with(&[(Phone, "+6281257382041")]))
        .await
        .unwrap();
    // A WhatsApp link to the same number is the same contact.
    store
        .save_verdict(
            b,
            &verdict_with(&[(Whatsapp, "+6281257382041"), (Telegram, "agen_ptk")]),
        )
        .await
        .unwrap();
    store
        .save_verdict(c, &verdict_with(&[(Telegram, "agen_ptk")]))
        .await
        .unwrap();
    store
        .save_verdict(d, &verdict_with(&[(Phone, "+60123456789")]))
        .await
        .unwrap();

    let of_b = store.network_of(b).await.unwrap();
    let linked: Vec<(i64, Vec<(String, String)>)> =
        of_b.into_iter().map(|l| (l.post_id, l.shared)).collect();
    assert_eq!(
        linked,
        [
            (a, vec![("phone".to_string(), "+6281257382041".to_string())]),
            (c, vec![("telegram".to_string(), "agen_ptk".to_string())]),
        ]
    );
    assert!(store.network_of(d).await.unwrap().is_empty());

    // a–b–c form one network through two different identifiers; d stands alone.
    let nets = store.largest_networks(10).await.unwrap();
    assert_eq!(nets.len(), 1);
    assert_eq!(nets[0].posts, [a, b, c]);
    assert_eq!(nets[0].identifiers.len(), 2);

    // Reclassifying replaces a post's identifiers.
    store.save_verdict(c, &verdict_with(&[])).await.unwrap();
    assert_eq!(store.largest_networks(10).await.unwrap()[0].posts, [a, b]);
}

#[tokio::test]
async fn reposts_of_one_text_form_a_cluster() {
    let (_d, store) = store().await;
    let ad = "Dibutuhkan segera 20 orang untuk kerja dodos dan pungut brondol di ladang sawit daerah Sibu. Gaji RM 3.500 sebulan, mess dan makan ditanggung. Paspor dibantu, tiket free, nanti potong gaji. Minat hubungi WA 0812-5738-2041";
    let on = |source: &str, key: &str, text: &str| CollectedPost {
        source_id: source.into(),
        title: None,
        ..post(key, text)
    };
    let ids: Vec<i64> = store
        .save_page(
            &snapshot("x"),
            &[
                on("board", "a", ad),
                on("telegram", "b", &ad.replace("20 orang", "25 orang")),
                on("board", "c", "Lowongan kasir toko bangunan di Pontianak, lulusan SMA, gaji sesuai UMK, kirim lamaran ke kantor kami"),
                on("feed", "d", &format!("REPOST {ad}")),
            ],
        )
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.0)
        .collect();
    store
        .save_page(&snapshot("y"), &[on("board", "a", ad)])
        .await
        .unwrap();
    let cluster = store.cluster_of(ids[1]).await.unwrap().unwrap();
    assert_eq!(cluster.posts, [ids[0], ids[1], ids[3]]);
    assert_eq!(cluster.sources, 3);
    assert_eq!(cluster.sightings, 4, "three posts, one of them seen twice");
    assert!(store.cluster_of(ids[2]).await.unwrap().is_none());
}

#[tokio::test]
async fn reposts_on_later_pages_join_the_stored_cluster() {
    let (_d, store) = store().await;
    let ad = "Lowongan admin online di Kamboja untuk pria dan wanita usia 18 sampai 35 tahun. Gaji 15 juta per bulan ditambah bonus, makan dan mess gratis dari perusahaan. Tiket pesawat dan visa ditanggung bos, tanpa pengalaman kerja dan tanpa ijazah. Berangkat minggu depan lewat Entikong, kuota terbatas hanya sepuluh orang saja. Chat Telegram @rekrut_kh untuk daftar sekarang";
    let other = "Toko bangunan di Singkawang mencari kasir, lulusan SMA, gaji sesuai UMK, datang langsung ke toko";
    let on = |source: &str, key: &str, text: &str| CollectedPost {
        source_id: source.into(),
        title: None,
        ..post(key, text)
    };
    let id = |saved: Vec<(i64, PostOutcome)>| saved[0].0;
    let a = id(store
        .save_page(&snapshot("1"), &[on("board", "a", ad)])
        .await
        .unwrap());
    let b = id(store
        .save_page(
            &snapshot("2"),
            &[on("telegram", "b", &ad.replace("15 juta", "16 juta"))],
        )
        .await
        .unwrap());
    // Two pages in one transaction: the second sees the first's post as stored.
    let (p3, p4) = (
        [
            on("feed", "c", &format!("INFO {ad}")),
            on("feed", "e", other),
        ],
        [on("forum", "d", &ad.replace("minggu depan", "minggu ini"))],
    );
    let saved = store
        .save_pages(&[(&snapshot("3"), &p3[..]), (&snapshot("4"), &p4[..])])
        .await
        .unwrap();
    let (c, e, d) = (saved[0][0].0, saved[0][1].0, saved[1][0].0);
    assert_eq!(
        store.cluster_of(b).await.unwrap().unwrap().posts,
        [a, b, c, d]
    );
    assert!(store.cluster_of(e).await.unwrap().is_none());

    // An edited post is clustered again by its new text.
    let edited = store
        .save_page(
            &snapshot("5"),
            &[on("feed", "e", &ad.replace("Entikong", "Aruk"))],
        )
        .await
        .unwrap();
    assert_eq!(edited[0], (e, PostOutcome::Changed));
    let cluster = store.cluster_of(a).await.unwrap().unwrap();
    assert_eq!(cluster.posts, [a, b, c, e, d]);
    assert_eq!(cluster.sources, 4);
    // Its old fingerprint went with the old text: a new post of that text is nobody's repost.
    let f = id(store
        .save_page(&snapshot("6"), &[on("board", "f", other)])
        .await
        .unwrap());
    assert!(store.cluster_of(f).await.unwrap().is_none());
}

#[tokio::test]
async fn one_key_on_two_sources_is_two_posts() {
    let (_d, store) = store().await;
    let on = |source: &str, text: &str| CollectedPost {
        source_id: source.into(),
        ..post("k", text)
    };
    let first = store
        .save_page(
            &snapshot("1"),
            &[on("s1", "kerja sawit"), on("s2", "kerja pabrik")],
        )
        .await
        .unwrap();
    assert!(first.iter().all(|(_, o)| *o == PostOutcome::New));
    assert_ne!(first[0].0, first[1].0);
    let again = store
        .save_page(
            &snapshot("2"),
            &[on("s2", "kerja kebun"), on("s1", "kerja sawit")],
        )
        .await
        .unwrap();
    assert_eq!(
        again,
        [
            (first[1].0, PostOutcome::Changed),
            (first[0].0, PostOutcome::Seen)
        ]
    );
}

#[tokio::test]
async fn writers_see_each_others_posts_and_edits() {
    let (_d, first) = store().await;
    let second = first.another_writer();
    let texts = [
        "Dicari pekerja ladang sawit di Sibu Sarawak untuk dodos dan pungut brondol, gaji RM 2.800 sebulan bersih, mess dan makan gratis dari kebun. Paspor diurus agen, visa kerja menyusul setelah sampai, tidak perlu pengalaman. Berangkat dari Entikong minggu depan bersama rombongan, kuota dua puluh orang. Hubungi WA sekarang juga sebelum penuh",
        "Lowongan operator produksi pabrik sarung tangan di Kuching, kontrak dua tahun dan bisa diperpanjang, lulusan SMP boleh, laki laki dan perempuan umur 18 sampai 40. Tiket pesawat ditanggung perusahaan, potong gaji tiga bulan pertama untuk biaya agen dan medical. Proses cepat, dokumen dibantu, kirim foto KTP lewat Telegram",
        "Toko bangunan di Singkawang mencari kasir dan pramuniaga, lulusan SMA atau sederajat, jujur dan rajin, gaji sesuai UMK kota ditambah uang makan dan BPJS. Jam kerja delapan jam sehari dengan libur satu hari seminggu. Datang langsung ke toko kami di Jalan Diponegoro dengan membawa surat lamaran dan fotokopi ijazah",
    ];
    let save = |store: &Store, key: &str, text: &str| {
        let (store, key, text) = (store.clone(), key.to_string(), text.to_string());
        async move {
            let p = CollectedPost {
                source_id: "s".into(),
                title: None,
                ..post(&key, &text)
            };
            store.save_page(&snapshot(&key), &[p]).await.unwrap()[0]
        }
    };
    let members = |store: &Store, id: i64| {
        let store = store.clone();
        async move { store.cluster_of(id).await.unwrap().map(|c| c.posts) }
    };
    // The second writer's first page loads what the first stored.
    let (a, _) = save(&first, "a", texts[0]).await;
    let (b, _) = save(&second, "b", &format!("INFO {}", texts[0])).await;
    assert_eq!(members(&first, b).await, Some(vec![a, b]));
    // Later pages catch up with what the other writer stored since.
    let (c, _) = save(&second, "c", texts[1]).await;
    let (d, _) = save(&first, "d", &format!("INFO {}", texts[1])).await;
    assert_eq!(members(&first, d).await, Some(vec![c, d]));
    // ... and with what it edited: the first writer's candidates follow the new text.
    let (e, _) = save(&first, "e", texts[2]).await;
    assert_eq!(
        save(&second, "e", "Pengumuman rapat warga RT 05 hari Minggu pagi di balai desa, semua kepala keluarga diharap hadir tepat waktu membawa fotokopi KTP").await,
        (e, PostOutcome::Changed)
    );
    let (f, _) = save(&first, "f", &format!("INFO {}", texts[2])).await;
    assert_eq!(
        members(&first, f).await,
        None,
        "nobody holds the old text any more"
    );
}

#[tokio::test]
async fn lead_workflow_is_validated_and_its_history_kept() {
    use crate::{LeadChange, LeadStatus};
    let (_d, store) = store().await;
    let id = store
        .save_page(&snapshot("x"), &[post("a", "kerja sawit")])
        .await
        .unwrap()[0]
        .0;
    assert_eq!(store.lead(id).await.unwrap().status, LeadStatus::New);
    let status = |status, target: Option<&str>| LeadChange::Status {
        status,
        target: target.map(str::to_string),
    };
    store
        .change_lead(id, "budi", &status(LeadStatus::InReview, None))
        .await
        .unwrap();
    store
        .change_lead(id, "budi", &LeadChange::Assign { to: "siti".into() })
        .await
        .unwrap();
    let refused = store
        .change_lead(id, "budi", &status(LeadStatus::Escalated, None))
        .await;
    assert!(matches!(refused, Err(StoreError::Invalid(m)) if m.contains("immigration")));
    let refused = store
        .change_lead(id, "budi", &status(LeadStatus::Closed, Some("bosan")))
        .await;
    assert!(matches!(refused, Err(StoreError::Invalid(_))));
    let lead = store
        .change_lead(
            id,
            "siti",
            &status(LeadStatus::Escalated, Some("immigration")),
        )
        .await
        .unwrap();
    assert_eq!(
        (
            lead.status,
            lead.escalated_to.as_deref(),
            lead.assignee.as_deref()
        ),
        (LeadStatus::Escalated, Some("immigration"), Some("siti"))
    );
    store
        .change_lead(
            id,
            "siti",
            &LeadChange::Note {
                text: "Nomor WA sama dengan kasus Sambas".into(),
            },
        )
        .await
        .unwrap();
    let history: Vec<(String, String, String)> = store
        .lead_history(id)
        .await
        .unwrap()
        .into_iter()
        .map(|e| (e.actor, e.action, e.detail))
        .collect();
    assert_eq!(
        history,
        [
            (
                "budi".to_string(),
                "status".to_string(),
                "in_review".to_string()
            ),
            ("budi".into(), "assign".into(), "siti".into()),
            (
                "siti".into(),
                "status".into(),
                "escalated: immigration".into()
            ),
            (
                "siti".into(),
                "note".into(),
                "Nomor WA sama dengan kasus Sambas".into()
            ),
        ]
    );
    let tamper = store.execute_raw("DELETE FROM lead_events").await;
    assert!(tamper.unwrap_err().to_string().contains("append-only"));
}

#[tokio::test]
async fn an_officers_mark_labels_the_lead_before_its_status() {
    use crate::{Judgement, LeadChange, LeadStatus};
    let (_d, store) = store().await;
    let ids: Vec<i64> = store
        .save_page(
            &snapshot("x"),
            &[
                post("a", "kerja sawit sarawak, paspor dibantu"),
                post("b", "dicari admin online kamboja"),
                post("c", "lowongan kasir pontianak"),
                post("d", "kerja kebun"),
            ],
        )
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.0)
        .collect();
    let change = |id: i64, actor: &'static str, change: LeadChange| {
        let store = store.clone();
        async move { store.change_lead(id, actor, &change).await.unwrap() }
    };
    let judge = |judgement| LeadChange::Judge { judgement };
    // Escalated (which alone labels it illegal), then marked a false positive: the mark wins.
    change(
        ids[0],
        "budi",
        LeadChange::Status {
            status: LeadStatus::Escalated,
            target: Some("immigration".into()),
        },
    )
    .await;
    change(ids[0], "budi", judge(Judgement::NotIllegal)).await;
    // Still new, marked a false positive and then, on second thought, a true one.
    change(ids[1], "budi", judge(Judgement::NotIllegal)).await;
    let lead = change(ids[1], "siti", judge(Judgement::IllegalRecruitment)).await;
    assert_eq!(
        lead.status,
        LeadStatus::New,
        "a mark leaves the status alone"
    );
    // Closed as a false positive and never marked: its status still labels it.
    change(
        ids[2],
        "budi",
        LeadChange::Status {
            status: LeadStatus::Closed,
            target: Some("false_positive".into()),
        },
    )
    .await;
    // In review and unmarked: no label.
    change(
        ids[3],
        "budi",
        LeadChange::Status {
            status: LeadStatus::InReview,
            target: None,
        },
    )
    .await;

    let labels: Vec<(i64, &str)> = store
        .labelled_posts()
        .await
        .unwrap()
        .into_iter()
        .map(|(id, _, label)| (id, label))
        .collect();
    assert_eq!(
        labels,
        [
            (ids[0], "not_illegal"),
            (ids[1], "illegal_recruitment"),
            (ids[2], "not_illegal"),
        ]
    );
    let mark = store.lead(ids[1]).await.unwrap().judgement.unwrap();
    assert_eq!(
        (mark.judgement, mark.by.as_str()),
        (Judgement::IllegalRecruitment, "siti")
    );
    assert!(store.lead(ids[3]).await.unwrap().judgement.is_none());
    // Every mark, the replaced one too, stays in the lead's history.
    let marks: Vec<(String, String)> = store
        .lead_history(ids[1])
        .await
        .unwrap()
        .into_iter()
        .map(|e| (e.actor, format!("{} {}", e.action, e.detail)))
        .collect();
    assert_eq!(
        marks,
        [
            ("budi".to_string(), "judge not_illegal".to_string()),
            ("siti".to_string(), "judge illegal_recruitment".to_string()),
        ]
    );
}

#[tokio::test]
async fn search_filters_sorts_and_counts_levels() {
    use crate::Sort;
    let (dir, store) = store().await;
    let ids: Vec<i64> = store
        .save_page(
            &snapshot("x"),
            &[
                post("a", "kerja sawit sarawak"),
                post("b", "kerja sawit kamboja"),
                post("c", "kerja sawit pontianak"),
            ],
        )
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.0)
        .collect();
    let verdict =
        |score: f64, level: patroli_classifier::Level, kalbar: bool| patroli_classifier::Verdict {
            score,
            level,
            flagged: score >= 0.5,
            kalbar,
            ..verdict_with(&[])
        };
    use patroli_classifier::Level::{High, Medium, None as NoRisk};
    store
        .save_verdict(ids[0], &verdict(0.6, Medium, true))
        .await
        .unwrap();
    store
        .save_verdict(ids[1], &verdict(0.9, High, false))
        .await
        .unwrap();
    store
        .save_verdict(ids[2], &verdict(0.0, NoRisk, true))
        .await
        .unwrap();
    let index = SearchIndex::open(&dir.path().join("index"), &Analysis::default()).unwrap();
    index.rebuild(&store).await.unwrap();
    let req = |f: &dyn Fn(&mut SearchRequest)| {
        let mut r = SearchRequest {
            query: "sawit".into(),
            limit: 10,
            ..Default::default()
        };
        f(&mut r);
        index.search(&r).unwrap()
    };
    let all = req(&|_| {});
    assert_eq!(all.total, 3);
    assert_eq!(
        all.facets.levels,
        [
            ("high".to_string(), 1),
            ("medium".into(), 1),
            ("low".into(), 0),
            ("none".into(), 1)
        ]
    );
    let high = req(&|r| r.level = Some("high".into()));
    assert_eq!(
        high.hits.iter().map(|h| h.id as i64).collect::<Vec<_>>(),
        [ids[1]]
    );
    assert_eq!(
        high.facets.levels, all.facets.levels,
        "level counts ignore the level filter"
    );
    let kalbar = req(&|r| r.kalbar_only = true);
    assert_eq!(kalbar.total, 2);
    let by_score = req(&|r| r.sort = Sort::Score);
    assert_eq!(
        by_score
            .hits
            .iter()
            .map(|h| h.id as i64)
            .collect::<Vec<_>>(),
        [ids[1], ids[0], ids[2]]
    );
    assert_eq!(req(&|r| r.source = Some("elsewhere".into())).total, 0);
    assert_eq!(req(&|r| r.source = Some("s".into())).total, 3);
}

/// Rewrites a ZIP, changing the bytes of `change`, dropping `drop` and adding `add`.
fn tamper(bundle: &[u8], change: Option<&str>, drop: Option<&str>, add: Option<&str>) -> Vec<u8> {
    use std::io::{Read, Write};
    let mut zin = zip::ZipArchive::new(std::io::Cursor::new(bundle)).unwrap();
    let mut zout = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default();
    for i in 0..zin.len() {
        let mut f = zin.by_index(i).unwrap();
        let name = f.name().to_string();
        let mut bytes = Vec::new();
        f.read_to_end(&mut bytes).unwrap();
        if Some(name.as_str()) == drop {
            continue;
        }
        if Some(name.as_str()) == change {
            bytes.extend_from_slice(b" edited");
        }
        zout.start_file(name, opts).unwrap();
        zout.write_all(&bytes).unwrap();
    }
    if let Some(extra) = add {
        zout.start_file(extra, opts).unwrap();
        zout.write_all(b"planted").unwrap();
    }
    zout.finish().unwrap().into_inner()
}

#[tokio::test]
async fn evidence_bundles_verify_and_show_tampering() {
    use crate::evidence::{bundle, verify};
    let (_d, store) = store().await;
    store
        .upsert_source("s", "telegram", "Public channel")
        .await
        .unwrap();
    let id = store
        .save_page(&snapshot("<p>bukti asli</p>"), &[post("a", "kerja sawit")])
        .await
        .unwrap()[0]
        .0;
    store.save_verdict(id, &verdict_with(&[])).await.unwrap();
    let zip = bundle(&store, &[id], "budi").await.unwrap();
    let ok = verify(&zip).unwrap();
    assert!(ok.intact(), "{ok:?}");
    assert_eq!(ok.files_checked, 3, "snapshot, post text, report");

    let snapshot_file = store.snapshots_of(id).await.unwrap()[0].id;
    let name = format!("snapshots/{snapshot_file}.body");
    let edited = verify(&tamper(&zip, Some(&name), None, None)).unwrap();
    assert_eq!(edited.mismatched, std::slice::from_ref(&name));
    assert!(!edited.intact());
    let gone = verify(&tamper(&zip, None, Some("report.html"), Some("extra.txt"))).unwrap();
    assert_eq!(
        (gone.missing.as_slice(), gone.unlisted.as_slice()),
        (
            ["report.html".to_string()].as_slice(),
            ["extra.txt".to_string()].as_slice()
        )
    );
    assert!(verify(b"not a zip").unwrap_err().contains("not a ZIP"));
}

#[tokio::test]
async fn the_feeder_makes_new_verdicts_searchable_without_being_asked() {
    let (dir, store) = store().await;
    let index = std::sync::Arc::new(
        SearchIndex::open(&dir.path().join("index"), &Analysis::default()).unwrap(),
    );
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let feeder = tokio::spawn(crate::feed(index.clone(), store.clone(), async {
        let _ = stopped.await;
    }));
    let saved = store
        .save_page(&snapshot("x"), &[post("a", "Lowongan sawit Sarawak")])
        .await
        .unwrap();
    store
        .save_verdict(saved[0].0, &verdict_with(&[]))
        .await
        .unwrap();
    index.nudge();
    // Functional, not a timing check: the feeder's batch window is a quarter of a second; the
    // generous deadline only keeps a broken feeder from hanging the suite.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let query = SearchRequest {
        query: "sawit".into(),
        limit: 1,
        ..Default::default()
    };
    while index.search(&query).unwrap().total == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the feeder never indexed the post"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    stop.send(()).unwrap();
    feeder.await.unwrap();
}

#[tokio::test]
async fn a_backup_is_a_whole_store_that_opens() {
    // `patroli backup` is SQLite's; PostgreSQL has pg_dump.
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).await.unwrap();
    store
        .save_page(&snapshot("x"), &[post("a", "Kerja sawit Sarawak")])
        .await
        .unwrap();
    let copy = dir.path().join("backup");
    std::fs::create_dir(&copy).unwrap();
    let file = copy.join(crate::DB_FILE);
    store.backup_to(&file).await.unwrap();
    let restored = Store::open(&copy).await.unwrap();
    assert_eq!(restored.count_posts().await.unwrap(), 1);
    assert_eq!(restored.snapshots_of(1).await.unwrap().len(), 1);
    let again = store.backup_to(&file).await.unwrap_err();
    assert!(again.to_string().contains("already exists"), "{again}");
}

#[tokio::test]
async fn an_index_in_use_is_never_started_over_by_another_opener() {
    let (dir, store) = store().await;
    let saved = store
        .save_page(&snapshot("x"), &[post("a", "Kerja sawit Sarawak")])
        .await
        .unwrap();
    store
        .save_verdict(saved[0].0, &verdict_with(&[]))
        .await
        .unwrap();
    let path = dir.path().join("index");
    let running = SearchIndex::open(&path, &Analysis::default()).unwrap();
    assert_eq!(
        running.catch_up(&store).await.unwrap(),
        1,
        "holds the writer now"
    );
    let other = Analysis {
        slang: [("krj".to_string(), "kerja".to_string())].into(),
    };
    let Err(e) = SearchIndex::open(&path, &other) else {
        panic!("an index in use was opened for rebuilding");
    };
    assert!(e.to_string().contains("--rules"), "{e}");
    assert_eq!(running.len(), 1, "the running index kept its documents");
}

#[tokio::test]
async fn cached_facet_counts_follow_new_posts_and_changed_ones() {
    use crate::{LeadChange, LeadStatus, Sort};
    let (dir, store) = store().await;
    let saved = save_classified(
        &store,
        "x",
        &[
            post("a", "Kerja sawit Sarawak"),
            post("b", "Kerja kasir Pontianak"),
            post("c", "Jual motor bekas"),
        ],
    )
    .await;
    let index = SearchIndex::open(&dir.path().join("index"), &Analysis::default()).unwrap();
    index.catch_up(&store).await.unwrap();
    let search = |sort: Sort, offset: usize| {
        let r = index
            .search(&SearchRequest {
                query: "kerja".into(),
                limit: 1,
                offset,
                sort,
                ..Default::default()
            })
            .unwrap();
        (r.total, r.facets.lead_statuses)
    };
    let status = |pairs: &[(&str, usize)]| -> Vec<(String, usize)> {
        pairs.iter().map(|(s, n)| (s.to_string(), *n)).collect()
    };
    assert_eq!(search(Sort::Relevance, 0), (2, status(&[("new", 2)])));
    let kept = index.cached_facets();
    assert!(kept > 0);
    // Another page or another order of the same search counts nothing again.
    assert_eq!(search(Sort::Recent, 1), (2, status(&[("new", 2)])));
    assert_eq!(index.cached_facets(), kept);

    // A changed post is deleted from its segment and written again: the old counts of that
    // segment no longer apply.
    store
        .change_lead(
            saved[0],
            "siti",
            &LeadChange::Status {
                status: LeadStatus::InReview,
                target: None,
            },
        )
        .await
        .unwrap();
    index.catch_up(&store).await.unwrap();
    assert_eq!(
        search(Sort::Relevance, 0),
        (2, status(&[("in_review", 1), ("new", 1)]))
    );
    // A new post lands in a new segment and is counted with the others.
    save_classified(&store, "y", &[post("d", "Kerja kebun Sibu")]).await;
    index.catch_up(&store).await.unwrap();
    assert_eq!(
        search(Sort::Relevance, 0),
        (3, status(&[("new", 2), ("in_review", 1)]))
    );
}

/// New posts reach the database file through the background checkpoint alone: nothing is written
/// after them, and the WAL stays far below the limit at which the writer copies it back itself.
#[tokio::test]
async fn the_background_checkpoint_copies_the_wal_into_the_file() {
    use std::time::{Duration, Instant};
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).await.unwrap();
    let file = dir.path().join(crate::DB_FILE);
    // What the migrations wrote is copied first.
    tokio::time::sleep(Duration::from_millis(600)).await;
    let before = std::fs::metadata(&file).unwrap().len();
    let posts: Vec<CollectedPost> = (0..200)
        .map(|i| post(&i.to_string(), &format!("kerja sawit {i} ").repeat(40)))
        .collect();
    store
        .save_page(&snapshot("<p>200</p>"), &posts)
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::fs::metadata(&file).unwrap().len() <= before {
        assert!(
            Instant::now() < deadline,
            "the new posts never left the WAL"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    store.close().await;
}
