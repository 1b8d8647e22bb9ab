//! Test doubles for the transport contract, and the suite every
//! [`ImageDestination`](crate::transport::ImageDestination) passes.
//!
//! Compiled for this crate's tests and with the `testing` feature (on for
//! this crate's integration tests and for ferry-tests), never into the
//! binary.
//!
//! - [`Recording`] wraps any destination and records every call, in the
//!   order the calls finished, with their arguments and outcomes;
//!   [`Recording::strict`] also refuses, and lists, every call the
//!   [`Contract`] forbids at that point, so the copy engine can be run
//!   against the contract itself.
//! - [`contract`] is one suite of properties (write order, refusals,
//!   atomicity, rollback), run against a [`contract::Place`] whose
//!   promises are data; [`destination_contract_tests!`](crate::destination_contract_tests)
//!   makes one `#[test]` per property for a place.

pub mod contract;
mod recording;

pub use recording::{Call, Contract, Recording, Violation, check};

use std::collections::BTreeMap;
use std::path::Path;

use ferry_core::Digest;

/// Every file and directory under `root` (or `root` itself, a file), files
/// with their content's digest, for "nothing changed" comparisons. Links
/// and FIFOs are recorded by their type, never followed or opened.
pub fn snapshot(root: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    fn walk(base: &Path, dir: &Path, out: &mut BTreeMap<String, String>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let rel = path
                .strip_prefix(base)
                .unwrap_or(&path)
                .display()
                .to_string();
            let Ok(meta) = std::fs::symlink_metadata(&path) else {
                continue;
            };
            if meta.is_dir() {
                out.insert(format!("{rel}/"), String::new());
                walk(base, &path, out);
            } else if !meta.is_file() {
                // FIFOs (traps for reads) and links: never opened here.
                out.insert(rel, format!("{:?}", meta.file_type()));
            } else {
                let bytes = std::fs::read(&path).unwrap_or_default();
                out.insert(rel, Digest::sha256_of(&bytes).to_string());
            }
        }
    }
    if root.is_file() {
        let bytes = std::fs::read(root).unwrap_or_default();
        out.insert(String::new(), Digest::sha256_of(&bytes).to_string());
    } else {
        walk(root, root, &mut out);
    }
    out
}
