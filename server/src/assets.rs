//! The files the browser downloads from `/pkg`: the WASM, its JS glue and the CSS that
//! cargo-leptos writes, under content-hashed names when the build made them so.
//!
//! cargo-leptos (`hash-files = true`) renames `mailbridge.wasm` to `mailbridge.<md5>.wasm` and
//! writes the hashes to `hash.txt` beside the server binary; Leptos reads that file when it
//! renders the page head, if `LeptosOptions::hash_files` is on. A file whose name is the hash of
//! its bytes may be kept a year; anything else is revalidated. Not every hashed name is: a split
//! build names the main JS and WASM first and then writes the split loader's (hashed) name into
//! them, so their bytes change under the same name when only a page changes. The server hashes
//! each file at start-up and trusts only the names that match.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

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
        tracing::warn!(hash_file = %found.display(), "hash file names files the site does not have: plain asset names (rebuild with cargo leptos)");
        return None;
    }
    Some(found)
}

/// The file names a `hash.txt` stands for (`js: abc` → `mailbridge.abc.js`).
fn hashed_names(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|line| line.split_once(':'))
        .filter_map(|(kind, hash)| {
            let hash = hash.trim();
            Some(match kind.trim() {
                kind @ ("js" | "wasm" | "css") => format!("mailbridge.{hash}.{kind}"),
                "manifest" => format!("__wasm_split_manifest.{hash}.json"),
                "split" => format!("__wasm_split.{hash}.js"),
                _ => return None,
            })
        })
        .collect()
}

/// The content hash a file name carries: cargo-leptos' is the MD5 in unpadded base64url, 22
/// characters, as a middle part of the name (`mailbridge.<hash>.wasm`).
fn content_hash_of_name(name: &str) -> Option<&str> {
    let parts: Vec<&str> = name.split('.').collect();
    if parts.len() < 3 {
        return None;
    }
    parts[1..parts.len() - 1].iter().copied().find(|p| {
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
    let immutable = Arc::new(names_matching_their_content(&pkg));
    axum::routing::get_service(dir).layer(axum::middleware::from_fn(
        move |req: Request, next: Next| cache_control(immutable.clone(), req, next),
    ))
}

/// The files in `pkg` (and their `.br`/`.gz` copies) whose name carries the hash of their bytes.
fn names_matching_their_content(pkg: &Path) -> HashSet<String> {
    use base64::Engine;
    use md5::{Digest, Md5};
    let mut names = HashSet::new();
    let Ok(entries) = std::fs::read_dir(pkg) else {
        return names;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(hash) = content_hash_of_name(&name) else {
            continue;
        };
        let Ok(bytes) = std::fs::read(entry.path()) else {
            continue;
        };
        let actual = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Md5::digest(&bytes));
        if actual == hash {
            names.insert(format!("{name}.br"));
            names.insert(format!("{name}.gz"));
            names.insert(name);
        }
    }
    names
}

/// A name whose content hash matched is immutable; any other file is revalidated each time
/// (`no-cache`, a 304 when unchanged). Errors are never kept.
async fn cache_control(immutable: Arc<HashSet<String>>, req: Request, next: Next) -> Response {
    let hashed = req
        .uri()
        .path()
        .rsplit('/')
        .next()
        .is_some_and(|name| immutable.contains(name));
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
        let h = Some("tLD0SF2O2A0cTCHj-5o_Ag");
        assert_eq!(
            content_hash_of_name("mailbridge.tLD0SF2O2A0cTCHj-5o_Ag.wasm"),
            h
        );
        assert_eq!(
            content_hash_of_name("mailbridge.tLD0SF2O2A0cTCHj-5o_Ag.wasm.br"),
            h
        );
        assert_eq!(
            content_hash_of_name("__wasm_split.tLD0SF2O2A0cTCHj-5o_Ag.js"),
            h
        );
        assert_eq!(content_hash_of_name("mailbridge.wasm"), None);
        assert_eq!(content_hash_of_name("mailbridge.wasm.br"), None);
        assert_eq!(
            content_hash_of_name("__wasm_split.______________________.js"),
            None
        );
        assert_eq!(
            content_hash_of_name("mailbridge.tLD0SF2O2A0cTCHj-5o_A.wasm"),
            None
        );
        assert_eq!(content_hash_of_name("tLD0SF2O2A0cTCHj-5o_Ag.wasm"), None);
    }

    #[test]
    fn a_hash_file_names_the_files_of_a_split_build() {
        let text = "js: AAAAAAAAAAAAAAAAAAAAAA\nwasm: BBBBBBBBBBBBBBBBBBBBBB\ncss: CCCCCCCCCCCCCCCCCCCCCC\nmanifest: DDDDDDDDDDDDDDDDDDDDDD\nsplit: EEEEEEEEEEEEEEEEEEEEEE\n";
        assert_eq!(
            hashed_names(text),
            [
                "mailbridge.AAAAAAAAAAAAAAAAAAAAAA.js",
                "mailbridge.BBBBBBBBBBBBBBBBBBBBBB.wasm",
                "mailbridge.CCCCCCCCCCCCCCCCCCCCCC.css",
                "__wasm_split_manifest.DDDDDDDDDDDDDDDDDDDDDD.json",
                "__wasm_split.EEEEEEEEEEEEEEEEEEEEEE.js"
            ]
        );
    }
}
