//! Account management over HTTP: admins create, disable, enable and reset users; other roles
//! are refused and audited; forms need the CSRF token; the last active admin stays.

use axum::http::{StatusCode, header};

use super::*;
use crate::verify_password;

/// Adds a user with `role` and returns their session cookie and CSRF token.
async fn logged_in(state: &AppState, name: &str, role: &str) -> (String, String) {
    let password = format!("sandi-{name}-123");
    state
        .store
        .add_user(name, role, &hash_password(&password).unwrap())
        .await
        .unwrap();
    session_of(state, name, &password).await
}

/// Logs `name` in and returns the session cookie and its CSRF token.
async fn session_of(state: &AppState, name: &str, password: &str) -> (String, String) {
    let (status, cookie, _) = login(state, name, password).await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{name} logs in");
    let cookie = cookie.unwrap();
    let (_, _, html) = send(state, get("/search", &cookie)).await;
    (cookie, hidden_csrf(&html))
}

/// Posts an account form as `cookie` with `csrf`; `fields` are already URL-encoded.
async fn account_form(
    state: &AppState,
    cookie: &str,
    csrf: &str,
    fields: &str,
) -> (StatusCode, axum::http::HeaderMap, String) {
    send(
        state,
        post_form("/admin/users", cookie, format!("csrf={csrf}&{fields}")),
    )
    .await
}

async fn audit_actions(state: &AppState, n: i64) -> Vec<(String, Option<String>, Option<String>)> {
    state
        .store
        .audit_entries(n)
        .await
        .unwrap()
        .into_iter()
        .map(|e| (e.action, e.target, e.detail))
        .collect()
}

#[tokio::test]
async fn admins_create_disable_enable_and_reset_users() {
    let f = fixture().await;
    let (admin, csrf) = logged_in(&f.state, "kapolres", "admin").await;
    let (status, _, html) = send(&f.state, get("/admin/users", &admin)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        html.contains("href=\"/admin/users\""),
        "admins get the menu link"
    );
    assert!(html.contains("<strong>budi</strong>") && html.contains("<strong>kapolres</strong>"));

    // Create an analyst, from a recorded address.
    let mut create = post_form(
        "/admin/users",
        &admin,
        format!("csrf={csrf}&action=create&username=siti&role=analyst&password=sandi-siti-123"),
    );
    create
        .extensions_mut()
        .insert(axum::extract::ConnectInfo(std::net::SocketAddr::from((
            [10, 1, 2, 3],
            4000,
        ))));
    let (status, h, _) = send(&f.state, create).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(h[header::LOCATION], "/admin/users?done=create");
    let created = &f.state.store.audit_entries(1).await.unwrap()[0];
    assert_eq!(
        (
            created.actor.as_str(),
            created.action.as_str(),
            created.target.as_deref(),
            created.detail.as_deref(),
            created.remote.as_deref()
        ),
        (
            "kapolres",
            "user_create",
            Some("siti"),
            Some("role analyst"),
            Some("10.1.2.3")
        )
    );
    let (_, _, html) = send(&f.state, get("/admin/users?done=create", &admin)).await;
    assert!(html.contains("Pengguna ditambahkan."), "{html}");
    assert!(html.contains("<strong>siti</strong>"));
    assert_eq!(
        f.state.store.user("siti").await.unwrap().unwrap().role,
        "analyst"
    );
    session_of(&f.state, "siti", "sandi-siti-123").await;

    // Disable an officer who is logged in: the session ends and login is refused.
    let (officer, _) = session_of(&f.state, "budi", "sandi-rahasia").await;
    let (status, _, _) =
        account_form(&f.state, &admin, &csrf, "action=disable&username=budi").await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (status, h, _) = send(&f.state, get("/search", &officer)).await;
    assert_eq!(
        (status, h[header::LOCATION].to_str().unwrap()),
        (StatusCode::SEE_OTHER, "/login"),
        "the old session is gone"
    );
    assert_eq!(
        login(&f.state, "budi", "sandi-rahasia").await.0,
        StatusCode::UNAUTHORIZED
    );
    let (_, _, html) = send(&f.state, get("/admin/users", &admin)).await;
    assert!(
        html.contains("<tr class=\"disabled\">"),
        "shown as disabled"
    );

    // Enable again, then reset the password: the new one works, the old one and its session not.
    account_form(&f.state, &admin, &csrf, "action=enable&username=budi").await;
    assert_eq!(
        send(&f.state, get("/search", &officer)).await.0,
        StatusCode::SEE_OTHER,
        "enabling again does not revive the session that was ended"
    );
    let (officer, _) = session_of(&f.state, "budi", "sandi-rahasia").await;
    let (status, h, _) = account_form(
        &f.state,
        &admin,
        &csrf,
        "action=password&username=budi&password=sandi-baru-456",
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(h[header::LOCATION], "/admin/users?done=password");
    assert_eq!(
        send(&f.state, get("/search", &officer)).await.0,
        StatusCode::SEE_OTHER
    );
    assert_eq!(
        login(&f.state, "budi", "sandi-rahasia").await.0,
        StatusCode::UNAUTHORIZED
    );
    session_of(&f.state, "budi", "sandi-baru-456").await;

    // Promote, and check the whole story is in the audit log, without any password.
    account_form(
        &f.state,
        &admin,
        &csrf,
        "action=role&username=budi&role=admin",
    )
    .await;
    assert_eq!(
        f.state.store.user("budi").await.unwrap().unwrap().role,
        "admin"
    );
    let entries = f.state.store.audit_entries(100).await.unwrap();
    let mine: Vec<(&str, &str, &str)> = entries
        .iter()
        .rev()
        .filter(|e| e.actor == "kapolres" && e.action.starts_with("user_"))
        .map(|e| {
            (
                e.action.as_str(),
                e.target.as_deref().unwrap_or(""),
                e.detail.as_deref().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        mine,
        [
            ("user_create", "siti", "role analyst"),
            ("user_disable", "budi", "disabled; sessions ended"),
            ("user_enable", "budi", "enabled"),
            ("user_password", "budi", "password reset; sessions ended"),
            ("user_role", "budi", "officer → admin"),
        ]
    );
    assert!(
        entries
            .iter()
            .all(|e| !e.detail.as_deref().unwrap_or("").contains("sandi-")),
        "passwords never reach the audit log"
    );
}

#[tokio::test]
async fn officers_and_analysts_are_refused_and_audited() {
    let f = fixture().await;
    for (name, role) in [("budi2", "officer"), ("ani", "analyst")] {
        let (cookie, csrf) = logged_in(&f.state, name, role).await;
        let (status, _, html) = send(&f.state, get("/admin/users", &cookie)).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{role}");
        assert!(html.contains("Peran Anda tidak berhak"), "{html}");
        assert!(
            !html.contains("href=\"/admin/users\""),
            "no menu link for {role}"
        );
        assert_eq!(
            audit_actions(&f.state, 1).await,
            [("users_view_refused".into(), None, None)]
        );

        let (status, _, _) = account_form(
            &f.state,
            &cookie,
            &csrf,
            "action=create&username=mallory&role=admin&password=sandi-mallory-1",
        )
        .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{role}");
        assert!(f.state.store.user("mallory").await.unwrap().is_none());
        let (status, _, _) = account_form(
            &f.state,
            &cookie,
            &csrf,
            &format!("action=role&username={name}&role=admin"),
        )
        .await;
        assert_eq!(
            status,
            StatusCode::FORBIDDEN,
            "{role} cannot promote themselves"
        );
        assert_eq!(f.state.store.user(name).await.unwrap().unwrap().role, role);
        assert_eq!(
            audit_actions(&f.state, 2).await,
            [
                ("user_role_refused".into(), Some(name.into()), None),
                ("user_create_refused".into(), Some("mallory".into()), None),
            ]
        );
    }
}

#[tokio::test]
async fn account_forms_without_the_csrf_token_are_refused() {
    let f = fixture().await;
    let (admin, _) = logged_in(&f.state, "kapolres", "admin").await;
    for body in [
        "action=create&username=eve&role=officer&password=sandi-eve-1234",
        "csrf=forged&action=create&username=eve&role=officer&password=sandi-eve-1234",
        "csrf=&action=disable&username=budi",
    ] {
        let (status, _, html) =
            send(&f.state, post_form("/admin/users", &admin, body.into())).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
        assert!(html.contains("Formulir kedaluwarsa"), "{html}");
    }
    assert!(f.state.store.user("eve").await.unwrap().is_none());
    assert!(!f.state.store.user("budi").await.unwrap().unwrap().disabled);
}

#[tokio::test]
async fn the_last_active_admin_can_be_neither_disabled_nor_demoted() {
    let f = fixture().await;
    let (admin, csrf) = logged_in(&f.state, "kapolres", "admin").await;
    for fields in [
        "action=disable&username=kapolres",
        "action=role&username=kapolres&role=officer",
    ] {
        let (status, _, html) = account_form(&f.state, &admin, &csrf, fields).await;
        assert_eq!(status, StatusCode::CONFLICT, "{fields}");
        assert!(html.contains("admin aktif terakhir"), "{html}");
        assert!(
            html.contains("<strong>kapolres</strong>"),
            "the user list is shown again"
        );
    }
    let me = f.state.store.user("kapolres").await.unwrap().unwrap();
    assert_eq!((me.role.as_str(), me.disabled), ("admin", false));
    assert_eq!(
        audit_actions(&f.state, 1).await,
        [(
            "user_role".into(),
            Some("kapolres".into()),
            Some("refused: users.error.last_admin".into())
        )]
    );
    assert_eq!(
        send(&f.state, get("/admin/users", &admin)).await.0,
        StatusCode::OK,
        "still an admin, still logged in"
    );

    // With a second admin, stepping down is allowed.
    account_form(
        &f.state,
        &admin,
        &csrf,
        "action=role&username=budi&role=admin",
    )
    .await;
    let (status, _, _) = account_form(
        &f.state,
        &admin,
        &csrf,
        "action=role&username=kapolres&role=officer",
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(
        send(&f.state, get("/admin/users", &admin)).await.0,
        StatusCode::FORBIDDEN,
        "the new role applies at once"
    );
}

#[tokio::test]
async fn bad_account_forms_say_what_to_change() {
    let f = fixture().await;
    let (admin, csrf) = logged_in(&f.state, "kapolres", "admin").await;
    let cases = [
        (
            "action=create&username=eve&role=officer&password=pendek",
            StatusCode::BAD_REQUEST,
            "10 sampai 256 karakter",
        ),
        (
            "action=create&username=eve+x&role=officer&password=sandi-eve-1234",
            StatusCode::BAD_REQUEST,
            "Nama pengguna tidak sah",
        ),
        (
            "action=create&username=eve&role=root&password=sandi-eve-1234",
            StatusCode::BAD_REQUEST,
            "Pilih peran",
        ),
        (
            "action=create&username=budi&role=officer&password=sandi-eve-1234",
            StatusCode::CONFLICT,
            "sudah dipakai",
        ),
        (
            "action=password&username=budi&password=pendek",
            StatusCode::BAD_REQUEST,
            "10 sampai 256 karakter",
        ),
        (
            "action=disable&username=nobody",
            StatusCode::NOT_FOUND,
            "tidak ada",
        ),
    ];
    for (fields, status, message) in cases {
        let (got, _, html) = account_form(&f.state, &admin, &csrf, fields).await;
        assert_eq!(got, status, "{fields}");
        assert!(html.contains(message), "{fields}: {html}");
        assert!(html.contains("role=\"alert\""), "{fields}");
    }
    assert!(f.state.store.user("eve").await.unwrap().is_none());
    assert!(
        verify_password(
            &f.state
                .store
                .user("budi")
                .await
                .unwrap()
                .unwrap()
                .password_hash,
            "sandi-rahasia"
        ),
        "a refused reset leaves the password"
    );
    let english = format!("{admin}; patroli_lang=en");
    let (_, _, html) = account_form(
        &f.state,
        &english,
        &csrf,
        "action=disable&username=kapolres",
    )
    .await;
    assert!(
        html.contains("Refused: this is the last active admin"),
        "{html}"
    );
}
