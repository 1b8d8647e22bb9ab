//! Judging an image without copying it: `ferry verify` and `ferry serve`'s
//! verdict. The image is read as `ferry copy` reads it, up to the
//! judgement (the copy machine says which manifests and signatures the
//! policy needs), and every image the copy would judge is judged.

use std::fmt;

use ferry_core::copy::{Answer, Copy, Need};
use ferry_core::plan::{CopyOptions, Selection};
use ferry_core::trust::Verdict;

use super::{KeyFiles, Trust};
use crate::transport::{ImageSource, TransportError};

/// Why an image could not be judged (a refusal is a verdict, not this).
#[derive(Debug)]
#[non_exhaustive]
pub enum JudgeError {
    /// Reading a manifest or signatures of the image failed.
    Read {
        /// What was read: "the manifest", "sha256:… (an instance)", "the signatures".
        what: String,
        image: String,
        error: TransportError,
    },
    /// The image's manifests do not make a copy the policy can judge.
    Plan {
        image: String,
        error: ferry_core::copy::Error,
    },
    /// Manifests the judgement needs are not at the source.
    Unavailable { image: String, missing: Vec<String> },
    /// The copy machine asked for something other than what judging
    /// reads: a bug in ferry.
    Internal(String),
}

impl fmt::Display for JudgeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JudgeError::Read { what, image, error } => {
                write!(f, "reading {what} of {image}: {error}")
            }
            JudgeError::Plan { image, error } => write!(f, "{image}: {error}"),
            JudgeError::Unavailable { image, missing } => {
                write!(f, "{image}: manifests not found: {}", missing.join(", "))
            }
            JudgeError::Internal(what) => write!(f, "internal error: {what}"),
        }
    }
}

impl std::error::Error for JudgeError {}

/// Every image a copy of `src` with `selection` would judge, named as
/// the policy names it, with its verdict.
pub async fn judge_source(
    src: &dyn ImageSource,
    trust: &Trust,
    selection: Selection,
) -> Result<Vec<(String, Verdict)>, JudgeError> {
    let image = trust.image_name(None);
    let read = |what: String| {
        let image = image.clone();
        move |error| JudgeError::Read { what, image, error }
    };
    let (top, top_type) = src
        .manifest(None)
        .await
        .map_err(read("the manifest".into()))?;
    let options = CopyOptions {
        remove_signatures: true,
        judge_signatures: true,
        ..CopyOptions::new(selection)
    };
    // Any destination that takes every manifest form: what is judged
    // does not depend on where the image would go.
    let destination = ferry_core::copy::Destination {
        capabilities: ferry_core::destination::Kind::Oci.capabilities(),
        reference_digest: None,
        docker_reference: None,
        names: None,
    };
    let plan = |error| JudgeError::Plan {
        image: image.clone(),
        error,
    };
    let mut machine =
        Copy::plan(top, top_type.unwrap_or_default(), destination, options).map_err(plan)?;
    let images = loop {
        let answer = match machine.poll() {
            Need::Judge(images) => break images,
            Need::NestedList { digest } | Need::Instance { digest } => {
                let (bytes, media_type) = src
                    .manifest(Some(&digest))
                    .await
                    .map_err(read(digest.to_string()))?;
                Answer::Manifest {
                    bytes,
                    media_type: media_type.unwrap_or_default(),
                }
            }
            Need::Signatures { instance } => Answer::Signatures(
                src.signatures(instance.as_ref())
                    .await
                    .map_err(read("the signatures".into()))?,
            ),
            Need::Unavailable { missing } => {
                return Err(JudgeError::Unavailable {
                    image: image.clone(),
                    missing,
                });
            }
            other => {
                return Err(JudgeError::Internal(format!(
                    "judging {image} reached {other:?}"
                )));
            }
        };
        machine.handle(answer).map_err(plan)?;
    };
    let mut verifier = KeyFiles::default();
    Ok(images
        .iter()
        .map(|judged| {
            (
                trust.image_name(judged.instance.as_ref()),
                trust.judge_one(judged, &mut verifier),
            )
        })
        .collect())
}

/// Verdicts as `ferry verify --json` prints them and `ferry serve` answers
/// them: `{"allowed": all allowed, "images": [{image, allowed, scope,
/// reason}]}`, `reason` why an image is refused (null when allowed).
pub fn verdicts_json(verdicts: &[(String, Verdict)]) -> serde_json::Value {
    let images: Vec<_> = verdicts
        .iter()
        .map(|(image, verdict)| {
            let (scope, reason) = match verdict {
                Verdict::Allowed { scope } => (scope.to_string(), None),
                Verdict::Refused { scope, refusal } => {
                    (scope.to_string(), Some(refusal.to_string()))
                }
            };
            serde_json::json!({
                "image": image,
                "allowed": verdict.is_allowed(),
                "scope": scope,
                "reason": reason,
            })
        })
        .collect();
    let allowed = verdicts.iter().all(|(_, v)| v.is_allowed());
    serde_json::json!({ "allowed": allowed, "images": images })
}
