//! `patroli user token`: a token printed once for an existing user, listed, revoked; the store
//! keeps only its hash and refuses it once revoked.

use std::io::Write;
use std::process::{Command, Output, Stdio};

use patroli_index::{Store, TokenCheck};

/// Runs `patroli --data-dir DATA ARGS…` with `stdin` as standard input.
fn patroli(data: &std::path::Path, args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_patroli"))
        .arg("--data-dir")
        .arg(data)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("patroli starts");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[tokio::test]
async fn tokens_are_made_listed_and_revoked_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    let added = patroli(
        data,
        &[
            "user",
            "add",
            "budi",
            "--role",
            "officer",
            "--password-stdin",
        ],
        "sandi-yang-panjang\n",
    );
    assert!(added.status.success(), "{}", text(&added.stderr));

    let unknown = patroli(data, &["user", "token", "siapa"], "");
    assert!(!unknown.status.success());
    assert!(
        text(&unknown.stderr).contains("user not found"),
        "{}",
        text(&unknown.stderr)
    );

    let made = patroli(
        data,
        &["user", "token", "budi", "--label", "One Data TPPO"],
        "",
    );
    assert!(made.status.success(), "{}", text(&made.stderr));
    let token = text(&made.stdout).trim().to_string();
    assert!(
        token.starts_with("patroli_") && token.len() == 8 + 64,
        "{token}"
    );
    assert!(text(&made.stderr).contains("shown only now"));

    let listed = text(&patroli(data, &["user", "token", "budi", "--list"], "").stdout);
    assert!(listed.starts_with("1\tOne Data TPPO\tcreated "), "{listed}");
    assert!(
        listed.contains("last used -") && listed.trim_end().ends_with("live"),
        "{listed}"
    );
    assert!(
        !listed.contains(&token),
        "the token itself is never shown again"
    );

    let store = Store::open(data).await.unwrap();
    assert!(matches!(
        store.check_api_token(&token).await.unwrap(),
        TokenCheck::Valid { user, .. } if user.username == "budi" && user.role == "officer"
    ));
    drop(store);

    let revoked = patroli(data, &["user", "token", "budi", "--revoke", "1"], "");
    assert!(revoked.status.success(), "{}", text(&revoked.stderr));
    assert_eq!(text(&revoked.stdout), "API token 1 of budi revoked\n");
    let again = patroli(data, &["user", "token", "budi", "--revoke", "1"], "");
    assert!(
        text(&again.stderr).contains("already revoked"),
        "{}",
        text(&again.stderr)
    );
    let listed = text(&patroli(data, &["user", "token", "budi", "--list"], "").stdout);
    assert!(listed.contains("revoked "), "{listed}");

    let store = Store::open(data).await.unwrap();
    assert!(matches!(
        store.check_api_token(&token).await.unwrap(),
        TokenCheck::Revoked { .. }
    ));
    let actions: Vec<String> = store
        .audit_entries(10)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.actor == "cli")
        .map(|e| e.action)
        .collect();
    for action in ["api_token_create", "api_token_list", "api_token_revoke"] {
        assert!(
            actions.iter().any(|a| a == action),
            "{action} in {actions:?}"
        );
    }
}
