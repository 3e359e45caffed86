//! The test kit (`server/testkit`), under the name every test file already uses.
#![allow(unused_imports)]

pub use testkit::scenario::*;
pub use testkit::*;
