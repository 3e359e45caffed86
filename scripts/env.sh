# Sourced by the scripts: where tools and build output live. A target dir outside the clone
# keeps CI runs (which clone afresh) incremental; set CARGO_TARGET_DIR to override.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/mailbridge/target}"
export MAILBRIDGE_TOOLS_DIR="${MAILBRIDGE_TOOLS_DIR:-$HOME/.cache/mailbridge/tools}"
export PATH="$MAILBRIDGE_TOOLS_DIR/node_modules/.bin:$HOME/.cargo/bin:$PATH"
CARGO_LEPTOS_VERSION="0.3.10"
BINARYEN_VERSION="132.0.0"
