#!/usr/bin/env bash
# Benchmarks (not part of the test command): prints Markdown tables.
#   BENCH_SECS (10) per load run · BENCH_SERVERS (1000) · BENCH_ACCOUNTS (10000)
#   BENCH_REFRESH_ACCOUNTS (10000; 0 skips the refresh benchmark) · BENCH_SERVER_BIN
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install.sh >/dev/null
. scripts/env.sh
echo "## $(date -u '+%Y-%m-%d %H:%M UTC') on $(nproc) cores, $(awk '/MemTotal/{printf "%.0f GiB", $2/1048576}' /proc/meminfo)"
echo
echo "### Client bundle (release build)"
echo
cargo leptos build --release --precompress --split >/dev/null 2>&1
echo '```'
node scripts/bundle-size.mjs target/site/pkg
echo '```'
echo
echo "### The framework's floor: Leptos 0.8, a router, one form and one server function"
echo
# What any hydrated Leptos app of this shape downloads before a line of its own (built alike).
(cd scripts/leptos-floor && cargo leptos build --release --frontend-only >/dev/null 2>&1)
echo '```'
node scripts/bundle-size.mjs scripts/leptos-floor/target/site/pkg
echo '```'
echo
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
tmp=$(mktemp -d)
LEPTOS_SITE_ADDR=127.0.0.1:$port MAILBRIDGE_DATABASE_URL=sqlite://$tmp/b.db LEPTOS_SITE_ROOT=target/site \
  MAILBRIDGE_ADMIN_EMAIL=bench@example.test MAILBRIDGE_ADMIN_PASSWORD='bench password 1' RUST_LOG=warn \
  "$CARGO_TARGET_DIR/release/mailbridge" & pid=$!
trap 'kill $pid 2>/dev/null || true; rm -rf "$tmp"' EXIT
until curl -sf "http://127.0.0.1:$port/healthz" >/dev/null; do sleep 0.1; done
(cd end2end && node bench/hydration.mjs "http://127.0.0.1:$port" bench@example.test 'bench password 1')
echo
echo "### What the browser downloads (release build, headless Chromium, bytes on the wire)"
echo
# The release suite of Playwright (its own server on the same build) prints the table.
(cd end2end && MAILBRIDGE_E2E_PROFILE=release MAILBRIDGE_E2E_SKIP_BUILD=1 npx playwright test 2>&1 | grep -E '^(\||/pkg:)') \
  || echo "(the release Playwright suite failed: see its output with scripts/test.sh)"
kill $pid; wait $pid 2>/dev/null || true
echo
echo "### Server"
echo
cargo run -q -p server --release --example bench
echo
# The SMTP relay and the IMAP proxy against the peers kit (needs root, like the refresh part).
cargo run -q -p server --release --example gateway_bench
# Leave a debug site behind for the tests and the dev loop.
cargo leptos build --split >/dev/null 2>&1
