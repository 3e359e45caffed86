//! Where to go after signing in: only a path of this site.

/// The page to open after signing in: `next` when it is a path on this site, else `/`.
///
/// Resolving a path that starts with exactly one `/` against this site's origin always stays on
/// it — unless the browser first rewrites it, which it does for tabs and newlines (dropped),
/// backslashes (read as slashes) and leading spaces (trimmed). So anything but a single leading
/// slash followed by printable, non-space characters without backslashes goes to `/`; so does
/// `/login` (a loop).
pub fn safe_next(next: Option<&str>) -> String {
    let Some(n) = next else {
        return "/".into();
    };
    let mut chars = n.chars();
    let local = chars.next() == Some('/')
        && !matches!(chars.next(), Some('/') | Some('\\'))
        && !n
            .chars()
            .any(|c| c.is_control() || c.is_whitespace() || c == '\\')
        && !n.starts_with("/login");
    if local {
        n.to_string()
    } else {
        "/".into()
    }
}

/// `next` values that must never leave the site (each has been an open redirect somewhere):
/// browsers drop tabs and newlines from URLs and read a backslash as a slash, so `/\t/evil`
/// and `/\\evil` become `//evil`, a scheme-relative URL to another host.
pub const HOSTILE_NEXT: [&str; 20] = [
    "//evil.example",
    "///evil.example",
    "/\t/evil.example",
    "/\n/evil.example",
    "/\r/evil.example",
    "\t//evil.example",
    " //evil.example",
    "/\\evil.example",
    "\\\\evil.example",
    "https://evil.example",
    "https:evil.example",
    "HTTPS://evil.example/",
    "javascript:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "evil.example",
    "/\u{0}/evil.example",
    "/\u{2028}/evil.example",
    "/login?next=//evil.example",
    "%2F%2Fevil.example",
    "/%09/evil.example\u{7f}",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_paths_of_this_site_are_followed() {
        for good in [
            "/",
            "/users?x=1",
            "/mail-accounts/7",
            "/a%2F%2Fb",
            "/caf\u{e9}",
        ] {
            assert_eq!(safe_next(Some(good)), good);
        }
        for bad in HOSTILE_NEXT {
            assert_eq!(safe_next(Some(bad)), "/", "{bad:?}");
        }
        assert_eq!(safe_next(None), "/");
    }
}
