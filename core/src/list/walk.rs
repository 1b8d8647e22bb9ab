//! Walking nested indexes: an index entry may itself be an index.
//!
//! The core does no I/O, so the caller supplies the bytes of each nested
//! list through `resolve`; the walk verifies them against the entry's
//! digest before trusting them, refuses cycles, and stops at a depth limit
//! so a hostile chain of indexes cannot run away.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use super::List;
use crate::manifest::{Descriptor, ManifestError};
use crate::media_type as mt;

/// How deep nested indexes may go. Real images use one level, sometimes
/// two.
pub const MAX_NESTING: usize = 8;

/// One entry met on the walk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Visit {
    /// Positions from the root: `[2, 0]` is entry 0 of the index at entry 2.
    pub path: Vec<usize>,
    pub descriptor: Descriptor,
    /// Whether this entry is itself a list (its entries follow it).
    pub is_list: bool,
}

/// Why a walk stopped.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum WalkError {
    /// The bytes given for a nested list do not have its digest.
    DigestMismatch { path: Vec<usize>, expected: String },
    /// The entry's digest is not a valid digest.
    InvalidDigest { path: Vec<usize>, digest: String },
    /// A nested list does not parse.
    Parse {
        path: Vec<usize>,
        error: ManifestError,
    },
    /// A list contains itself, directly or not.
    Cycle { path: Vec<usize>, digest: String },
    /// Nesting deeper than [`MAX_NESTING`].
    TooDeep { path: Vec<usize> },
}

impl fmt::Display for WalkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let at = |p: &[usize]| {
            p.iter()
                .map(|i| alloc::format!("/manifests/{i}"))
                .collect::<String>()
        };
        match self {
            WalkError::DigestMismatch { path, expected } => write!(
                f,
                "{}: content does not match its digest {expected}",
                at(path)
            ),
            WalkError::InvalidDigest { path, digest } => {
                write!(f, "{}: invalid digest {digest:?}", at(path))
            }
            WalkError::Parse { path, error } => write!(f, "{}: {error}", at(path)),
            WalkError::Cycle { path, digest } => {
                write!(f, "{}: index {digest} contains itself", at(path))
            }
            WalkError::TooDeep { path } => write!(
                f,
                "{}: indexes nested deeper than {MAX_NESTING} levels",
                at(path)
            ),
        }
    }
}

impl core::error::Error for WalkError {}

impl List {
    /// Visits every entry depth-first, descending into nested lists whose
    /// bytes `resolve` returns (`None` leaves that list unexpanded).
    pub fn walk<F>(&self, mut resolve: F) -> Result<Vec<Visit>, WalkError>
    where
        F: FnMut(&Descriptor) -> Option<Vec<u8>>,
    {
        let mut visits = Vec::new();
        let mut stack = Vec::new();
        stack.push(self.digest().as_str().into());
        walk_into(self, &mut Vec::new(), &mut stack, &mut resolve, &mut visits)?;
        Ok(visits)
    }
}

fn walk_into<F>(
    list: &List,
    path: &mut Vec<usize>,
    ancestors: &mut Vec<String>,
    resolve: &mut F,
    visits: &mut Vec<Visit>,
) -> Result<(), WalkError>
where
    F: FnMut(&Descriptor) -> Option<Vec<u8>>,
{
    for (i, entry) in list.entries.iter().enumerate() {
        path.push(i);
        let is_list = mt::is_list(&entry.media_type);
        visits.push(Visit {
            path: path.clone(),
            descriptor: entry.clone(),
            is_list,
        });
        if is_list {
            if path.len() > MAX_NESTING {
                return Err(WalkError::TooDeep { path: path.clone() });
            }
            let digest = entry.digest().map_err(|_| WalkError::InvalidDigest {
                path: path.clone(),
                digest: entry.digest_text.clone(),
            })?;
            if ancestors.iter().any(|a| a == digest.as_str()) {
                return Err(WalkError::Cycle {
                    path: path.clone(),
                    digest: entry.digest_text.clone(),
                });
            }
            if let Some(bytes) = resolve(entry) {
                if !digest.matches(&bytes) {
                    return Err(WalkError::DigestMismatch {
                        path: path.clone(),
                        expected: entry.digest_text.clone(),
                    });
                }
                let nested = List::from_blob(&bytes, &entry.media_type).map_err(|error| {
                    WalkError::Parse {
                        path: path.clone(),
                        error,
                    }
                })?;
                ancestors.push(entry.digest_text.clone());
                walk_into(&nested, path, ancestors, resolve, visits)?;
                ancestors.pop();
            }
        }
        path.pop();
    }
    Ok(())
}
