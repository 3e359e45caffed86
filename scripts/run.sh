#!/usr/bin/env bash
# Installs what is missing, builds, and starts Mailbridge on the embedded SQLite default.
# Passes LEPTOS_SITE_ADDR, MAILBRIDGE_* and RUST_LOG through. Extra arguments go to cargo-leptos
# (e.g. --release).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install.sh
. scripts/env.sh
profile=debug
for a in "$@"; do [ "$a" = "--release" ] && profile=release; done
# A release build also writes brotli and gzip copies of the WASM, JS and CSS, which the server
# sends to browsers that accept them.
if [ "$profile" = release ]; then set -- "$@" --precompress; fi
# --split: the sign-in page, the dashboard, a user's pages and the admin pages are WASM chunks,
# fetched when first visited (lazy routes need it in every build).
cargo leptos build --split "$@"
export LEPTOS_SITE_ROOT="${LEPTOS_SITE_ROOT:-target/site}"
exec "$CARGO_TARGET_DIR/$profile/mailbridge" serve
