//! Shared helpers for ferry's cross-crate tests.

pub mod conformance;

/// The home directory the tests give ferry (`tests/fixtures/home`): its
/// signature policy accepts anything, so nothing comes from the machine's
/// home or `/etc/containers`.
pub fn test_home() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/home")
}
pub mod daemon;
mod process;
pub mod registry;
mod scratch;
pub use scratch::Scratch;
pub mod signed;
pub mod skopeo;
pub mod storage;
