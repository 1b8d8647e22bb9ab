//! Why a copy stops.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use crate::digest::{Digest, DigestError};
use crate::manifest::convert::ConvertError;
use crate::manifest::edit::EditError;
use crate::manifest::{self, SizeMismatch};
use crate::plan::PlanError;

/// Why a copy cannot go on.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Error {
    /// The plan refuses the copy.
    Plan(PlanError),
    /// A digest a manifest names is malformed.
    Digest { what: String, error: DigestError },
    /// An instance manifest whose length is not the size its list entry
    /// states (`what`: "entry 2 of list sha256:…").
    InstanceSize {
        digest: Digest,
        what: String,
        error: SizeMismatch,
    },
    /// Every form of the manifest the destination might accept was
    /// refused or impossible; each attempt says why.
    ManifestRejected { attempts: Vec<String> },
    /// Signatures are to be written, and the destination cannot store
    /// them.
    SignaturesUnsupported,
    /// New signatures are to be made, and the destination cannot store
    /// them.
    SigningUnsupported,
    /// A schema 1 layer's diff ID was not computed during its transfer.
    MissingDiffId { layer: String },
    /// The manifest could not name its layers' new forms.
    Edit(EditError),
    /// A converted schema 2 manifest could not be converted on.
    Convert { target: String, error: ConvertError },
    /// A manifest built by the copy has no digest.
    WrittenDigest(manifest::jws::JwsError),
    /// The driver's answer is not one the current need takes.
    UnexpectedAnswer { need: &'static str },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Plan(e) => e.fmt(f),
            Error::Digest { what, error } => write!(f, "{what}: {error}"),
            Error::InstanceSize { what, error, .. } => write!(f, "{what}: {error}"),
            Error::ManifestRejected { attempts } => write!(
                f,
                "every acceptable manifest type failed: {}",
                crate::join(attempts, "; ")
            ),
            Error::SignaturesUnsupported => {
                f.write_str("the destination cannot store signatures (use --remove-signatures)")
            }
            Error::SigningUnsupported => {
                f.write_str("cannot sign: the destination cannot store signatures")
            }
            Error::MissingDiffId { layer } => {
                write!(f, "no diff ID was computed for layer {layer}")
            }
            Error::Edit(e) => write!(f, "updating the manifest's layers: {e}"),
            Error::Convert { target, error } => write!(f, "converting to {target}: {error}"),
            Error::WrittenDigest(e) => write!(f, "digest of a written manifest: {e}"),
            Error::UnexpectedAnswer { need } => {
                write!(f, "the copy's driver answered {need} with something else")
            }
        }
    }
}

impl core::error::Error for Error {}

impl From<PlanError> for Error {
    fn from(e: PlanError) -> Self {
        Error::Plan(e)
    }
}
