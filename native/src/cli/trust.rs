//! `--policy`, `--insecure-policy` and `ferry verify`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use ferry::transport::reference::Reference;
use ferry::trust::{self, KeyFiles, Trust};
use ferry_core::choose::ChooseOptions;
use ferry_core::copy::{Answer, Copy, Need};
use ferry_core::plan::{CopyOptions, Selection, Unselected};
use ferry_core::trust::Verdict;

use super::PlatformOverrides;

/// How images are judged before they are copied, as skopeo's global
/// options spell it.
#[derive(Debug, clap::Args)]
pub struct TrustArgs {
    /// The signature policy (containers-policy.json(5)); by default
    /// $HOME/.config/containers/policy.json if it exists, else
    /// /etc/containers/policy.json.
    #[arg(long, global = true, value_name = "FILE")]
    policy: Option<PathBuf>,
    /// Judge no image: copy whatever the source holds, signed or not.
    #[arg(long, global = true, conflicts_with = "policy")]
    insecure_policy: bool,
}

impl TrustArgs {
    /// The policy's view of `source`, or `None` when nothing is judged
    /// (`--insecure-policy`, or the embedded demo image, which is part of
    /// ferry itself).
    pub fn trust_for(&self, source: &Reference) -> anyhow::Result<Option<Arc<Trust>>> {
        if self.insecure_policy || matches!(source, Reference::Demo) {
            return Ok(None);
        }
        let home = std::env::var_os("HOME").map(PathBuf::from);
        let path = trust::policy_path(self.policy.as_deref(), home.as_deref());
        let policy = trust::load_policy(&path)?;
        Ok(Trust::for_source(policy, source).map(Arc::new))
    }
}

/// `ferry verify`: whether the policy allows an image, judged exactly as
/// `ferry copy` judges it before copying.
#[derive(Debug, clap::Args)]
pub struct VerifyArgs {
    /// The image: transport:reference, as for `ferry copy`.
    image: String,
    /// For a list, judge every image and the list (as `copy --all`).
    #[arg(long)]
    all: bool,
    #[command(flatten)]
    platform: PlatformOverrides,
    /// Print the verdicts as JSON.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    registry: super::registry::RegistryArgs,
    /// Directory of registries.d files (signature lookaside storage).
    #[arg(long = "registries.d", value_name = "DIR")]
    registries_d: Option<PathBuf>,
}

/// Runs `ferry verify`: exit 0 allowed, 1 refused, 2 unusable input.
pub fn verify(args: &VerifyArgs, trust_args: &TrustArgs) -> anyhow::Result<ExitCode> {
    match judge(args, trust_args) {
        Ok(verdicts) => {
            let allowed = verdicts.iter().all(|(_, v)| v.is_allowed());
            print_verdicts(&verdicts, allowed, args.json);
            Ok(ExitCode::from(if allowed { 0 } else { 1 }))
        }
        Err(error) => {
            if args.json {
                let out = serde_json::json!({ "error": format!("{error:#}") });
                println!("{out}");
            } else {
                eprintln!("ferry: error: {error:#}");
            }
            Ok(ExitCode::from(2))
        }
    }
}

fn print_verdicts(verdicts: &[(String, Verdict)], allowed: bool, json: bool) {
    if json {
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
        let out = serde_json::json!({ "allowed": allowed, "images": images });
        println!("{out}");
    } else {
        for (image, verdict) in verdicts {
            println!("{image}: {verdict}");
        }
    }
}

/// Reads the image as `copy` would, up to the judgement, and judges
/// every image the copy would judge.
fn judge(args: &VerifyArgs, trust_args: &TrustArgs) -> anyhow::Result<Vec<(String, Verdict)>> {
    let source = Reference::parse(&args.image)?;
    let trust = trust_args.trust_for(&source)?.ok_or_else(|| {
        anyhow::anyhow!("{source} is judged by no policy (--insecure-policy, or the demo image)")
    })?;
    let mut registry = args.registry.options(&source)?;
    if matches!(source, Reference::Docker(_)) {
        registry.lookaside = super::copy::lookaside_config(args.registries_d.as_deref())?;
    }
    let options = CopyOptions {
        selection: if args.all {
            Selection::All
        } else {
            Selection::System(args.platform.wanted())
        },
        choose: ChooseOptions::default(),
        unselected: Unselected::Keep,
        forced: None,
        remove_signatures: true,
        preserve_digests: false,
        judge_signatures: true,
        sign: Default::default(),
        compression: Default::default(),
        add_compression: Default::default(),
    };
    let images = super::registry::runtime()?.block_on(async {
        let src = source
            .open_source(&registry)
            .await
            .with_context(|| format!("opening {source}"))?;
        let (top, top_type) = src
            .manifest(None)
            .await
            .with_context(|| format!("reading the manifest of {source}"))?;
        // Any destination that takes every manifest form: what is judged
        // does not depend on where the image would go.
        let destination = ferry_core::copy::Destination {
            capabilities: ferry_core::destination::Kind::Oci.capabilities(),
            reference_digest: None,
            docker_reference: None,
        };
        let mut machine = Copy::plan(top, top_type.unwrap_or_default(), destination, options)
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        loop {
            let answer = match machine.poll() {
                Need::Judge(images) => return Ok(images),
                Need::NestedList { digest } | Need::Instance { digest } => {
                    let (bytes, media_type) = src
                        .manifest(Some(&digest))
                        .await
                        .with_context(|| format!("reading {digest} of {source}"))?;
                    Answer::Manifest {
                        bytes,
                        media_type: media_type.unwrap_or_default(),
                    }
                }
                Need::Signatures { instance } => Answer::Signatures(
                    src.signatures(instance.as_ref())
                        .await
                        .with_context(|| format!("reading the signatures of {source}"))?,
                ),
                Need::Unavailable { missing } => {
                    anyhow::bail!("manifests not found: {}", missing.join(", "))
                }
                other => anyhow::bail!("internal error: verify reached {other:?}"),
            };
            machine.handle(answer).map_err(|e| anyhow::anyhow!("{e}"))?;
        }
    })?;
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
