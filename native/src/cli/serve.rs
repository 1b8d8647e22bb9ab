//! `ferry serve`: the inspector and its registry proxy.

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use clap::Args;
use ferry::serve::{ServeOptions, ServePolicy, serve};

use super::trust::TrustArgs;

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on; loopback by default (port 0 picks a free one).
    #[arg(long, default_value = "127.0.0.1:8088", value_name = "ADDR")]
    listen: String,
    /// The inspector's files.
    #[arg(long, default_value = "web", value_name = "DIR")]
    web: std::path::PathBuf,
    /// The built wasm package (scripts/build-wasm-pkg.sh), served as /pkg/.
    #[arg(long, default_value = "wasm/pkg", value_name = "DIR")]
    pkg: std::path::PathBuf,
    /// Verify registries' TLS certificates (false also allows plain HTTP).
    #[arg(long, value_name = "BOOL", default_value_t = true, action = clap::ArgAction::Set)]
    tls_verify: bool,
    /// Credentials file (containers' auth.json or Docker's config.json).
    #[arg(long, value_name = "PATH")]
    authfile: Option<std::path::PathBuf>,
    /// Directory of registries.d files (signature lookaside storage), read
    /// for the policy's verdicts as `ferry verify` reads it.
    #[arg(long = "registries.d", value_name = "DIR")]
    registries_d: Option<std::path::PathBuf>,
}

pub fn run(args: &ServeArgs, trust: &TrustArgs) -> anyhow::Result<ExitCode> {
    // Read once, at start: the verdicts are the policy's of this moment.
    let policy = match trust.policy() {
        None => ServePolicy::Disabled,
        Some(Ok(policy)) => ServePolicy::Policy(Arc::new(policy)),
        Some(Err(error)) => {
            eprintln!("ferry: warning: {error}; the inspector shows no verdicts");
            ServePolicy::Unusable(Arc::new(error))
        }
    };
    let lookaside = super::copy::lookaside_config(args.registries_d.as_deref())?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(&args.listen)
            .await
            .with_context(|| format!("listening on {}", args.listen))?;
        let address = listener.local_addr()?;
        // The first line tells scripts and tests where to connect.
        println!("Serving the inspector on http://{address}/");
        serve(
            listener,
            ServeOptions {
                web: args.web.clone(),
                pkg: args.pkg.clone(),
                tls_verify: args.tls_verify,
                authfile: args.authfile.clone(),
                policy,
                lookaside,
            },
        )
        .await
        .context("serving")?;
        Ok(ExitCode::SUCCESS)
    })
}
