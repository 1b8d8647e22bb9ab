//! What several test files share: reading fixtures and the copy options
//! most tests start from.

// Each test file compiles this module on its own and uses only part of it.
#![allow(dead_code)]

use ferry_core::Digest;
use ferry_core::plan::{CopyOptions, Selection};

/// The bytes of `tests/fixtures/{path}`.
pub fn fixture(path: &str) -> Vec<u8> {
    let full = format!("{}/tests/fixtures/{path}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&full).unwrap_or_else(|e| panic!("cannot read {full}: {e}"))
}

/// The bytes of `tests/fixtures/plan/{name}`: a three-platform index, its
/// instances and the other copy-planning fixtures (see its README).
pub fn plan_fixture(name: &str) -> Vec<u8> {
    fixture(&format!("plan/{name}"))
}

/// The manifest of the instance `digest` of the three-platform index
/// (`plan/index.json`), from its fixture.
pub fn plan_instance(digest: &Digest) -> Vec<u8> {
    ["amd64.json", "arm64.json", "arm-v7.json"]
        .into_iter()
        .map(plan_fixture)
        .find(|b| Digest::sha256_of(b) == *digest)
        .unwrap_or_else(|| panic!("no fixture for {digest}"))
}

/// The options of a plain `ferry copy`, selecting `selection`.
pub fn options(selection: Selection) -> CopyOptions {
    CopyOptions::new(selection)
}
