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
pub mod sigstore;
