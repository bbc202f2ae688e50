//! Working many leads at once from the search results, and officers' marks of true and false
//! positives on the lead page.

use axum::http::StatusCode;
use patroli_index::{Judgement, LeadStatus};

use super::*;
use crate::bulk::MAX_BULK_LEADS;

/// Stores `n` more posts on the fixture's source, with the fixture's verdict (only classified
/// posts are searchable), and returns their ids.
async fn more_posts(state: &AppState, n: usize) -> Vec<i64> {
    let snapshot = Snapshot {
        requested_url: "http://x.test/more".into(),
        final_url: "http://x.test/more".into(),
        status: 200,
        headers: vec![],
        body: b"<html>more</html>".to_vec(),
        sha256: "1".repeat(64),
        fetched_at: Utc::now(),
    };
    let posts: Vec<CollectedPost> = (0..n)
        .map(|i| CollectedPost {
            source_id: "s".into(),
            url: format!("http://x.test/more/{i}"),
            external_id: Some(format!("more-{i}")),
            title: Some(format!("Loker kebun {i}")),
            text: format!("Lowongan kebun sawit nomor {i}, berangkat minggu depan"),
            author: None,
            location: None,
            published: None,
        })
        .collect();
    let ids: Vec<i64> = state
        .store
        .save_page(&snapshot, &posts)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.0)
        .collect();
    let verdict = fixture_verdict();
    let verdicts: Vec<_> = ids.iter().map(|id| (*id, &verdict)).collect();
    state.store.save_verdicts(&verdicts).await.unwrap();
    ids
}

/// The bulk form's body: the CSRF token, the search to go back to, the pressed button, more
/// fields, and the ticked leads.
fn bulk_form(csrf: &str, action: &str, fields: &[(&str, &str)], ids: &[i64]) -> String {
    let mut s = url::form_urlencoded::Serializer::new(String::new());
    s.append_pair("csrf", csrf)
        .append_pair("back", "/search?q=lowongan&page=1")
        .append_pair("action", action);
    for (k, v) in fields {
        s.append_pair(k, v);
    }
    for id in ids {
        s.append_pair("ids", &id.to_string());
    }
    s.finish()
}

async fn status_of(state: &AppState, id: i64) -> (LeadStatus, Option<String>, Option<String>) {
    let lead = state.store.lead(id).await.unwrap();
    let target = lead.escalated_to.or(lead.closed_reason);
    (lead.status, target, lead.assignee)
}

#[tokio::test]
async fn officers_change_many_leads_at_once_and_each_change_is_audited() {
    let f = fixture().await;
    let state = &f.state;
    state
        .store
        .add_user("siti", "officer", &hash_password("sandi-siti-1").unwrap())
        .await
        .unwrap();
    let more = more_posts(state, 2).await;
    let (a, b, c) = (1, more[0], more[1]);
    let (_, cookie, _) = login(state, "budi", "sandi-rahasia").await;
    let cookie = cookie.unwrap();
    let (_, _, html) = send(state, get("/search?q=lowongan", &cookie)).await;
    assert!(html.contains("action=\"/search/bulk\""), "{html}");
    assert!(
        html.contains(&format!(
            "name=\"ids\" value=\"{a}\" form=\"bulk\" class=\"pick\""
        )),
        "a checkbox per result: {html}"
    );
    assert!(
        html.contains("<option value=\"siti\" >siti</option>"),
        "officers to assign to"
    );
    let csrf = hidden_csrf(&html);
    let bulk = |body: String| post_form("/search/bulk", &cookie, body);

    // Escalate two leads and a post that does not exist.
    let form = bulk_form(
        &csrf,
        "escalate",
        &[("unit", "immigration"), ("reason", "")],
        &[a, b, 999],
    );
    let (status, h, _) = send(state, bulk(form)).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let back = h[header::LOCATION].to_str().unwrap().to_string();
    assert_eq!(
        back,
        "/search?q=lowongan&page=1&updated=2&skipped=999%3Anot_found"
    );
    let escalated = (LeadStatus::Escalated, Some("immigration".to_string()), None);
    assert_eq!(status_of(state, a).await, escalated);
    assert_eq!(status_of(state, b).await, escalated);
    assert_eq!(status_of(state, c).await, (LeadStatus::New, None, None));
    let (_, _, html) = send(state, get(&back, &cookie)).await;
    assert!(html.contains("2 unggahan diperbarui."), "{html}");
    assert!(
        html.contains("<a href=\"/leads/999\">#999</a> (tidak ditemukan)"),
        "{html}"
    );
    // Each lead's change is in its history and in the audit log on its own.
    let history = state.store.lead_history(b).await.unwrap();
    assert_eq!(
        (history.len(), history[0].detail.as_str()),
        (1, "escalated: immigration")
    );
    let audited: Vec<(String, String, String)> = state
        .store
        .audit_entries(20)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.action == "lead_status")
        .map(|e| (e.target.unwrap(), e.detail.unwrap(), e.actor))
        .collect();
    assert_eq!(
        audited,
        [
            (
                b.to_string(),
                "escalated immigration (bulk)".into(),
                "budi".into()
            ),
            (
                a.to_string(),
                "escalated immigration (bulk)".into(),
                "budi".into()
            ),
        ]
    );

    // The same action again changes only the lead it has not been applied to.
    let (_, h, _) = send(
        state,
        bulk(bulk_form(
            &csrf,
            "escalate",
            &[("unit", "immigration")],
            &[a, c],
        )),
    )
    .await;
    assert!(
        h[header::LOCATION]
            .to_str()
            .unwrap()
            .ends_with(&format!("updated=1&skipped={a}%3Aunchanged")),
        "{h:?}"
    );
    assert_eq!(state.store.lead_history(a).await.unwrap().len(), 1);

    // Assign, take into review and close.
    for (action, fields) in [
        ("assign", &[("assignee", "siti")][..]),
        ("review", &[][..]),
        ("close", &[("reason", "duplicate")][..]),
    ] {
        let (status, _, _) = send(state, bulk(bulk_form(&csrf, action, fields, &[b, c]))).await;
        assert_eq!(status, StatusCode::SEE_OTHER, "{action}");
    }
    assert_eq!(
        status_of(state, c).await,
        (
            LeadStatus::Closed,
            Some("duplicate".into()),
            Some("siti".into())
        )
    );
    assert_eq!(state.store.lead_history(b).await.unwrap().len(), 4);
    state.index.catch_up(&state.store).await.unwrap();
    let (_, _, html) = send(state, get("/search?q=lowongan&lead=closed", &cookie)).await;
    assert!(
        html.contains("<p class=\"count\">2 "),
        "the search index follows the store: {html}"
    );
}

#[tokio::test]
async fn a_bulk_request_that_cannot_be_applied_changes_nothing() {
    let f = fixture().await;
    let state = &f.state;
    let ids = more_posts(state, MAX_BULK_LEADS).await;
    let (_, cookie, _) = login(state, "budi", "sandi-rahasia").await;
    let cookie = cookie.unwrap();
    let (_, _, html) = send(state, get("/search", &cookie)).await;
    let csrf = hidden_csrf(&html);
    let mut too_many = ids.clone();
    too_many.push(1);
    for (body, status, message) in [
        (
            bulk_form("forged", "review", &[], &[1]),
            StatusCode::FORBIDDEN,
            "",
        ),
        (
            bulk_form(&csrf, "review", &[], &[]),
            StatusCode::BAD_REQUEST,
            "Tidak ada unggahan yang dicentang",
        ),
        (
            bulk_form(&csrf, "review", &[], &too_many),
            StatusCode::BAD_REQUEST,
            "Terlalu banyak unggahan",
        ),
        (
            bulk_form(&csrf, "escalate", &[("unit", "")], &[1]),
            StatusCode::BAD_REQUEST,
            "Pilih unit tujuan eskalasi",
        ),
        (
            bulk_form(&csrf, "close", &[("reason", "bosan")], &[1]),
            StatusCode::BAD_REQUEST,
            "Pilih alasan penutupan",
        ),
        (
            bulk_form(&csrf, "assign", &[("assignee", "hantu")], &[1]),
            StatusCode::BAD_REQUEST,
            "Pilih petugas aktif",
        ),
        (
            bulk_form(&csrf, "delete", &[], &[1]),
            StatusCode::BAD_REQUEST,
            "Pilih tindakan",
        ),
        (
            bulk_form(&csrf, "review", &[], &[1])
                .replace("back=%2Fsearch", "back=https%3A%2F%2Fevil.test%2Fsearch"),
            StatusCode::SEE_OTHER,
            "",
        ),
    ] {
        let (got, h, html) = send(state, post_form("/search/bulk", &cookie, body.clone())).await;
        assert_eq!(got, status, "{body}");
        assert!(html.contains(message), "{body}: {html}");
        if got == StatusCode::SEE_OTHER {
            assert_eq!(
                h[header::LOCATION],
                "/search?updated=1",
                "only back to here"
            );
        }
    }
    assert!(
        state.store.lead_history(ids[0]).await.unwrap().is_empty(),
        "a refused request changes no lead"
    );
}

#[tokio::test]
async fn analysts_get_no_bulk_form_and_are_refused() {
    let f = fixture().await;
    let state = &f.state;
    state
        .store
        .add_user("ani", "analyst", &hash_password("sandi-analis-1").unwrap())
        .await
        .unwrap();
    let (_, cookie, _) = login(state, "ani", "sandi-analis-1").await;
    let cookie = cookie.unwrap();
    let (_, _, html) = send(state, get("/search?q=lowongan", &cookie)).await;
    assert!(html.contains("href=\"/leads/1\""), "the results are shown");
    assert!(!html.contains("/search/bulk") && !html.contains("form=\"bulk\""));
    let form = bulk_form(
        &hidden_csrf(&html),
        "close",
        &[("reason", "duplicate")],
        &[1],
    );
    let (status, _, _) = send(state, post_form("/search/bulk", &cookie, form)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(state.store.lead_history(1).await.unwrap().is_empty());
    let last = &state.store.audit_entries(1).await.unwrap()[0];
    assert_eq!(
        (last.actor.as_str(), last.action.as_str()),
        ("ani", "lead_bulk_refused")
    );
}

#[tokio::test]
async fn officers_mark_true_and_false_positives_for_the_analysts() {
    let f = fixture().await;
    let state = &f.state;
    state
        .store
        .add_user("ani", "analyst", &hash_password("sandi-analis-1").unwrap())
        .await
        .unwrap();
    let (_, cookie, _) = login(state, "budi", "sandi-rahasia").await;
    let cookie = cookie.unwrap();
    let (_, _, html) = send(state, get("/leads/1", &cookie)).await;
    assert!(html.contains("Belum ditandai"), "{html}");
    assert!(html.contains("value=\"not_illegal\""), "{html}");
    let csrf = hidden_csrf(&html);
    let judge = |judgement: &str| {
        post_form(
            "/leads/1/workflow",
            &cookie,
            format!("csrf={csrf}&action=judge&judgement={judgement}"),
        )
    };
    let labels = || async {
        state
            .store
            .labelled_posts()
            .await
            .unwrap()
            .into_iter()
            .map(|(id, _, label)| (id, label))
            .collect::<Vec<_>>()
    };
    assert!(labels().await.is_empty(), "a new lead has no label");

    assert_eq!(
        send(state, judge("not_illegal")).await.0,
        StatusCode::SEE_OTHER
    );
    let (_, _, html) = send(state, get("/leads/1", &cookie)).await;
    assert!(
        html.contains("judged-not_illegal\">bukan (positif palsu)</span> oleh budi, "),
        "{html}"
    );
    assert_eq!(labels().await, [(1, "not_illegal")]);

    assert_eq!(
        send(state, judge("illegal_recruitment")).await.0,
        StatusCode::SEE_OTHER
    );
    assert_eq!(labels().await, [(1, "illegal_recruitment")]);
    let mark = state.store.lead(1).await.unwrap().judgement.unwrap();
    assert_eq!(
        (mark.judgement, mark.by.as_str()),
        (Judgement::IllegalRecruitment, "budi")
    );
    let history: Vec<String> = state
        .store
        .lead_history(1)
        .await
        .unwrap()
        .into_iter()
        .map(|e| format!("{} {}", e.action, e.detail))
        .collect();
    assert_eq!(
        history,
        ["judge not_illegal", "judge illegal_recruitment"],
        "the earlier mark is kept"
    );
    let last = &state.store.audit_entries(1).await.unwrap()[0];
    assert_eq!(
        (last.action.as_str(), last.detail.as_deref()),
        ("lead_judge", Some("illegal_recruitment"))
    );
    let (status, _, _) = send(state, judge("maybe")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    let (_, analyst, _) = login(state, "ani", "sandi-analis-1").await;
    let analyst = analyst.unwrap();
    let (_, _, html) = send(state, get("/leads/1", &analyst)).await;
    assert!(
        html.contains("rekrutmen ilegal (benar)") && !html.contains("value=\"not_illegal\""),
        "analysts see the mark but cannot change it"
    );
    let try_mark = post_form(
        "/leads/1/workflow",
        &analyst,
        format!(
            "csrf={}&action=judge&judgement=not_illegal",
            hidden_csrf(&html)
        ),
    );
    assert_eq!(send(state, try_mark).await.0, StatusCode::FORBIDDEN);
    assert_eq!(labels().await, [(1, "illegal_recruitment")]);
}
