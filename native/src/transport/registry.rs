//! `docker://HOST/REPOSITORY[:TAG|@DIGEST]`: registries speaking the
//! distribution (OCI) HTTP API v2.
//!
//! The protocol decisions (what a reference means, what a challenge asks
//! for, what a status means, how long to back off) are ferry-core's
//! `registry` module; this module performs the HTTP with reqwest over
//! rustls. Credentials are only ever sent to the registry and to the realm
//! its challenge names, and never appear in errors or logs.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use ferry_core::Digest;
use ferry_core::manifest::MAX_MANIFEST_SIZE;
use ferry_core::media_type as mt;
use ferry_core::reference::Named;
use ferry_core::registry::auth::{self, Challenge};
use ferry_core::registry::lookaside::{self, Purpose};
use ferry_core::registry::response::{self, Outcome};
use futures_util::TryStreamExt;

use super::{
    BlobInfo, BlobStream, Capabilities, ImageDestination, ImageSource, Kind, TransportError,
};

/// Blobs up to this size are uploaded with a single PUT; larger ones with a
/// streaming PATCH and a closing PUT, as registries expect for big content.
const MONOLITHIC_LIMIT: i64 = 1024 * 1024;

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
    /// ([`crate::lookaside::load`]); empty: registries hold no signatures.
    pub lookaside: Arc<lookaside::Config>,
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
    http: reqwest::Client,
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
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("base", &self.base)
            .field("reference", &self.reference)
            .finish_non_exhaustive()
    }
}

fn http_error(what: &str, location: &str, error: reqwest::Error) -> TransportError {
    // reqwest's message carries the URL, never credentials; its causes
    // (a refused redirect, a reset connection) say what actually happened.
    let mut reason = format!("{what}: {error}");
    let mut source = std::error::Error::source(&error);
    while let Some(cause) = source {
        reason.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    TransportError::Malformed {
        location: location.to_string(),
        reason,
    }
}

impl Registry {
    /// Connects: builds the HTTP client, and finds out whether the registry
    /// speaks HTTPS (plain HTTP only when TLS verification is off).
    pub async fn connect(
        reference: &Named,
        options: &RegistryOptions,
        push: bool,
    ) -> Result<Self, TransportError> {
        let location = format!("docker://{reference}");
        let mut builder = reqwest::Client::builder()
            .user_agent(concat!("ferry/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(30))
            .redirect(reqwest::redirect::Policy::custom(|attempt| {
                let previous = attempt.previous().last().map_or("", |u| u.as_str());
                match response::redirect_refusal(
                    previous,
                    attempt.url().as_str(),
                    // `previous` holds the first request too.
                    attempt.previous().len().saturating_sub(1),
                ) {
                    Some(reason) => attempt.error(reason),
                    None => attempt.follow(),
                }
            }))
            .danger_accept_invalid_certs(!options.tls_verify);
        if let Some(dir) = &options.cert_dir {
            let entries =
                std::fs::read_dir(dir).map_err(super::io_error(dir, "read --cert-dir"))?;
            for entry in entries.flatten() {
                let path = entry.path();
                if path.extension().is_some_and(|e| e == "crt") {
                    let pem = std::fs::read(&path).map_err(super::io_error(&path, "read"))?;
                    let cert = reqwest::Certificate::from_pem(&pem).map_err(|e| {
                        TransportError::Malformed {
                            location: path.display().to_string(),
                            reason: format!("not a PEM certificate: {e}"),
                        }
                    })?;
                    builder = builder.add_root_certificate(cert);
                }
            }
        }
        let http = builder
            .build()
            .map_err(|e| http_error("cannot set up HTTP", &location, e))?;
        let host = reference.api_host();
        let https = format!("https://{host}");
        let base = match http.get(format!("{https}/v2/")).send().await {
            Ok(_) => https,
            Err(e) if !options.tls_verify => {
                // An insecure registry may speak plain HTTP.
                let http_base = format!("http://{host}");
                match http.get(format!("{http_base}/v2/")).send().await {
                    Ok(_) => http_base,
                    Err(_) => return Err(http_error("cannot reach the registry", &location, e)),
                }
            }
            Err(e) => {
                return Err(http_error(
                    "cannot reach the registry over HTTPS",
                    &location,
                    e,
                ));
            }
        };
        Ok(Registry {
            http,
            base,
            reference: reference.clone(),
            options: options.clone(),
            push,
            tokens: Mutex::new(HashMap::new()),
            basic: Mutex::new(false),
            extra_scopes: Mutex::new(Vec::new()),
            top_digest: Mutex::new(reference.digest().cloned()),
        })
    }

    fn location(&self) -> String {
        format!("docker://{}", self.reference)
    }

    fn url(&self, path: &str) -> String {
        format!("{}/v2/{}/{path}", self.base, self.reference.path())
    }

    /// The token scope key: this repository's access plus any other
    /// repositories mounts read from.
    fn scope(&self) -> String {
        let mut scopes = vec![auth::repository_scope(self.reference.path(), self.push)];
        if let Ok(extra) = self.extra_scopes.lock() {
            scopes.extend(extra.iter().cloned());
        }
        scopes.join(" ")
    }

    /// The Authorization header to send now, if any.
    fn authorization(&self) -> Option<String> {
        let scope = self.scope();
        if let Some((token, expiry)) = self.tokens.lock().ok()?.get(&scope)
            && Instant::now() < *expiry
        {
            return Some(format!("Bearer {token}"));
        }
        if *self.basic.lock().ok()? {
            return self.basic_header();
        }
        None
    }

    fn basic_header(&self) -> Option<String> {
        let (user, password) = self.options.credentials.as_ref()?;
        Some(format!(
            "Basic {}",
            base64_encode(format!("{user}:{password}").as_bytes())
        ))
    }

    /// Answers a 401: fetches a token for the challenge, or switches to
    /// Basic. Returns false when there is nothing more to try.
    async fn authenticate(&self, header: Option<&str>) -> Result<bool, TransportError> {
        let challenges = header.map(auth::parse_challenges).unwrap_or_default();
        if let Some(bearer) = challenges.iter().find(|c| c.scheme == "bearer") {
            return self.fetch_token(bearer).await.map(|()| true);
        }
        if challenges.iter().any(|c| c.scheme == "basic") && self.options.credentials.is_some() {
            let mut basic = self.basic.lock().map_err(|_| self.poisoned())?;
            let first = !*basic;
            *basic = true;
            return Ok(first);
        }
        Ok(false)
    }

    fn poisoned(&self) -> TransportError {
        TransportError::Malformed {
            location: self.location(),
            reason: "internal lock poisoned".into(),
        }
    }

    async fn fetch_token(&self, challenge: &Challenge) -> Result<(), TransportError> {
        let scope = self.scope();
        let scopes: Vec<String> = scope.split(' ').map(str::to_string).collect();
        let account = self.options.credentials.as_ref().map(|c| c.0.as_str());
        let url = auth::token_url(challenge, &scopes, account).ok_or_else(|| {
            TransportError::Malformed {
                location: self.location(),
                reason: "the registry's Bearer challenge has no realm".into(),
            }
        })?;
        let basic = self.basic_header();
        auth::check_realm(
            challenge.param("realm").unwrap_or_default(),
            self.base.starts_with("https://"),
            basic.is_some(),
        )
        .map_err(|e| TransportError::Malformed {
            location: self.location(),
            reason: e.to_string(),
        })?;
        let mut request = self.http.get(&url);
        if let Some(basic) = basic {
            request = request.header(reqwest::header::AUTHORIZATION, basic);
        }
        let answer = request
            .send()
            .await
            .map_err(|e| http_error("cannot reach the token server", &self.location(), e))?;
        let status = answer.status();
        let body = match read_limited(answer, auth::MAX_TOKEN_RESPONSE).await {
            Ok(body) => body,
            Err(BodyError::Http(e)) => {
                return Err(http_error("reading the token", &self.location(), e));
            }
            Err(BodyError::TooLarge(limit)) => {
                return Err(TransportError::Malformed {
                    location: self.location(),
                    reason: format!(
                        "the token server's response is larger than {limit} bytes; refused"
                    ),
                });
            }
        };
        if !status.is_success() {
            return Err(TransportError::Malformed {
                location: self.location(),
                reason: format!(
                    "the token server refused ({status}){}",
                    if self.options.credentials.is_some() {
                        "; check the credentials"
                    } else {
                        "; credentials may be needed (--creds)"
                    }
                ),
            });
        }
        let token = auth::parse_token(&body).map_err(|e| TransportError::Malformed {
            location: self.location(),
            reason: e.to_string(),
        })?;
        // Renew a little early rather than send an expired token.
        let expiry =
            Instant::now() + Duration::from_secs(token.expires_in.saturating_sub(10).max(1));
        self.tokens
            .lock()
            .map_err(|_| self.poisoned())?
            .insert(scope, (token.token, expiry));
        Ok(())
    }

    /// Sends a request built by `build`, authenticating and retrying as the
    /// responses ask.
    async fn send(
        &self,
        what: &str,
        build: impl Fn(&reqwest::Client) -> reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, TransportError> {
        let mut attempt = 0;
        let mut authenticated = false;
        loop {
            attempt += 1;
            let mut request = build(&self.http);
            if let Some(header) = self.authorization() {
                request = request.header(reqwest::header::AUTHORIZATION, header);
            }
            let result = request.send().await;
            let response = match result {
                Ok(r) => r,
                Err(e)
                    if attempt <= self.options.retry_times
                        && (e.is_connect() || e.is_timeout() || e.is_request()) =>
                {
                    tokio::time::sleep(Duration::from_millis(response::retry_delay_ms(
                        attempt, None,
                    )))
                    .await;
                    continue;
                }
                Err(e) => return Err(http_error(what, &self.location(), e)),
            };
            match response::classify(response.status().as_u16(), &[]) {
                Outcome::Unauthorized if !authenticated => {
                    authenticated = true;
                    let header = response
                        .headers()
                        .get(reqwest::header::WWW_AUTHENTICATE)
                        .and_then(|h| h.to_str().ok())
                        .map(str::to_string);
                    if self.authenticate(header.as_deref()).await? {
                        continue;
                    }
                    return Ok(response);
                }
                Outcome::Retry if attempt <= self.options.retry_times => {
                    let retry_after = response
                        .headers()
                        .get(reqwest::header::RETRY_AFTER)
                        .and_then(|h| h.to_str().ok())
                        .map(str::to_string);
                    tokio::time::sleep(Duration::from_millis(response::retry_delay_ms(
                        attempt,
                        retry_after.as_deref(),
                    )))
                    .await;
                    continue;
                }
                _ => return Ok(response),
            }
        }
    }

    /// Turns an unsuccessful response into an error naming the step.
    async fn failure(&self, what: &str, response: reqwest::Response) -> TransportError {
        let status = response.status();
        // A redirect that reaches here is one ferry would not follow.
        let redirect = header(&response, "location")
            .filter(|_| status.is_redirection())
            .map(|l| format!("a redirect ferry does not follow, to {l:?}"));
        let body = error_body(response).await;
        let errors = response::error_codes(&body);
        let codes: Vec<String> = errors.iter().map(|e| e.0.clone()).collect();
        let detail = errors
            .iter()
            .map(|(c, m)| format!("{c}: {m}"))
            .chain(redirect)
            .collect::<Vec<_>>()
            .join("; ");
        match response::classify(status.as_u16(), &codes) {
            Outcome::NotFound => TransportError::NotFound {
                what: what.to_string(),
                location: self.location(),
            },
            Outcome::Unauthorized => TransportError::Malformed {
                location: self.location(),
                reason: format!(
                    "{what}: not authorized ({status}){}",
                    if self.options.credentials.is_none() {
                        "; credentials may be needed (--creds)"
                    } else {
                        ""
                    }
                ),
            },
            _ => TransportError::Malformed {
                location: self.location(),
                reason: format!(
                    "{what}: the registry answered {status}{}",
                    if detail.is_empty() {
                        String::new()
                    } else {
                        format!(" ({detail})")
                    }
                ),
            },
        }
    }

    async fn get_manifest(
        &self,
        reference: &str,
    ) -> Result<(Vec<u8>, String, Option<String>), TransportError> {
        let url = self.url(&format!("manifests/{reference}"));
        let accept = mt::MANIFEST_TYPES.join(", ");
        let response = self
            .send("reading the manifest", |http| {
                http.get(&url).header(reqwest::header::ACCEPT, &accept)
            })
            .await?;
        if !response.status().is_success() {
            return Err(self
                .failure(&format!("manifest {reference}"), response)
                .await);
        }
        let media_type = header(&response, "content-type").unwrap_or_default();
        let media_type = media_type
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_string();
        let registry_digest = header(&response, "docker-content-digest");
        if response
            .content_length()
            .is_some_and(|n| n > MAX_MANIFEST_SIZE as u64)
        {
            return Err(TransportError::Malformed {
                location: self.location(),
                reason: format!("manifest {reference} is larger than the 4 MiB limit"),
            });
        }
        let mut bytes = Vec::new();
        let mut stream = response.bytes_stream();
        while let Some(chunk) = stream
            .try_next()
            .await
            .map_err(|e| http_error("reading the manifest", &self.location(), e))?
        {
            bytes.extend_from_slice(&chunk);
            if bytes.len() > MAX_MANIFEST_SIZE {
                return Err(TransportError::Malformed {
                    location: self.location(),
                    reason: format!("manifest {reference} is larger than the 4 MiB limit"),
                });
            }
        }
        // Registries send JSON types with other labels at times.
        let media_type = if mt::is_manifest_type(&media_type) {
            media_type
        } else {
            String::new()
        };
        Ok((bytes, media_type, registry_digest))
    }

    fn remember_top(&self, bytes: &[u8]) -> Result<Digest, TransportError> {
        let digest =
            ferry_core::manifest::digest(bytes).map_err(|e| TransportError::Malformed {
                location: self.location(),
                reason: e.to_string(),
            })?;
        *self.top_digest.lock().map_err(|_| self.poisoned())? = Some(digest.clone());
        Ok(digest)
    }

    /// The top-level manifest's digest: from the reference, from what was
    /// read or written, else read now.
    async fn top_digest(&self) -> Result<Digest, TransportError> {
        if let Some(d) = self.top_digest.lock().map_err(|_| self.poisoned())?.clone() {
            return Ok(d);
        }
        let (bytes, _, claimed) = self
            .get_manifest(&self.reference.manifest_reference())
            .await?;
        self.verify(&bytes, None, claimed.as_deref())?;
        self.remember_top(&bytes)
    }

    fn verify(
        &self,
        bytes: &[u8],
        expected: Option<&Digest>,
        claimed: Option<&str>,
    ) -> Result<(), TransportError> {
        let actual =
            ferry_core::manifest::digest(bytes).map_err(|e| TransportError::Malformed {
                location: self.location(),
                reason: e.to_string(),
            })?;
        let expected = match (expected, claimed) {
            (Some(d), _) => d.to_string(),
            (None, Some(c)) => c.to_string(),
            (None, None) => return Ok(()),
        };
        if actual.as_str() != expected {
            return Err(TransportError::DigestMismatch {
                what: format!("manifest from {}", self.location()),
                expected,
                actual: actual.to_string(),
            });
        }
        Ok(())
    }
}

impl Registry {
    /// Every tag of the repository, following `Link` pagination.
    pub async fn tags(&self) -> Result<Vec<String>, TransportError> {
        let mut tags = Vec::new();
        let mut next = Some(self.url("tags/list"));
        let mut pages = 0;
        while let Some(url) = next.take() {
            pages += 1;
            if pages > 10_000 {
                return Err(TransportError::Malformed {
                    location: self.location(),
                    reason: "tag list pagination does not end".into(),
                });
            }
            let response = self.send("listing tags", |http| http.get(&url)).await?;
            if !response.status().is_success() {
                return Err(self.failure("the tag list", response).await);
            }
            next = header(&response, "link").and_then(|link| {
                let start = link.find('<')? + 1;
                let end = link.find('>')?;
                let target = &link[start..end];
                Some(if target.starts_with("http") {
                    target.to_string()
                } else {
                    format!("{}{target}", self.base)
                })
            });
            let body = match read_limited(response, response::MAX_TAG_LIST).await {
                Ok(body) => body,
                Err(BodyError::Http(e)) => {
                    return Err(http_error("reading the tag list", &self.location(), e));
                }
                Err(BodyError::TooLarge(limit)) => {
                    return Err(TransportError::Malformed {
                        location: self.location(),
                        reason: format!("a tag list page is larger than {limit} bytes; refused"),
                    });
                }
            };
            let value: serde_json::Value =
                serde_json::from_slice(&body).map_err(|e| TransportError::Malformed {
                    location: self.location(),
                    reason: format!("the tag list is not JSON: {e}"),
                })?;
            if let Some(list) = value["tags"].as_array() {
                tags.extend(list.iter().filter_map(|t| t.as_str().map(str::to_string)));
            }
        }
        Ok(tags)
    }

    /// Deletes a manifest by digest (the tag is resolved first when the
    /// reference has no digest).
    pub async fn delete(&self) -> Result<Digest, TransportError> {
        let digest = match self.reference.digest() {
            Some(d) => d.clone(),
            None => {
                let (bytes, _, _) = self
                    .get_manifest(&self.reference.manifest_reference())
                    .await?;
                ferry_core::manifest::digest(&bytes).map_err(|e| TransportError::Malformed {
                    location: self.location(),
                    reason: e.to_string(),
                })?
            }
        };
        let url = self.url(&format!("manifests/{digest}"));
        let response = self
            .send("deleting the manifest", |http| http.delete(&url))
            .await?;
        if !response.status().is_success() {
            return Err(self.failure(&format!("manifest {digest}"), response).await);
        }
        Ok(digest)
    }
}

/// A blob download that picks up where a dropped connection left it.
struct Resume {
    http: reqwest::Client,
    /// The final URL (after redirects), so a resume does not send
    /// credentials anywhere new.
    url: String,
    authorization: Option<String>,
    response: Option<reqwest::Response>,
    received: u64,
    resumes_left: u32,
}

impl Resume {
    async fn next(mut self) -> Option<(Result<bytes::Bytes, std::io::Error>, Self)> {
        loop {
            let response = self.response.as_mut()?;
            match response.chunk().await {
                Ok(Some(chunk)) => {
                    self.received += chunk.len() as u64;
                    return Some((Ok(chunk), self));
                }
                Ok(None) => return None,
                Err(e) if self.resumes_left > 0 => {
                    self.resumes_left -= 1;
                    let mut request = self
                        .http
                        .get(&self.url)
                        .header(reqwest::header::RANGE, format!("bytes={}-", self.received));
                    if let Some(auth) = &self.authorization {
                        request = request.header(reqwest::header::AUTHORIZATION, auth);
                    }
                    match request.send().await {
                        Ok(r) if r.status().as_u16() == 206 => self.response = Some(r),
                        Ok(r) => {
                            self.response = None;
                            let error = std::io::Error::other(format!(
                                "resuming after {e}: the registry answered {} to a range request",
                                r.status()
                            ));
                            return Some((Err(error), self));
                        }
                        Err(again) => {
                            self.response = None;
                            return Some((Err(std::io::Error::other(again)), self));
                        }
                    }
                }
                Err(e) => {
                    self.response = None;
                    return Some((Err(std::io::Error::other(e)), self));
                }
            }
        }
    }
}

/// Why a bounded body could not be read.
enum BodyError {
    Http(reqwest::Error),
    /// Longer than this limit (or endless).
    TooLarge(usize),
}

/// Reads a body of at most `limit` bytes, stopping as soon as it is
/// longer, so an endless response costs no more than the limit.
async fn read_limited(mut response: reqwest::Response, limit: usize) -> Result<Vec<u8>, BodyError> {
    if response.content_length().is_some_and(|n| n > limit as u64) {
        return Err(BodyError::TooLarge(limit));
    }
    let mut bytes = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(BodyError::Http)? {
        if bytes.len() + chunk.len() > limit {
            return Err(BodyError::TooLarge(limit));
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes)
}

/// An error body, cut at [`response::MAX_ERROR_BODY`]: only its message
/// matters, and a hostile one must not fill memory.
async fn error_body(response: reqwest::Response) -> Vec<u8> {
    read_limited(response, response::MAX_ERROR_BODY)
        .await
        .unwrap_or_default()
}

fn header(response: &reqwest::Response, name: &str) -> Option<String> {
    response
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

fn base64_encode(data: &[u8]) -> String {
    const TABLE: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(TABLE[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[async_trait]
impl ImageSource for Registry {
    fn reference(&self) -> String {
        self.location()
    }

    async fn manifest(
        &self,
        instance: Option<&Digest>,
    ) -> Result<(Vec<u8>, String), TransportError> {
        match instance {
            None => {
                let (bytes, media_type, claimed) = self
                    .get_manifest(&self.reference.manifest_reference())
                    .await?;
                self.verify(&bytes, self.reference.digest(), claimed.as_deref())?;
                self.remember_top(&bytes)?;
                Ok((bytes, media_type))
            }
            Some(d) => {
                let (bytes, media_type, _) = self.get_manifest(d.as_str()).await?;
                self.verify(&bytes, Some(d), None)?;
                Ok((bytes, media_type))
            }
        }
    }

    async fn blob(&self, info: &BlobInfo) -> Result<(BlobStream, i64), TransportError> {
        let url = self.url(&format!("blobs/{}", info.digest));
        let response = self.send("reading a blob", |http| http.get(&url)).await?;
        if !response.status().is_success() {
            return Err(self
                .failure(&format!("blob {}", info.digest), response)
                .await);
        }
        // The copy engine compares this with the descriptor's size before
        // it reads a byte.
        let size = response.content_length().map_or(-1, |n| n as i64);
        // A dropped connection resumes with a Range request from where it
        // broke off, a bounded number of times.
        let state = Resume {
            http: self.http.clone(),
            url: response.url().to_string(),
            // After a redirect to another host (a CDN), credentials stay home.
            authorization: self
                .authorization()
                .filter(|_| response.url().as_str().starts_with(&self.base)),
            response: Some(response),
            received: 0,
            resumes_left: self.options.retry_times,
        };
        let stream = futures_util::stream::unfold(state, Resume::next);
        Ok((Box::pin(tokio_util::io::StreamReader::new(stream)), size))
    }

    async fn signatures(&self, instance: Option<&Digest>) -> Result<Vec<Vec<u8>>, TransportError> {
        let Some(base) = self.options.lookaside.base(&self.reference, Purpose::Read) else {
            // No lookaside storage is configured: the registry holds none.
            return Ok(Vec::new());
        };
        let digest = match instance {
            Some(d) => d.clone(),
            None => self.top_digest().await?,
        };
        crate::lookaside::read(&self.http, &base, &digest).await
    }

    fn registry_location(&self) -> Option<(String, String)> {
        Some((
            self.reference.api_host().to_string(),
            self.reference.path().to_string(),
        ))
    }
}

#[async_trait]
impl ImageDestination for Registry {
    fn reference(&self) -> String {
        self.location()
    }

    fn capabilities(&self) -> Capabilities {
        // Signatures only through a file:// lookaside staging location:
        // distribution has no signature API. Otherwise put_signatures says
        // why not.
        let signatures = self
            .options
            .lookaside
            .base(&self.reference, Purpose::Write)
            .is_some_and(|base| lookaside::location(&base, Purpose::Write).is_ok());
        Kind::Docker.capabilities().with_signatures(signatures)
    }

    fn reference_digest(&self) -> Option<String> {
        self.reference.digest().map(Digest::to_string)
    }

    fn docker_reference(&self) -> Option<(String, String)> {
        Some((
            self.reference.path().to_string(),
            self.reference.tag().unwrap_or_default().to_string(),
        ))
    }

    async fn has_blob(&self, info: &BlobInfo) -> Result<Option<i64>, TransportError> {
        let url = self.url(&format!("blobs/{}", info.digest));
        let response = self
            .send("checking for a blob", |http| http.head(&url))
            .await?;
        match response.status().as_u16() {
            // The header, not `content_length()`: reqwest gives a HEAD
            // response's (empty) body length, 0, as Go does not.
            200..=299 => Ok(Some(
                header(&response, "content-length")
                    .and_then(|n| n.parse::<i64>().ok())
                    .unwrap_or(info.size),
            )),
            404 => Ok(None),
            _ => Err(self
                .failure(&format!("blob {}", info.digest), response)
                .await),
        }
    }

    async fn mount_blob(
        &self,
        info: &BlobInfo,
        from: &(String, String),
    ) -> Result<super::Mount, TransportError> {
        use super::Mount;
        use response::{MountAnswer, mount_answer};
        let (host, repository) = from;
        if host != self.reference.api_host() || *repository == self.reference.path() {
            return Ok(Mount::NotTried);
        }
        // The token must cover pulling from the other repository too.
        let scope = auth::repository_scope(repository, false);
        self.extra_scopes
            .lock()
            .map_err(|_| self.poisoned())?
            .push(scope.clone());
        let url = self.url(&format!(
            "blobs/uploads/?mount={}&from={repository}",
            info.digest
        ));
        // Whatever goes wrong, containers/image uploads the blob instead,
        // and so does ferry; the refusal is reported, not swallowed.
        let refused = |reason: String| -> Result<Mount, TransportError> {
            // A scope the registry would not grant must not spoil the
            // tokens later requests ask for (containers/image asks for it
            // for the mount alone).
            let mut scopes = self.extra_scopes.lock().map_err(|_| self.poisoned())?;
            if let Some(i) = scopes.iter().rposition(|s| *s == scope) {
                scopes.remove(i);
            }
            Ok(Mount::Refused { reason })
        };
        let response = match self.send("mounting a blob", |http| http.post(&url)).await {
            Ok(response) => response,
            Err(e) => return refused(e.to_string()),
        };
        match mount_answer(response.status().as_u16()) {
            MountAnswer::Mounted => Ok(Mount::Mounted),
            MountAnswer::UploadStarted => {
                // Cancel the upload the registry opened; if that fails, the
                // registry lets it lapse.
                if let Some(location) = header(&response, "location") {
                    let location =
                        if location.starts_with("http://") || location.starts_with("https://") {
                            location
                        } else {
                            format!("{}{location}", self.base)
                        };
                    let _ = self
                        .send("cancelling the upload a mount started", |http| {
                            http.delete(&location)
                        })
                        .await;
                }
                refused(format!(
                    "the registry started an upload instead of mounting it from {repository}"
                ))
            }
            MountAnswer::Refused => {
                let error = self
                    .failure(
                        &format!("mounting blob {} from {repository}", info.digest),
                        response,
                    )
                    .await;
                refused(error.to_string())
            }
        }
    }

    async fn put_blob(&self, stream: BlobStream, info: &BlobInfo) -> Result<(), TransportError> {
        let start = self.url("blobs/uploads/");
        let response = self
            .send("starting a blob upload", |http| http.post(&start))
            .await?;
        if response.status().as_u16() != 202 {
            return Err(self
                .failure(&format!("upload of blob {}", info.digest), response)
                .await);
        }
        let location = header(&response, "location").ok_or_else(|| TransportError::Malformed {
            location: self.location(),
            reason: "the registry started an upload without a Location".into(),
        })?;
        let location = if location.starts_with("http://") || location.starts_with("https://") {
            location
        } else {
            format!("{}{location}", self.base)
        };
        let absolute = |l: String| {
            if l.starts_with("http://") || l.starts_with("https://") {
                l
            } else {
                format!("{}{l}", self.base)
            }
        };
        let with_digest = |l: &str| {
            let separator = if l.contains('?') { '&' } else { '?' };
            format!("{l}{separator}digest={}", info.digest)
        };
        // The body streams once, so an upload is retried by the engine,
        // which fetches the blob again, not here.
        // 64 KiB frames: ReaderStream's default 4 KiB made a 142 MiB push
        // 36,000 body frames (benches/RESULTS.md).
        let body = reqwest::Body::wrap_stream(tokio_util::io::ReaderStream::with_capacity(
            stream,
            64 * 1024,
        ));
        let small = info.size >= 0 && info.size <= MONOLITHIC_LIMIT;
        let what = format!("uploading blob {}", info.digest);
        let finish = if small {
            // Small blobs: one PUT carries the content and closes the upload.
            let mut request = self
                .http
                .put(with_digest(&location))
                .header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
                .header(reqwest::header::CONTENT_LENGTH, info.size)
                .body(body);
            if let Some(auth) = self.authorization() {
                request = request.header(reqwest::header::AUTHORIZATION, auth);
            }
            request
                .send()
                .await
                .map_err(|e| http_error(&what, &self.location(), e))?
        } else {
            // Large or unsized blobs: stream them in one PATCH, then close the
            // upload with an empty PUT naming the digest.
            let mut request = self
                .http
                .patch(&location)
                .header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
                .body(body);
            if info.size >= 0 {
                request = request.header(reqwest::header::CONTENT_LENGTH, info.size);
            }
            if let Some(auth) = self.authorization() {
                request = request.header(reqwest::header::AUTHORIZATION, auth);
            }
            let patched = request
                .send()
                .await
                .map_err(|e| http_error(&what, &self.location(), e))?;
            if patched.status().as_u16() != 202 {
                return Err(self
                    .failure(&format!("upload of blob {}", info.digest), patched)
                    .await);
            }
            let next = header(&patched, "location").map_or(location.clone(), absolute);
            let url = with_digest(&next);
            self.send("completing a blob upload", |http| {
                http.put(&url).header(reqwest::header::CONTENT_LENGTH, 0)
            })
            .await?
        };
        if finish.status().as_u16() != 201 {
            return Err(self
                .failure(&format!("upload of blob {}", info.digest), finish)
                .await);
        }
        Ok(())
    }

    async fn put_manifest(
        &self,
        manifest: &[u8],
        media_type: &str,
        instance: Option<&Digest>,
    ) -> Result<(), TransportError> {
        let target = match instance {
            Some(d) => d.to_string(),
            None => self.reference.manifest_reference(),
        };
        let url = self.url(&format!("manifests/{target}"));
        let body = manifest.to_vec();
        let response = self
            .send("writing the manifest", |http| {
                http.put(&url)
                    .header(reqwest::header::CONTENT_TYPE, media_type)
                    .body(body.clone())
            })
            .await?;
        if response.status().is_success() {
            if instance.is_none() {
                self.remember_top(manifest)?;
            }
            return Ok(());
        }
        let status = response.status().as_u16();
        let body = error_body(response).await;
        let errors = response::error_codes(&body);
        let codes: Vec<String> = errors.iter().map(|e| e.0.clone()).collect();
        let detail = errors
            .iter()
            .map(|(c, m)| format!("{c}: {m}"))
            .collect::<Vec<_>>()
            .join("; ");
        match response::classify(status, &codes) {
            Outcome::ManifestRejected => Err(TransportError::ManifestTypeRejected {
                media_type: media_type.to_string(),
                reason: format!("{} answered {status} ({detail})", self.location()),
            }),
            _ => Err(TransportError::Malformed {
                location: self.location(),
                reason: format!(
                    "writing manifest {target}: the registry answered {status} ({detail}){}",
                    // distribution 2.8 refuses schema 1 with a bare 500
                    // unless configured to accept it.
                    if matches!(media_type, mt::DOCKER_V2S1 | mt::DOCKER_V2S1_SIGNED) {
                        format!("; many registries no longer accept {media_type} manifests")
                    } else {
                        String::new()
                    }
                ),
            }),
        }
    }

    async fn put_signatures(
        &self,
        signatures: &[Vec<u8>],
        instance: Option<&Digest>,
    ) -> Result<(), TransportError> {
        if signatures.is_empty() {
            return Ok(());
        }
        let Some(base) = self.options.lookaside.base(&self.reference, Purpose::Write) else {
            // containers/image's words for the same refusal.
            return Err(TransportError::Unsupported {
                location: self.location(),
                reason: "pushing signatures to a Docker Registry is not supported, and there is no applicable signature storage configured (set lookaside-staging in registries.d, or use --remove-signatures)".into(),
            });
        };
        // A location ferry cannot write to is refused before the digest is
        // needed: the engine asks before anything is written.
        lookaside::location(&base, Purpose::Write).map_err(|e| TransportError::Unsupported {
            location: self.location(),
            reason: e.to_string(),
        })?;
        let digest = match instance {
            Some(d) => d.clone(),
            None => self.top_digest().await?,
        };
        crate::lookaside::write(&base, &digest, signatures).await
    }

    async fn commit(&self, _top: &[u8], _media_type: &str) -> Result<(), TransportError> {
        // A registry makes each manifest visible when it is written.
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::base64_encode;

    #[test]
    fn base64_matches_the_standard_alphabet_with_padding() {
        assert_eq!(base64_encode(b"user:pass"), "dXNlcjpwYXNz");
        assert_eq!(base64_encode(b"a"), "YQ==");
        assert_eq!(base64_encode(b"ab"), "YWI=");
    }
}
