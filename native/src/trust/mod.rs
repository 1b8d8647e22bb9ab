//! Trust, the native side: reading policy and key files, verifying and
//! making signatures with real cryptography, on behalf of
//! [`ferry_core::trust`]'s decisions.
pub mod sigstore;
