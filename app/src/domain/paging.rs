//! Paged lists: the Mail servers and Mail accounts pages show 50 rows at a time.

use serde::{Deserialize, Serialize};

/// Rows per page of the long lists.
pub const PAGE_SIZE: i64 = 50;

/// One page of a list, with the size of the whole list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Page<T> {
    pub rows: Vec<T>,
    pub total: i64,
    /// Zero-based.
    pub page: i64,
}

/// A requested page number, kept within what a list could hold.
pub fn clamp_page(page: i64) -> i64 {
    page.clamp(0, 1_000_000)
}
