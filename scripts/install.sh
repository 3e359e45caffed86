#!/usr/bin/env bash
# Installs whatever is missing for building, running and testing Mailbridge, and skips what is
# already there. Only the package registries are used: crates.io, npm and Debian's apt.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh

step() { printf '\n==> %s\n' "$*"; }

need_apt=()
[ -x /usr/bin/chromium ] || need_apt+=(chromium)
# The test peers (end2end/peers): Dovecot and Postfix, run as the tests' own instances.
# PostgreSQL's server binaries, for the tests' own throw-away clusters (never the system service).
for pkg in dovecot-core dovecot-imapd dovecot-submissiond dovecot-lmtpd postfix openssl python3 postgresql; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need_apt+=("$pkg")
done
command -v curl >/dev/null || need_apt+=(curl)
if [ ${#need_apt[@]} -gt 0 ]; then
  step "apt: ${need_apt[*]}"
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  # postfix asks no questions this way; the packages' own daemons are not used
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need_apt[@]}"
fi

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  step "rustup target wasm32-unknown-unknown"
  rustup target add wasm32-unknown-unknown
fi

# The latest cargo-leptos needs a newer rustc than this machine's; the pinned one works.
if [ "$(cargo leptos --version 2>/dev/null | awk '{print $2}')" != "$CARGO_LEPTOS_VERSION" ]; then
  step "cargo-leptos $CARGO_LEPTOS_VERSION (about 22 minutes on 2 cores, once)"
  cargo install cargo-leptos --version "$CARGO_LEPTOS_VERSION" --locked
fi

# cargo-leptos would download wasm-bindgen from GitHub if it were missing; its version must be
# exactly the wasm-bindgen crate's in Cargo.lock.
WB_VERSION="$(awk '/^name = "wasm-bindgen"$/{getline; gsub(/[^0-9.]/,""); print}' Cargo.lock)"
if [ "$(wasm-bindgen --version 2>/dev/null | awk '{print $2}')" != "$WB_VERSION" ]; then
  step "wasm-bindgen-cli $WB_VERSION"
  # Not --locked: one of its locked dependencies is no longer in the registry.
  cargo install wasm-bindgen-cli --version "$WB_VERSION"
fi

# wasm-opt for release builds, from npm (Debian's binaryen 108 makes a WASM that fails to hydrate).
if [ "$(wasm-opt --version 2>/dev/null | awk '{print $3}')" != "${BINARYEN_VERSION%%.*}" ]; then
  step "binaryen $BINARYEN_VERSION (wasm-opt) into $MAILBRIDGE_TOOLS_DIR"
  mkdir -p "$MAILBRIDGE_TOOLS_DIR"
  npm install --silent --no-audit --no-fund --prefix "$MAILBRIDGE_TOOLS_DIR" "binaryen@$BINARYEN_VERSION"
fi

if [ ! -d end2end/node_modules/@playwright/test ] || [ end2end/package-lock.json -nt end2end/node_modules/.package-lock.json ]; then
  step "end2end npm packages"
  (cd end2end && npm ci --silent --no-audit --no-fund)
fi
# The OAuth2/OIDC server of the test peers kit (oidc-provider), for the OAuth tests.
if [ ! -d end2end/peers/oauth/node_modules/oidc-provider ] || [ end2end/peers/oauth/package-lock.json -nt end2end/peers/oauth/node_modules/.package-lock.json ]; then
  step "test peers: oidc-provider"
  (cd end2end/peers/oauth && npm ci --silent --no-audit --no-fund)
fi
echo "install: everything present"
