//! Whether the reference a signature claims is acceptable for an image,
//! under a `signedIdentity` rule.
//!
//! A signature says "this digest is `registry.example/app:1.0`". Without
//! this check, a valid signature for one image could vouch for another
//! image by the same signer (a downgrade to an old, vulnerable tag).

use super::policy::IdentityRule;
use crate::reference::Named;

/// Why a claimed identity does not match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdentityMismatch {
    /// The rule compares with the image's docker reference, and the
    /// image has none (`oci:`, `dir:` without a name).
    NoImageReference,
    /// The claimed identity is not a docker reference.
    InvalidClaim,
    /// The claim does not satisfy the rule.
    Mismatch,
}

impl IdentityRule {
    /// Checks `claimed` (the signature's `docker-reference`) for an image
    /// whose reference is `image`.
    pub fn check(&self, image: Option<&Named>, claimed: &str) -> Result<(), IdentityMismatch> {
        let accepted = match self {
            IdentityRule::ExactReference(intended) => {
                let signature = parse(claimed)?;
                !signature.is_name_only() && same_reference(intended, &signature)
            }
            IdentityRule::ExactRepository(intended) => parse(claimed)?.name() == intended.name(),
            rule => {
                let intended = image.ok_or(IdentityMismatch::NoImageReference)?;
                let signature = parse(claimed)?;
                match rule {
                    IdentityRule::MatchExact => {
                        !intended.is_name_only()
                            && !signature.is_name_only()
                            && same_reference(intended, &signature)
                    }
                    IdentityRule::MatchRepoDigestOrExact => {
                        repo_digest_or_exact(intended, &signature)
                    }
                    IdentityRule::MatchRepository => signature.name() == intended.name(),
                    IdentityRule::RemapIdentity {
                        prefix,
                        signed_prefix,
                    } => match remap(intended, prefix, signed_prefix) {
                        Some(remapped) => repo_digest_or_exact(&remapped, &signature),
                        None => false,
                    },
                    IdentityRule::ExactReference(_) | IdentityRule::ExactRepository(_) => {
                        unreachable!("handled above")
                    }
                }
            }
        };
        if accepted {
            Ok(())
        } else {
            Err(IdentityMismatch::Mismatch)
        }
    }
}

fn parse(claimed: &str) -> Result<Named, IdentityMismatch> {
    Named::parse_normalized(claimed).map_err(|_| IdentityMismatch::InvalidClaim)
}

/// distribution's `String()` equality: name, tag and digest.
fn same_reference(a: &Named, b: &Named) -> bool {
    a.name() == b.name() && a.tag() == b.tag() && a.digest() == b.digest()
}

/// A tagged image needs exactly its reference signed; an image named by
/// digest only needs its repository (the digest itself is checked
/// against the manifest separately).
fn repo_digest_or_exact(intended: &Named, signature: &Named) -> bool {
    if signature.is_name_only() {
        return false;
    }
    if intended.tag().is_some() {
        same_reference(intended, signature)
    } else if intended.digest().is_some() {
        signature.name() == intended.name()
    } else {
        false
    }
}

/// The image's reference with `prefix` (a whole leading part of the
/// name, ending at a `/` or the end) replaced by `signed_prefix`; the
/// reference unchanged when the prefix does not apply; `None` when the
/// result is not a canonical reference.
fn remap(intended: &Named, prefix: &str, signed_prefix: &str) -> Option<Named> {
    let name = intended.name();
    let applies = match name.strip_prefix(prefix) {
        Some(rest) => rest.is_empty() || rest.starts_with('/'),
        None => false,
    };
    if !applies {
        return Some(intended.clone());
    }
    let whole = alloc::format!("{intended}");
    let remapped = alloc::format!("{signed_prefix}{}", &whole[prefix.len()..]);
    Named::parse_canonical(&remapped).ok()
}
