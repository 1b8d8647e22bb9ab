//! Trust: whether an image may be used, decided as containers/image
//! decides it from `policy.json` (containers-policy.json(5)).
//!
//! Everything here is a decision: reading the policy, finding the scope
//! that applies to an image, matching the identity a signature claims
//! against the image's reference, and combining requirements into a
//! verdict. The cryptography that proves who made a signature is asked
//! for, not performed, where it needs keys from the outside world
//! (OpenPGP keyrings); native carries it out and hands back what the
//! signature says.
//!
//! The pieces, in the order a judgement uses them: [`policy`] (the file),
//! [`scope`] (which part of it applies to an image), [`blob`] (what the
//! stored signatures are), [`payload`] (what a signature claims),
//! [`identity`] (whether the claimed name fits the image) and
//! [`verdict`] (all of it together). Everything refuses what it does not
//! understand ([`strict`]).

pub mod blob;
pub mod identity;
pub mod payload;
pub mod policy;
pub mod scope;
pub mod strict;
pub mod verdict;

pub use blob::Signature;
pub use payload::{Format, Payload};
pub use policy::{IdentityRule, KeySource, Policy, Requirement};
pub use scope::{AppliedScope, ImageScope};
pub use strict::FormatError;
pub use verdict::{CryptoFailure, Image, Refusal, Signed, Verdict, Verifier};

/// Verifies a sigstore signature with one of `keys`.
fn sigstore_check(
    _keys: &[alloc::vec::Vec<u8>],
    _signature: &blob::Sigstore,
) -> Result<(), verdict::SignatureRefusal> {
    Err(verdict::SignatureRefusal::Crypto(
        CryptoFailure::Malformed {
            detail: alloc::string::String::from("sigstore verification is not built in yet"),
        },
    ))
}
