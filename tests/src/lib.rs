//! Shared helpers for ferry's cross-crate tests.

pub mod conformance;
pub mod registry;
pub mod skopeo;
