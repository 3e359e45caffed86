//! The server half is not built: the bench builds the browser bundle alone (`--frontend-only`).
fn main() {}
