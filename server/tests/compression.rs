//! What the browser downloads (issue 18, first part): pages and JSON compressed on the fly for
//! a browser that accepts it, `/pkg` files sent as the precompressed copies a release build
//! made (unless they are older than their files), pages never kept in a cache.

mod common;

use reqwest::header::{ACCEPT_ENCODING, CACHE_CONTROL, CONTENT_ENCODING, CONTENT_TYPE};

/// A client that shows the bytes as sent (no decompression features in the kit's reqwest).
fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

async fn fetch(url: &str, accept: Option<&str>) -> (Option<String>, Option<String>, Vec<u8>) {
    let mut req = client().get(url);
    if let Some(a) = accept {
        req = req.header(ACCEPT_ENCODING, a);
    }
    let res = req.send().await.unwrap();
    assert!(res.status().is_success(), "{url}: {}", res.status());
    let header = |h| {
        res.headers()
            .get(h)
            .map(|v: &reqwest::header::HeaderValue| v.to_str().unwrap().to_string())
    };
    let (enc, cache) = (header(CONTENT_ENCODING), header(CACHE_CONTROL));
    (enc, cache, res.bytes().await.unwrap().to_vec())
}

#[tokio::test]
async fn pages_and_json_are_compressed_when_accepted_and_pages_are_never_kept() {
    let app = common::spawn().await;
    let login = format!("{}/login", app.url);
    let (enc, cache, plain) = fetch(&login, None).await;
    assert_eq!(enc, None);
    assert_eq!(cache.as_deref(), Some("no-store"));
    let (enc, cache, br) = fetch(&login, Some("br, gzip")).await;
    assert_eq!(enc.as_deref(), Some("br"));
    assert_eq!(cache.as_deref(), Some("no-store"));
    assert!(
        br.len() * 2 < plain.len(),
        "{} of {}",
        br.len(),
        plain.len()
    );
    let (enc, _, gz) = fetch(&login, Some("gzip")).await;
    assert_eq!(enc.as_deref(), Some("gzip"));
    assert!(gz.len() * 2 < plain.len());

    let openapi = format!("{}/api/v1/openapi.json", app.url);
    let (_, _, json) = fetch(&openapi, None).await;
    let (enc, _, json_br) = fetch(&openapi, Some("gzip, deflate, br")).await;
    assert_eq!(enc.as_deref(), Some("br"));
    assert!(
        json_br.len() * 3 < json.len(),
        "{} of {}",
        json_br.len(),
        json.len()
    );
}

#[tokio::test]
async fn pkg_files_go_as_their_precompressed_copies_unless_these_are_stale() {
    let site = tempfile::tempdir().unwrap();
    let pkg = site.path().join("pkg");
    std::fs::create_dir_all(&pkg).unwrap();
    let wasm: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    std::fs::write(pkg.join("mailbridge.wasm"), &wasm).unwrap();
    // Stand-ins whose bytes tell which file was sent.
    std::fs::write(pkg.join("mailbridge.wasm.br"), b"the brotli copy").unwrap();
    std::fs::write(pkg.join("mailbridge.wasm.gz"), b"the gzip copy").unwrap();
    let root = site.path().display().to_string();
    let app = common::spawn_with(&[("LEPTOS_SITE_ROOT", root.as_str())]).await;
    let url = format!("{}/pkg/mailbridge.wasm", app.url);

    let res = client()
        .get(&url)
        .header(ACCEPT_ENCODING, "br, gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()[CONTENT_ENCODING], "br");
    assert_eq!(res.headers()[CONTENT_TYPE], "application/wasm");
    assert_eq!(res.headers()[CACHE_CONTROL], "no-cache");
    assert_eq!(res.bytes().await.unwrap().as_ref(), b"the brotli copy");
    let (enc, _, body) = fetch(&url, Some("gzip")).await;
    assert_eq!(enc.as_deref(), Some("gzip"));
    assert_eq!(body, b"the gzip copy");
    let (enc, cache, body) = fetch(&url, None).await;
    assert_eq!((enc, cache.as_deref()), (None, Some("no-cache")));
    assert_eq!(body, wasm);

    // A newer build of the file without new copies: the copies are not sent any more (the file
    // is compressed as it goes instead).
    let later = std::time::SystemTime::now() + std::time::Duration::from_secs(60);
    std::fs::File::options()
        .write(true)
        .open(pkg.join("mailbridge.wasm"))
        .unwrap()
        .set_modified(later)
        .unwrap();
    let restarted = common::spawn_with(&[("LEPTOS_SITE_ROOT", root.as_str())]).await;
    let url = format!("{}/pkg/mailbridge.wasm", restarted.url);
    let (enc, _, body) = fetch(&url, Some("br")).await;
    assert_eq!(enc.as_deref(), Some("br"));
    assert_ne!(body, b"the brotli copy");
    assert!(body.len() < wasm.len() / 10, "{}", body.len());
}

/// cargo-leptos' content hash: MD5, unpadded base64url.
fn md5_name(bytes: &[u8]) -> String {
    use base64::Engine;
    use md5::{Digest, Md5};
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Md5::digest(bytes))
}

/// A site whose files carry content hashes, as `hash-files = true` builds it, with the hash file
/// cargo-leptos writes; the file names by kind.
fn hashed_site() -> (tempfile::TempDir, String, String, Vec<String>) {
    let site = tempfile::tempdir().unwrap();
    let pkg = site.path().join("pkg");
    std::fs::create_dir_all(&pkg).unwrap();
    let mut lines = String::new();
    let mut names = vec![];
    for ext in ["js", "wasm", "css"] {
        let body = format!("the {ext} file");
        let hash = md5_name(body.as_bytes());
        let name = format!("mailbridge.{hash}.{ext}");
        std::fs::write(pkg.join(&name), body).unwrap();
        lines.push_str(&format!("{ext}: {hash}\n"));
        names.push(name);
    }
    let hash_file = site.path().join("hash.txt");
    std::fs::write(&hash_file, lines).unwrap();
    let root = site.path().display().to_string();
    let hash_file = hash_file.display().to_string();
    (site, root, hash_file, names)
}

#[tokio::test]
async fn hashed_files_are_named_in_the_page_and_kept_a_year_other_files_revalidated() {
    let (site, root, hash_file, names) = hashed_site();
    let pkg = site.path().join("pkg");
    std::fs::write(pkg.join("plain.txt"), "plain").unwrap();
    // A split build writes the loader's new name into the main files after naming them: the
    // bytes under such a name change from one build to the next, so it must be revalidated.
    let rewritten = format!("mailbridge.{}.js", md5_name(b"before the rewrite"));
    std::fs::write(pkg.join(&rewritten), "after the rewrite").unwrap();
    let env = [
        ("LEPTOS_SITE_ROOT", root.as_str()),
        ("LEPTOS_HASH_FILE_NAME", hash_file.as_str()),
    ];
    let app = common::spawn_with(&env).await;
    let (_, _, html) = fetch(&format!("{}/login", app.url), None).await;
    let html = String::from_utf8(html).unwrap();
    for name in &names {
        let path = format!("/pkg/{name}");
        assert!(html.contains(&path), "{path} in the page");
        let (_, cache, body) = fetch(&format!("{}{path}", app.url), None).await;
        assert_eq!(
            cache.as_deref(),
            Some("public, max-age=31536000, immutable"),
            "{name}"
        );
        assert_eq!(body, std::fs::read(pkg.join(name)).unwrap());
    }
    let (_, cache, _) = fetch(&format!("{}/pkg/{rewritten}", app.url), None).await;
    assert_eq!(
        cache.as_deref(),
        Some("no-cache"),
        "a name that is not its content's hash"
    );
    let (_, cache, _) = fetch(&format!("{}/pkg/plain.txt", app.url), None).await;
    assert_eq!(cache.as_deref(), Some("no-cache"));
    // A hashed name that is not there is not remembered.
    let res = client()
        .get(format!(
            "{}/pkg/mailbridge.AAAAAAAAAAAAAAAAAAAAAA.wasm",
            app.url
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    assert_eq!(res.headers()[CACHE_CONTROL], "no-store");
}

#[tokio::test]
async fn a_hash_file_of_another_build_is_not_followed() {
    let (site, root, hash_file, names) = hashed_site();
    // A later build without hashing: plain names, the old hash file left behind.
    std::fs::remove_file(site.path().join("pkg").join(&names[1])).unwrap();
    std::fs::write(site.path().join("pkg/mailbridge.wasm"), "wasm").unwrap();
    let env = [
        ("LEPTOS_SITE_ROOT", root.as_str()),
        ("LEPTOS_HASH_FILE_NAME", hash_file.as_str()),
    ];
    let app = common::spawn_with(&env).await;
    let (_, _, html) = fetch(&format!("{}/login", app.url), None).await;
    let html = String::from_utf8(html).unwrap();
    assert!(html.contains("/pkg/mailbridge.wasm"), "plain names");
    assert!(!html.contains(&names[0]));
}
