//! `docker://HOST/REPOSITORY[:TAG|@DIGEST]`: registries speaking the
//! distribution (OCI) HTTP API v2.
//!
//! The protocol decisions (what a reference means, what a challenge asks
//! for, what a status means, how long to back off) are ferry-core's
//! `registry` module; this module performs the HTTP with reqwest over
//! rustls. Credentials are only ever sent to the registry and to the realm
//! its challenge names, and never appear in errors or logs.
//!
//! One [`Registry`] is a connection to one repository; its parts are
//! split by concern:
//! - `client`: connecting, sending with authentication and retries, and
//!   turning an unsuccessful answer into an error;
//! - `auth`: Basic credentials and Bearer tokens;
//! - `manifest`: reading manifests, and the top-level digest that names
//!   lookaside signatures;
//! - `source` and `destination`: the transport traits;
//! - `repository`: listing tags and deleting manifests, for the CLI;
//! - `referrers`: the referrers API, its fallback tag, and pinning a
//!   connection to another manifest of the repository;
//! - [`lookaside`]: signature storage beside the registry;
//! - `signatures`: signatures the registry keeps itself (sigstore
//!   attachments, the signature API extension);
//! - `http`: reading bounded bodies and headers.

mod auth;
mod client;
mod destination;
pub(crate) mod http;
pub mod lookaside;
mod manifest;
mod referrers;
mod repository;
mod signatures;
mod source;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use ferry_core::Digest;
use ferry_core::reference::Named;
use ferry_core::registry::lookaside::Config as LookasideConfig;

use crate::transport::TransportError;

/// How to reach a registry.
#[derive(Clone, Default)]
pub struct RegistryOptions {
    /// `user:password`.
    pub credentials: Option<(String, String)>,
    /// Verify TLS certificates (and use HTTPS only).
    pub tls_verify: bool,
    /// A directory of `*.crt` CA certificates to trust, as skopeo's
    /// `--cert-dir`.
    pub cert_dir: Option<PathBuf>,
    /// Attempts for requests that fail temporarily.
    pub retry_times: u32,
    /// Lookaside signature storage, from `registries.d`
    /// ([`lookaside::load`]); empty: registries hold no signatures.
    pub lookaside: Arc<LookasideConfig>,
}

impl std::fmt::Debug for RegistryOptions {
    // Never print the password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegistryOptions")
            .field("user", &self.credentials.as_ref().map(|c| &c.0))
            .field("tls_verify", &self.tls_verify)
            .field("cert_dir", &self.cert_dir)
            .field("retry_times", &self.retry_times)
            .field("lookaside", &self.lookaside)
            .finish()
    }
}

/// A connection to one repository of one registry.
pub struct Registry {
    /// Requests without large bodies: pings, tokens, manifests, existence
    /// checks. Over TLS it speaks HTTP/2 when the registry offers it, so
    /// that many of them share one connection.
    http: reqwest::Client,
    /// Blob bodies, up or down: HTTP/1.1 only, each transfer on a
    /// connection of its own. One HTTP/2 connection is decrypted on one
    /// task, and carried a pull at 1.45 times the time of six HTTP/1.1
    /// ones (benches/RESULTS-wan.md). The same client as `http` when the
    /// registry does not speak HTTP/2, so transfers reuse the checks'
    /// connections.
    bulk: reqwest::Client,
    /// The registry answered the ping over HTTP/2: requests on `http`
    /// cost no connection of their own.
    multiplexed: bool,
    base: String,
    reference: Named,
    options: RegistryOptions,
    push: bool,
    /// Bearer tokens by scope, with their expiry.
    tokens: Mutex<HashMap<String, (String, Instant)>>,
    /// The registry asked for Basic authentication.
    basic: Mutex<bool>,
    /// Scopes beyond this repository's, for cross-repository mounts.
    extra_scopes: Mutex<Vec<String>>,
    /// The digest of the top-level manifest once read or written, which
    /// names its lookaside signatures.
    top_digest: Mutex<Option<Digest>>,
    /// The registry advertised the signature API extension
    /// (`X-Registry-Supports-Signatures: 1`).
    supports_signatures: bool,
    /// The `OCI-Subject` header of the last manifest written: a registry
    /// with the referrers API names the subject it recorded.
    oci_subject: Mutex<Option<String>>,
    /// The authentication started when connecting has been waited for.
    settled: tokio::sync::OnceCell<()>,
    /// That authentication, answering the ping's challenge in the
    /// background: a connection to the same repository that fetched the
    /// token, and whether it got one.
    settling: Mutex<Option<crate::task::AbortOnDrop<(Registry, bool)>>>,
    /// Held while a 401's challenge is answered.
    authenticating: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("base", &self.base)
            .field("reference", &self.reference)
            .finish_non_exhaustive()
    }
}

impl Registry {
    fn location(&self) -> String {
        format!("docker://{}", self.reference)
    }

    fn url(&self, path: &str) -> String {
        format!("{}/v2/{}/{path}", self.base, self.reference.path())
    }

    /// A URL a response names: as it is when absolute, else on this
    /// registry.
    fn absolute(&self, target: &str) -> String {
        ferry_core::registry::response::page_url(&self.base, target)
    }

    fn poisoned(&self) -> TransportError {
        TransportError::Internal {
            location: self.location(),
            reason: "internal lock poisoned".into(),
        }
    }
}
