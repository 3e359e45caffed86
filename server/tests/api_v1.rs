//! API keys and the REST API (issue 15): keys shown once and stored as hashes; every refusal
//! with its status, JSON body and nothing changed; fresh tokens through the single-flight
//! refresh; hand-outs recorded; pending accounts created; the OpenAPI document; the CLI.

mod common;

use app::api::api_keys::{CreateApiKey, ListApiKeys, RevokeApiKey};
use app::api::mail_accounts::TokenHandouts;
use app::domain::{AccountStatus, ApiKeyDraft};
use app::ssr::crypto::aad;
use common::linked::Linked;
use serde_json::Value;

fn draft(name: &str) -> ApiKeyDraft {
    ApiKeyDraft {
        name: name.into(),
        all_servers: true,
        perm_tokens: true,
        perm_accounts: true,
        ..Default::default()
    }
}

async fn create_key(l: &Linked, d: ApiKeyDraft) -> String {
    l.app.ok(CreateApiKey { draft: d }, &l.admin).await.key
}

struct Answer {
    status: u16,
    headers: reqwest::header::HeaderMap,
    body: Value,
}

async fn call(
    l: &Linked,
    method: &str,
    path: &str,
    key: Option<&str>,
    body: Option<Value>,
) -> Answer {
    let client = reqwest::Client::new();
    let url = format!("{}{path}", l.app.url);
    let mut req = match method {
        "POST" => client.post(url),
        _ => client.get(url),
    };
    if let Some(k) = key {
        req = req.bearer_auth(k);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    let headers = res.headers().clone();
    let body = res.json().await.unwrap_or(Value::Null);
    Answer {
        status,
        headers,
        body,
    }
}

/// Refreshes this instance has sent to the provider so far.
fn refreshes(l: &Linked) -> u64 {
    l.app
        .state
        .refresher
        .calls
        .load(std::sync::atomic::Ordering::SeqCst)
}

/// The access token stored for `account`, opened.
async fn stored_token(l: &Linked, account: i64) -> String {
    let blob: Vec<u8> =
        sqlx::query_scalar("SELECT access_token_enc FROM mail_accounts WHERE id = $1")
            .bind(account)
            .fetch_one(&l.app.state.pool)
            .await
            .unwrap();
    l.app
        .state
        .secrets
        .open_str(&blob, &aad::ACCESS_TOKEN.row(account))
        .unwrap()
}

fn token_path(account: i64) -> String {
    format!("/api/v1/accounts/{account}/access-token")
}

async fn handouts(l: &Linked) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM token_handouts")
        .fetch_one(&l.app.state.pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_key_is_shown_once_kept_as_a_hash_and_refused_when_unknown_revoked_or_expired() {
    let l = Linked::start(&[], &[], "mailbox@example.test").await;
    let key = create_key(&l, draft("Helpdesk")).await;
    assert!(key.starts_with("mbk_") && key.len() == 4 + 43, "{key}");
    // Nothing stored holds the key; the list shows its first characters only.
    let stored: Vec<(String, String)> = sqlx::query_as("SELECT prefix, key_hash FROM api_keys")
        .fetch_all(&l.app.state.pool)
        .await
        .unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].0, key[..12]);
    assert_ne!(stored[0].1, key);
    assert!(!stored[0].1.contains(&key[4..]));
    let list = l.app.ok(ListApiKeys {}, &l.admin).await;
    assert_eq!(list[0].prefix, key[..12]);
    assert!(!format!("{list:?}").contains(&key[12..]));
    // A second key of the same name is a field error.
    let again = l
        .app
        .call(
            CreateApiKey {
                draft: draft("helpdesk"),
            },
            Some(&l.admin),
        )
        .await;
    assert_eq!(common::fields(&again), vec!["Name"]);
    // Only an admin creates keys.
    let by_user = l
        .app
        .call(
            CreateApiKey {
                draft: draft("Mine"),
            },
            Some(&l.owner),
        )
        .await;
    assert_eq!(by_user.unwrap_err().0, 403);

    let ok = call(&l, "GET", "/api/v1/accounts", Some(&key), None).await;
    assert_eq!(ok.status, 200, "{}", ok.body);
    assert_eq!(ok.body["total"], 1);

    let refused = |a: &Answer, why: &str| {
        assert_eq!(a.status, 401, "{why}: {}", a.body);
        assert_eq!(
            a.headers["www-authenticate"], "Bearer error=\"invalid_token\"",
            "{why}"
        );
        assert_eq!(a.body["error"], "invalid_token", "{why}");
        assert!(a.body["message"].as_str().is_some_and(|m| !m.is_empty()));
    };
    refused(
        &call(&l, "GET", "/api/v1/accounts", None, None).await,
        "missing",
    );
    let unknown = format!("mbk_{}", "A".repeat(43));
    refused(
        &call(&l, "GET", "/api/v1/accounts", Some(&unknown), None).await,
        "unknown",
    );
    refused(
        &call(&l, "POST", &token_path(l.account), Some("not-a-key"), None).await,
        "malformed",
    );

    // Expired: the day it ends has passed.
    let expiring = create_key(&l, draft("Expiring")).await;
    sqlx::query("UPDATE api_keys SET expires_at = $1 WHERE name = 'Expiring'")
        .bind(l.app.state.clock.now())
        .execute(&l.app.state.pool)
        .await
        .unwrap();
    refused(
        &call(&l, "GET", "/api/v1/accounts", Some(&expiring), None).await,
        "expired",
    );

    // Revoked: from the next request on.
    let id = list[0].id;
    l.app.ok(RevokeApiKey { id }, &l.admin).await;
    refused(
        &call(&l, "POST", &token_path(l.account), Some(&key), None).await,
        "revoked",
    );
    assert_eq!(
        handouts(&l).await,
        0,
        "no refused request handed anything out"
    );
}

#[tokio::test]
async fn permissions_servers_and_addresses_limit_a_key() {
    let l = Linked::start(&[], &[], "mailbox@example.test").await;
    let tokens_only = create_key(
        &l,
        ApiKeyDraft {
            perm_accounts: false,
            ..draft("Tokens")
        },
    )
    .await;
    let a = call(&l, "GET", "/api/v1/accounts", Some(&tokens_only), None).await;
    assert_eq!(
        (a.status, a.body["error"].as_str()),
        (403, Some("insufficient_scope"))
    );
    let accounts_only = create_key(
        &l,
        ApiKeyDraft {
            perm_tokens: false,
            ..draft("Accounts")
        },
    )
    .await;
    let a = call(
        &l,
        "POST",
        &token_path(l.account),
        Some(&accounts_only),
        None,
    )
    .await;
    assert_eq!(
        (a.status, a.body["error"].as_str()),
        (403, Some("insufficient_scope"))
    );

    // A key for another server does not see this account: 404, as for one that does not exist.
    let other = l
        .app
        .create_server(
            &l.admin,
            common::password_draft("Elsewhere", "127.0.0.1", 993, 465),
        )
        .await;
    let elsewhere = create_key(
        &l,
        ApiKeyDraft {
            all_servers: false,
            server_ids: vec![other],
            ..draft("Elsewhere")
        },
    )
    .await;
    for (method, path) in [
        ("GET", format!("/api/v1/accounts/{}", l.account)),
        ("POST", token_path(l.account)),
        ("GET", "/api/v1/accounts/999999".to_string()),
    ] {
        let a = call(&l, method, &path, Some(&elsewhere), None).await;
        assert_eq!(
            (a.status, a.body["error"].as_str()),
            (404, Some("not_found")),
            "{path}"
        );
    }
    let listed = call(&l, "GET", "/api/v1/accounts", Some(&elsewhere), None).await;
    assert_eq!(listed.body["total"], 0);

    // Outside the allowed addresses (the test calls from 127.0.0.1).
    let office = create_key(
        &l,
        ApiKeyDraft {
            allowed_ips: "203.0.113.0/24".into(),
            ..draft("Office")
        },
    )
    .await;
    let a = call(&l, "POST", &token_path(l.account), Some(&office), None).await;
    assert_eq!(
        (a.status, a.body["error"].as_str()),
        (403, Some("forbidden_address"))
    );
    assert_eq!(handouts(&l).await, 0);
    let keys = l.app.ok(ListApiKeys {}, &l.admin).await;
    let office = keys.iter().find(|k| k.name == "Office").unwrap();
    assert_eq!(office.last_used_at, None, "a refused caller is not a use");
}

#[tokio::test]
async fn a_token_is_handed_out_fresh_with_its_xoauth2_string_and_recorded() {
    // Access tokens live 10 minutes: a minimum validity of 55 minutes forces a refresh.
    let l = Linked::start(&[("ACCESS_TTL", "600")], &[], "mailbox@example.test").await;
    let key = create_key(&l, draft("Helpdesk")).await;
    let calls = || refreshes(&l);
    let before = calls();
    let a = call(&l, "POST", &token_path(l.account), Some(&key), None).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(
        calls(),
        before,
        "a token good for 10 more minutes is handed out as it is"
    );
    let token = stored_token(&l, l.account).await;
    assert_eq!(a.body["access_token"], token.as_str());
    assert_eq!(a.body["token_type"], "Bearer");
    assert_eq!(a.body["login"], "mailbox@example.test");
    assert!(a.body["expires_at"].as_str().unwrap().ends_with('Z'));
    assert_eq!(a.body["imap"]["port"], 993);
    assert_eq!(a.body["smtp"]["encryption"], "ssl");
    use base64::Engine;
    let sasl = base64::engine::general_purpose::STANDARD
        .decode(a.body["sasl_xoauth2"].as_str().unwrap())
        .unwrap();
    assert_eq!(
        String::from_utf8(sasl).unwrap(),
        format!("user=mailbox@example.test\x01auth=Bearer {token}\x01\x01")
    );
    assert_eq!(a.headers["cache-control"], "no-store");

    let forced = call(
        &l,
        "POST",
        &token_path(l.account),
        Some(&key),
        Some(serde_json::json!({"min_validity_secs": 3300})),
    )
    .await;
    assert_eq!(forced.status, 200, "{}", forced.body);
    assert_eq!(calls(), before + 1, "refreshed first");
    assert_ne!(forced.body["access_token"], token.as_str());

    let bad = call(
        &l,
        "POST",
        &token_path(l.account),
        Some(&key),
        Some(serde_json::json!({"min_validity_secs": 99999})),
    )
    .await;
    assert_eq!(
        (bad.status, bad.body["field"].as_str()),
        (400, Some("min_validity_secs"))
    );

    // Recorded, and the account's page says so.
    assert_eq!(handouts(&l).await, 2);
    let summary = l.app.ok(TokenHandouts { id: l.account }, &l.owner).await;
    assert_eq!(summary.today, 2);
    assert_eq!(summary.last.unwrap().0, "Helpdesk");
    let keys = l.app.ok(ListApiKeys {}, &l.admin).await;
    assert_eq!(keys[0].last_used_addr.as_deref(), Some("127.0.0.1"));
}

#[tokio::test]
async fn a_hundred_concurrent_token_calls_for_an_expiring_account_make_one_refresh() {
    let l = Linked::start(&[("ROTATE_REFRESH", "1")], &[], "mailbox@example.test").await;
    let key = create_key(&l, draft("Busy")).await;
    sqlx::query("UPDATE mail_accounts SET access_expires_at = $1 WHERE id = $2")
        .bind(l.app.state.clock.now() + 10)
        .bind(l.account)
        .execute(&l.app.state.pool)
        .await
        .unwrap();
    let at_provider = || async {
        let counts: Value = reqwest::get(format!("{}/kit/refreshes", l.oidc.issuer))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        counts["total"].as_u64().unwrap()
    };
    let before = at_provider().await;
    let client = reqwest::Client::new();
    let url = format!("{}{}", l.app.url, token_path(l.account));
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..100 {
        let (client, url, key) = (client.clone(), url.clone(), key.clone());
        tasks.spawn(async move {
            let res = client.post(url).bearer_auth(key).send().await.unwrap();
            let status = res.status().as_u16();
            let body: Value = res.json().await.unwrap();
            (
                status,
                body["access_token"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
            )
        });
    }
    let mut tokens = std::collections::HashSet::new();
    while let Some(r) = tasks.join_next().await {
        let (status, token) = r.unwrap();
        assert_eq!(status, 200);
        tokens.insert(token);
    }
    assert_eq!(
        at_provider().await - before,
        1,
        "exactly one refresh at the provider"
    );
    assert_eq!(tokens.len(), 1, "everyone got the refreshed token");
    assert_eq!(handouts(&l).await, 100);
}

#[tokio::test]
async fn over_the_rate_a_key_waits() {
    let l = Linked::start(
        &[],
        &[("MAILBRIDGE_API_RATE_PER_MINUTE", "3")],
        "mailbox@example.test",
    )
    .await;
    let key = create_key(&l, draft("Chatty")).await;
    for _ in 0..3 {
        assert_eq!(
            call(&l, "GET", "/api/v1/accounts", Some(&key), None)
                .await
                .status,
            200
        );
    }
    let a = call(&l, "POST", &token_path(l.account), Some(&key), None).await;
    assert_eq!(
        (a.status, a.body["error"].as_str()),
        (429, Some("rate_limited"))
    );
    let retry: u64 = a.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    assert_eq!(handouts(&l).await, 0);
    // Another key has its own budget.
    let other = create_key(&l, draft("Quiet")).await;
    assert_eq!(
        call(&l, "GET", "/api/v1/accounts", Some(&other), None)
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn accounts_that_cannot_hand_out_a_token_say_why() {
    let l = Linked::start(&[], &[], "mailbox@example.test").await;
    let key = create_key(&l, draft("Helpdesk")).await;
    // Pending (never authorised).
    let pending = l
        .app
        .create_account(&l.owner, l.server, "new@example.test")
        .await;
    let a = call(&l, "POST", &token_path(pending), Some(&key), None).await;
    assert_eq!(
        (a.status, a.body["error"].as_str()),
        (409, Some("account_unusable"))
    );
    assert_eq!(a.body["status"], "pending");
    // Needs re-authorisation, with its last error.
    sqlx::query("UPDATE mail_accounts SET status = 'needs_reauth', last_error = 'invalid_grant: revoked' WHERE id = $1")
        .bind(l.account)
        .execute(&l.app.state.pool)
        .await
        .unwrap();
    let a = call(&l, "POST", &token_path(l.account), Some(&key), None).await;
    assert_eq!(a.status, 409);
    assert_eq!(a.body["status"], "needs_reauth");
    assert_eq!(a.body["last_error"], "invalid_grant: revoked");
    // A password account has no token.
    let pw_server = l
        .app
        .create_server(
            &l.admin,
            common::password_draft("Plain", "127.0.0.1", 993, 465),
        )
        .await;
    let pw = l
        .app
        .ok(
            common::new_account(pw_server, "pw@example.test", "", "secret"),
            &l.admin,
        )
        .await;
    let a = call(&l, "POST", &token_path(pw), Some(&key), None).await;
    assert_eq!(
        (a.status, a.body["error"].as_str()),
        (409, Some("account_unusable"))
    );
    assert!(a.body["message"].as_str().unwrap().contains("password"));
    assert_eq!(handouts(&l).await, 0);
}

#[tokio::test]
async fn a_program_creates_a_pending_account_for_a_user_to_authorise() {
    let l = Linked::start(&[], &[], "mailbox@example.test").await;
    let key = create_key(&l, draft("CRM")).await;
    let body = serde_json::json!({
        "owner_email": "owner@example.test",
        "server_id": l.server,
        "name": "Sales",
        "login": "sales@example.test",
    });
    let a = call(
        &l,
        "POST",
        "/api/v1/accounts",
        Some(&key),
        Some(body.clone()),
    )
    .await;
    assert_eq!(a.status, 201, "{}", a.body);
    let id = a.body["account"]["id"].as_i64().unwrap();
    assert_eq!(a.body["account"]["status"], "pending");
    assert_eq!(a.body["account"]["owner_email"], "owner@example.test");
    assert_eq!(
        a.body["authorize_url"],
        format!("{}/mail-accounts/{id}", l.app.url).as_str()
    );
    // The owner authorises it like any other.
    assert_eq!(l.authorize(&l.owner, id).await, "linked");
    assert_eq!(l.status(id).await.0, AccountStatus::Linked);

    // Bad input names the field; nothing is created.
    let count = || async {
        sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM mail_accounts")
            .fetch_one(&l.app.state.pool)
            .await
            .unwrap()
    };
    let n = count().await;
    for (patch, field) in [
        (
            serde_json::json!({"owner_email": "nobody@example.test"}),
            "owner_email",
        ),
        (serde_json::json!({"login": "not an address"}), "login"),
    ] {
        let mut b = body.clone();
        for (k, v) in patch.as_object().unwrap() {
            b[k] = v.clone();
        }
        let a = call(&l, "POST", "/api/v1/accounts", Some(&key), Some(b)).await;
        assert_eq!(
            (a.status, a.body["field"].as_str()),
            (400, Some(field)),
            "{}",
            a.body
        );
    }
    let a = call(
        &l,
        "POST",
        "/api/v1/accounts",
        Some(&key),
        Some(serde_json::json!({"x": 1})),
    )
    .await;
    assert_eq!(
        (a.status, a.body["error"].as_str()),
        (400, Some("invalid_request"))
    );
    // A token-only key may not create accounts.
    let tokens = create_key(
        &l,
        ApiKeyDraft {
            perm_accounts: false,
            ..draft("T")
        },
    )
    .await;
    let a = call(&l, "POST", "/api/v1/accounts", Some(&tokens), Some(body)).await;
    assert_eq!(a.status, 403);
    assert_eq!(count().await, n);
}

#[tokio::test]
async fn the_openapi_document_parses_and_lists_every_route() {
    let app = common::spawn().await;
    let res = app.get("/api/v1/openapi.json", None).await;
    assert_eq!(res.status(), 200);
    let doc: Value = res.json().await.unwrap();
    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3.1"),
        "{}",
        doc["openapi"]
    );
    let paths = doc["paths"].as_object().unwrap();
    for (path, method) in [
        ("/api/v1/accounts", "get"),
        ("/api/v1/accounts", "post"),
        ("/api/v1/accounts/{id}", "get"),
        ("/api/v1/accounts/{id}/access-token", "post"),
    ] {
        assert!(paths[path][method].is_object(), "{method} {path}");
    }
    for schema in ["Account", "AccessToken", "ErrorBody", "NewAccount"] {
        assert!(doc["components"]["schemas"][schema].is_object(), "{schema}");
    }
    assert!(doc["components"]["securitySchemes"]["api_key"].is_object());
}

#[tokio::test]
async fn the_token_command_prints_a_token_and_says_why_not_with_its_exit_code() {
    let l = Linked::start(&[], &[], "mailbox@example.test").await;
    let pending = l
        .app
        .create_account(&l.owner, l.server, "new@example.test")
        .await;
    let run = |args: Vec<String>| {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_mailbridge"));
        cmd.arg("token")
            .args(args)
            .env("MAILBRIDGE_DATABASE_URL", &l.app.db_url);
        if !l.app.db_url.starts_with("sqlite:") {
            cmd.env(
                "MAILBRIDGE_SECRET_KEY_FILE",
                common::postgres::key_file_for(&l.app.db_url),
            );
        }
        cmd.output().unwrap()
    };
    let out = run(vec![
        "--account".into(),
        l.account.to_string(),
        "--min-validity".into(),
        "0".into(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let printed = String::from_utf8(out.stdout).unwrap();
    let token = stored_token(&l, l.account).await;
    assert_eq!(printed.trim_end(), token);
    let out = run(vec![
        "--account".into(),
        l.account.to_string(),
        "--format".into(),
        "json".into(),
        "--min-validity".into(),
        "0".into(),
    ]);
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["access_token"], token.as_str());
    for (account, code) in [(999_999, 3), (pending, 4)] {
        let out = run(vec!["--account".into(), account.to_string()]);
        assert_eq!(
            out.status.code(),
            Some(code),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.stdout.is_empty());
    }
    let summary = l.app.ok(TokenHandouts { id: l.account }, &l.owner).await;
    assert_eq!(summary.last.unwrap().0, "command line");
}

#[tokio::test]
async fn a_deactivated_mail_server_hands_out_no_token() {
    // An admin deactivates a server to cut programs off: its tokens are no longer handed out.
    let l = Linked::start(&[], &[], "mailbox@example.test").await;
    let key = create_key(&l, draft("Helpdesk")).await;
    assert_eq!(
        call(&l, "POST", &token_path(l.account), Some(&key), None)
            .await
            .status,
        200
    );
    sqlx::query("UPDATE mail_servers SET active = FALSE WHERE id = $1")
        .bind(l.server)
        .execute(&l.app.state.pool)
        .await
        .unwrap();
    let a = call(&l, "POST", &token_path(l.account), Some(&key), None).await;
    assert_eq!(
        (a.status, a.body["error"].as_str()),
        (409, Some("account_unusable")),
        "{}",
        a.body
    );
    assert!(a.body["message"].as_str().unwrap().contains("deactivated"));
    assert_eq!(handouts(&l).await, 1);
}

#[tokio::test]
async fn a_key_cannot_make_the_provider_refresh_on_every_call() {
    // Tokens live 10 minutes; a caller asking for 55 more minutes each time would otherwise
    // cause a refresh at the provider per request. Early refreshes: at most one a minute per
    // account; in between, the current token (still valid, its expiry in the answer).
    let l = Linked::start(&[("ACCESS_TTL", "600")], &[], "mailbox@example.test").await;
    let key = create_key(&l, draft("Greedy")).await;
    let calls = || refreshes(&l);
    let before = calls();
    let mut tokens = std::collections::HashSet::new();
    for _ in 0..10 {
        let a = call(
            &l,
            "POST",
            &token_path(l.account),
            Some(&key),
            Some(serde_json::json!({"min_validity_secs": 3300})),
        )
        .await;
        assert_eq!(a.status, 200, "{}", a.body);
        tokens.insert(a.body["access_token"].as_str().unwrap().to_string());
    }
    assert_eq!(calls() - before, 1, "one early refresh, not ten");
    assert_eq!(tokens.len(), 1);
    // A token that is really about to expire is still refreshed at once.
    sqlx::query("UPDATE mail_accounts SET access_expires_at = $1 WHERE id = $2")
        .bind(l.app.state.clock.now() + 30)
        .bind(l.account)
        .execute(&l.app.state.pool)
        .await
        .unwrap();
    let a = call(&l, "POST", &token_path(l.account), Some(&key), None).await;
    assert_eq!(a.status, 200);
    assert_eq!(calls() - before, 2);
}

#[tokio::test]
async fn every_answer_under_api_v1_is_json_and_a_keyless_caller_learns_nothing() {
    let l = Linked::start(&[], &[], "mailbox@example.test").await;
    // A malformed query without a key: 401, not a parse error.
    let a = call(&l, "GET", "/api/v1/accounts?page=1&page=2", None, None).await;
    assert_eq!(a.status, 401);
    let key = create_key(&l, draft("Any")).await;
    let a = call(&l, "GET", "/api/v1/accounts?page=x", Some(&key), None).await;
    assert_eq!(
        (a.status, a.body["error"].as_str()),
        (400, Some("invalid_request"))
    );
    let a = call(&l, "GET", "/api/v1/nothing/here", Some(&key), None).await;
    assert_eq!(
        (a.status, a.body["error"].as_str()),
        (404, Some("not_found"))
    );
    let a = call(&l, "GET", &token_path(l.account), Some(&key), None).await;
    assert_eq!(
        (a.status, a.body["error"].as_str()),
        (405, Some("method_not_allowed"))
    );
}
