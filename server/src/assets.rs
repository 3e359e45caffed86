//! The files the browser downloads from `/pkg`: the WASM, its JS glue and the CSS that
//! cargo-leptos writes, under content-hashed names when the build made them so.
//!
//! cargo-leptos (`hash-files = true`) renames `mailbridge.wasm` to `mailbridge.<md5>.wasm` and
//! writes the hashes to `hash.txt` beside the server binary; Leptos reads that file when it
//! renders the page head, if `LeptosOptions::hash_files` is on. A hashed name never changes its
//! bytes, so those files may be kept a year; anything else is revalidated.

use std::path::{Path, PathBuf};

use axum::{extract::Request, middleware::Next, response::Response};
use http::{header::CACHE_CONTROL, HeaderValue};

/// What `LeptosOptions` needs to name the hashed files: the hash file (`configured`, else
/// `hash.txt`), if there is one whose files are all in `{site_root}/pkg`.
pub fn hash_file(site_root: &str, configured: Option<&str>) -> Option<PathBuf> {
    let name = Path::new(configured.unwrap_or("hash.txt"));
    let exe = std::env::current_exe().ok()?;
    let dir = exe.parent()?;
    // cargo-leptos writes it beside the server binary; a test binary sits one level down
    // (target/debug/deps). An absolute name replaces both.
    let found = [dir.join(name), dir.parent()?.join(name)]
        .into_iter()
        .find(|p| p.is_file())?;
    let pkg = Path::new(site_root).join("pkg");
    let text = std::fs::read_to_string(&found).ok()?;
    let names = hashed_names(&text);
    if names.is_empty() || !names.iter().all(|n| pkg.join(n).is_file()) {
        // The site was rebuilt since (or belongs to another build): its plain names are current.
        tracing::info!(hash_file = %found.display(), "hash file does not match the site: plain asset names");
        return None;
    }
    Some(found)
}

/// The file names a `hash.txt` stands for (`js: abc` → `mailbridge.abc.js`).
fn hashed_names(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|line| line.split_once(':'))
        .filter(|(kind, _)| matches!(kind.trim(), "js" | "wasm" | "css"))
        .map(|(kind, hash)| format!("mailbridge.{}.{}", hash.trim(), kind.trim()))
        .collect()
}

/// Whether a file name carries a content hash: cargo-leptos' is the MD5 in unpadded
/// base64url, 22 characters, as a middle part of the name.
pub fn is_content_hashed(name: &str) -> bool {
    let parts: Vec<&str> = name.split('.').collect();
    parts.len() >= 3
        && parts[1..parts.len() - 1].iter().any(|p| {
            p.len() == 22
                && p.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
                // The split loader's placeholder before hashing is 22 underscores.
                && !p.bytes().all(|b| b == b'_')
        })
}

/// `/pkg` files: the precompressed `.br` or `.gz` beside a file (`cargo leptos build --release
/// --precompress`) when the browser accepts it, the file itself otherwise (compressed on the
/// fly by the router's layer).
pub fn pkg_files(site_root: &str) -> axum::routing::MethodRouter {
    use tower_http::services::ServeDir;
    let pkg = Path::new(site_root).join("pkg");
    let mut dir = ServeDir::new(&pkg);
    if precompressed_are_current(&pkg) {
        dir = dir.precompressed_br().precompressed_gzip();
    } else {
        // A later debug build over a release one: its copies would be of the old files.
        tracing::warn!(dir = %pkg.display(), "compressed copies older than their files: not served (compressed on the fly instead)");
    }
    axum::routing::get_service(dir).layer(axum::middleware::from_fn(cache_control))
}

/// A hashed name is immutable; any other file is revalidated each time (`no-cache`, a 304 when
/// unchanged). Errors are never kept.
async fn cache_control(req: Request, next: Next) -> Response {
    let hashed = req
        .uri()
        .path()
        .rsplit('/')
        .next()
        .is_some_and(is_content_hashed);
    let mut res = next.run(req).await;
    let value = if !(res.status().is_success() || res.status() == http::StatusCode::NOT_MODIFIED) {
        "no-store"
    } else if hashed {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    res.headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static(value));
    res
}

/// Whether every `.br`/`.gz` in `pkg` is at least as new as the file it is a copy of.
fn precompressed_are_current(pkg: &Path) -> bool {
    let modified = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    let Ok(entries) = std::fs::read_dir(pkg) else {
        return true;
    };
    entries.flatten().all(|e| {
        let path = e.path();
        let ext = path.extension().and_then(|x| x.to_str());
        if !matches!(ext, Some("br" | "gz")) {
            return true;
        }
        let original = path.with_extension("");
        match (modified(&path), modified(&original)) {
            (Some(copy), Some(file)) => copy >= file,
            // A copy of nothing is never asked for.
            (_, None) => true,
            (None, Some(_)) => false,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_with_a_content_hash() {
        assert!(is_content_hashed("mailbridge.tLD0SF2O2A0cTCHj-5o_Ag.wasm"));
        assert!(is_content_hashed(
            "mailbridge.tLD0SF2O2A0cTCHj-5o_Ag.wasm.br"
        ));
        assert!(is_content_hashed("__wasm_split.tLD0SF2O2A0cTCHj-5o_Ag.js"));
        assert!(!is_content_hashed("mailbridge.wasm"));
        assert!(!is_content_hashed("mailbridge.wasm.br"));
        assert!(!is_content_hashed("__wasm_split.______________________.js"));
        assert!(!is_content_hashed("mailbridge.tLD0SF2O2A0cTCHj-5o_A.wasm"));
        assert!(!is_content_hashed("tLD0SF2O2A0cTCHj-5o_Ag.wasm"));
    }

    #[test]
    fn a_hash_file_names_three_files() {
        let text = "js: AAAAAAAAAAAAAAAAAAAAAA\nwasm: BBBBBBBBBBBBBBBBBBBBBB\ncss: CCCCCCCCCCCCCCCCCCCCCC\n";
        assert_eq!(
            hashed_names(text),
            [
                "mailbridge.AAAAAAAAAAAAAAAAAAAAAA.js",
                "mailbridge.BBBBBBBBBBBBBBBBBBBBBB.wasm",
                "mailbridge.CCCCCCCCCCCCCCCCCCCCCC.css"
            ]
        );
    }
}
