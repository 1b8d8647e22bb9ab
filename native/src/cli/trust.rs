//! `--policy`, `--insecure-policy` and `ferry verify`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use ferry::transport::reference::Reference;
use ferry::trust::{self, Trust};
use ferry_core::plan::Selection;
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
        if matches!(source, Reference::Demo) {
            return Ok(None);
        }
        let Some(policy) = self.policy() else {
            return Ok(None);
        };
        Ok(Trust::for_source(policy?, source).map(Arc::new))
    }

    /// What judges a copy from `source`: [`trust_for`](Self::trust_for),
    /// but `None` too when the policy allows whatever the source holds
    /// (`insecureAcceptAnything`), so that the copy reads nothing to
    /// judge it and may end early when the destination has it already.
    pub fn copy_judge_for(&self, source: &Reference) -> anyhow::Result<Option<Arc<Trust>>> {
        Ok(self
            .trust_for(source)?
            .filter(|trust| !trust.accepts_anything()))
    }

    /// The policy (`--policy`, else the user's, else the system's), or
    /// `None` under `--insecure-policy`.
    pub fn policy(&self) -> Option<Result<ferry_core::trust::Policy, trust::PolicyError>> {
        if self.insecure_policy {
            return None;
        }
        let home = std::env::var_os("HOME").map(PathBuf::from);
        Some(trust::load_policy(&trust::policy_path(
            self.policy.as_deref(),
            home.as_deref(),
        )))
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
            print_verdicts(&verdicts, args.json);
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

fn print_verdicts(verdicts: &[(String, Verdict)], json: bool) {
    if json {
        println!("{}", trust::judge::verdicts_json(verdicts));
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
    let selection = if args.all {
        Selection::All
    } else {
        Selection::System(args.platform.wanted())
    };
    super::registry::runtime()?.block_on(async {
        let src = source
            .open_source(&registry)
            .await
            .with_context(|| format!("opening {source}"))?;
        Ok(trust::judge::judge_source(&*src, &trust, selection).await?)
    })
}
