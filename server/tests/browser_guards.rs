//! What a hostile page or network can make a browser send: requests for another host name
//! (DNS rebinding against a Mailbridge on 127.0.0.1) are refused, and every answer carries the
//! headers that keep the browser from framing, sniffing or leaking the page.

mod common;

async fn get(app: &common::TestApp, path: &str, host: &str) -> reqwest::Response {
    common::new_client()
        .get(format!("{}{path}", app.url))
        .header("host", host)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_request_for_another_host_is_refused_except_the_health_check() {
    let app = common::spawn().await;
    let port = app.url.rsplit(':').next().unwrap().to_string();
    let evil = format!("evil.example:{port}");
    for path in ["/", "/login", "/pkg/mailbridge.css", "/oauth/callback/key"] {
        assert_eq!(get(&app, path, &evil).await.status(), 421, "{path}");
    }
    let res = common::new_client()
        .post(format!("{}/api/login", app.url))
        .header("host", &evil)
        .form(&[("email", "a@b.test"), ("password", "x")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 421);
    assert_eq!(get(&app, "/healthz", &evil).await.status(), 200);
    assert_eq!(get(&app, "/login", &app.host()).await.status(), 200);
    // The loopback names of a loopback public URL are this site too.
    assert_eq!(
        get(&app, "/login", &format!("localhost:{port}"))
            .await
            .status(),
        200
    );
}

#[tokio::test]
async fn behind_a_proxy_the_public_host_is_the_one_answered() {
    let app = common::spawn_with(&[("MAILBRIDGE_PUBLIC_URL", "https://mail.example.com")]).await;
    assert_eq!(get(&app, "/login", "mail.example.com").await.status(), 200);
    assert_eq!(
        get(&app, "/login", "mail.example.com:443").await.status(),
        200
    );
    let port = app.url.rsplit(':').next().unwrap().to_string();
    assert_eq!(
        get(&app, "/login", &format!("127.0.0.1:{port}"))
            .await
            .status(),
        421
    );
}

fn header(res: &reqwest::Response, name: &str) -> String {
    res.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string()
}

#[tokio::test]
async fn every_answer_carries_the_browser_safety_headers() {
    let app = common::spawn().await;
    let host = app.host();
    let mut answers = vec![];
    for path in [
        "/login",
        "/",
        "/healthz",
        "/pkg/mailbridge.css",
        "/no-such-page",
    ] {
        answers.push((path.to_string(), get(&app, path, &host).await));
    }
    let api = common::new_client()
        .post(format!("{}/api/current_user", app.url))
        .header("host", &host)
        .header("origin", app.origin())
        .send()
        .await
        .unwrap();
    answers.push(("/api/current_user".into(), api));
    for (path, res) in &answers {
        assert_eq!(header(res, "x-content-type-options"), "nosniff", "{path}");
        assert_eq!(header(res, "referrer-policy"), "no-referrer", "{path}");
        let csp = header(res, "content-security-policy");
        assert!(csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
        assert!(csp.contains("base-uri 'none'"), "{path}: {csp}");
        assert!(
            header(res, "strict-transport-security").is_empty(),
            "http: no HSTS"
        );
    }

    // A page's policy admits its own inline scripts by this response's nonce, and no other.
    let res = get(&app, "/login", &host).await;
    let csp = header(&res, "content-security-policy");
    let nonce = csp
        .split("'nonce-")
        .nth(1)
        .and_then(|r| r.split('\'').next())
        .unwrap_or_else(|| panic!("no nonce in {csp}"))
        .to_string();
    assert!(csp.contains("'wasm-unsafe-eval'"), "{csp}");
    assert!(!csp.contains("unsafe-inline"), "{csp}");
    let html = res.text().await.unwrap();
    assert!(
        html.contains(&format!("nonce=\"{nonce}\"")),
        "scripts carry the nonce"
    );
    let again = get(&app, "/login", &host).await;
    assert!(
        !header(&again, "content-security-policy").contains(&nonce),
        "a new nonce per response"
    );
}

#[tokio::test]
async fn over_https_the_browser_is_told_to_stay_on_https() {
    let app = common::spawn_with(&[("MAILBRIDGE_PUBLIC_URL", "https://mail.example.com")]).await;
    let res = get(&app, "/login", "mail.example.com").await;
    assert!(header(&res, "strict-transport-security").contains("max-age="));
}
