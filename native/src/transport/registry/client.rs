//! Connecting to a registry, sending requests with authentication and
//! retries, and what an unsuccessful answer means.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use ferry_core::reference::Named;
use ferry_core::registry::response::{self, Outcome};
use ferry_core::retry::{self, Failure};

use super::http::{error_details, header, http_error};
use super::{Registry, RegistryOptions};
use crate::task::AbortOnDrop;
use crate::transport::TransportError;

impl Registry {
    /// Connects: builds the HTTP client, and finds out whether the registry
    /// speaks HTTPS (plain HTTP only when TLS verification is off).
    pub async fn connect(
        reference: &Named,
        options: &RegistryOptions,
        push: bool,
    ) -> Result<Self, TransportError> {
        let location = format!("docker://{reference}");
        let mut roots = Vec::new();
        if let Some(dir) = &options.cert_dir {
            let entries = std::fs::read_dir(dir)
                .map_err(crate::transport::io_error(dir, "read --cert-dir"))?;
            for entry in entries.flatten() {
                let path = entry.path();
                if path.extension().is_some_and(|e| e == "crt") {
                    let pem =
                        std::fs::read(&path).map_err(crate::transport::io_error(&path, "read"))?;
                    let cert = reqwest::Certificate::from_pem(&pem).map_err(|e| {
                        TransportError::Malformed {
                            location: path.display().to_string(),
                            reason: format!("not a PEM certificate: {e}"),
                        }
                    })?;
                    roots.push(cert);
                }
            }
        }
        let client = |http1_only: bool| {
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
                .danger_accept_invalid_certs(!options.tls_verify)
                // Without verification no root is ever consulted, and
                // loading the system's (about 150 files in /etc/ssl/certs,
                // parsed) was 16 of `inspect --raw`'s 20 million
                // instructions, and most of its 5 ms, against a local
                // registry (benches/counts.py).
                .tls_built_in_root_certs(options.tls_verify);
            for cert in &roots {
                builder = builder.add_root_certificate(cert.clone());
            }
            if http1_only {
                builder = builder.http1_only();
            }
            builder
                .build()
                .map_err(|e| http_error("cannot set up HTTP", &location, e))
        };
        let http = client(false)?;
        let host = reference.api_host();
        let https = format!("https://{host}");
        // The ping also says whether the registry keeps signatures itself
        // (the signature API extension).
        let advertises = |r: &reqwest::Response| {
            ferry_core::registry::signatures::extension_advertised(
                header(r, ferry_core::registry::signatures::EXTENSION_HEADER).as_deref(),
            )
        };
        // An insecure registry may speak plain HTTP: it is pinged over
        // HTTP beside the HTTPS attempt rather than after its refusal (a
        // refused handshake costs two round trips), and HTTP is used only
        // when HTTPS fails, as containers/image decides. The ping carries
        // no credentials, and its answer is dropped when HTTPS answers.
        let plain = (!options.tls_verify).then(|| {
            let http_base = format!("http://{host}");
            let ping = tokio::spawn(http.get(format!("{http_base}/v2/")).send());
            (http_base, AbortOnDrop(ping))
        });
        // A ping refused for want of authentication names the challenge
        // every request of this repository would meet.
        let challenge = |r: &reqwest::Response| {
            (r.status().as_u16() == 401)
                .then(|| header(r, reqwest::header::WWW_AUTHENTICATE.as_str()))
                .flatten()
        };
        let over_http2 = |r: &reqwest::Response| r.version() == reqwest::Version::HTTP_2;
        let (base, supports_signatures, challenge, multiplexed) =
            match http.get(format!("{https}/v2/")).send().await {
                Ok(r) => (https, advertises(&r), challenge(&r), over_http2(&r)),
                Err(e) if let Some((http_base, mut ping)) = plain => match (&mut ping.0).await {
                    Ok(Ok(r)) => (http_base, advertises(&r), challenge(&r), false),
                    _ => return Err(http_error("cannot reach the registry", &location, e)),
                },
                Err(e) => {
                    return Err(http_error(
                        "cannot reach the registry over HTTPS",
                        &location,
                        e,
                    ));
                }
            };
        let bulk = if multiplexed {
            client(true)?
        } else {
            http.clone()
        };
        let registry = Registry {
            http,
            bulk,
            multiplexed,
            base,
            reference: reference.clone(),
            options: options.clone(),
            push,
            tokens: Mutex::new(HashMap::new()),
            basic: Mutex::new(false),
            extra_scopes: Mutex::new(Vec::new()),
            top_digest: Mutex::new(reference.digest().cloned()),
            supports_signatures,
            oci_subject: Mutex::new(None),
            settled: tokio::sync::OnceCell::new(),
            settling: Mutex::new(None),
            authenticating: tokio::sync::Mutex::new(()),
        };
        // The challenge is answered now, in the background, while the
        // caller reads the other side: the first requests then carry the
        // token (for this repository's pull or push scope) rather than
        // each meeting a 401 and fetching one, and a destination's blob
        // checks can all go out at once (benches/RESULTS-wan.md).
        if let Some(challenge) = challenge {
            let probe = registry.at_reference(registry.reference.clone(), push);
            let task = tokio::spawn(async move {
                // A failure is not reported here: the first request meets
                // the challenge again and reports it where it happens.
                let answered = probe.authenticate(Some(&challenge)).await;
                (probe, matches!(answered, Ok(true)))
            });
            *registry.settling.lock().map_err(|_| registry.poisoned())? = Some(AbortOnDrop(task));
        }
        Ok(registry)
    }

    /// Waits for the authentication started when connecting, once, and
    /// takes its token (or its switch to Basic); concurrent callers wait
    /// for the same one.
    async fn settle(&self) {
        self.settled
            .get_or_init(|| async {
                let task = self.settling.lock().ok().and_then(|mut t| t.take());
                let Some(mut task) = task else { return };
                let Ok((probe, true)) = (&mut task.0).await else {
                    return;
                };
                if let (Ok(theirs), Ok(mut ours)) = (probe.tokens.lock(), self.tokens.lock()) {
                    ours.extend(theirs.iter().map(|(k, v)| (k.clone(), v.clone())));
                }
                if let (Ok(theirs), Ok(mut ours)) = (probe.basic.lock(), self.basic.lock()) {
                    *ours |= *theirs;
                }
            })
            .await;
    }

    /// Sends a request built by `build`, authenticating and retrying as the
    /// responses ask.
    pub(super) async fn send(
        &self,
        what: &str,
        build: impl Fn(&reqwest::Client) -> reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, TransportError> {
        self.send_on(&self.http, what, build).await
    }

    /// [`send`](Self::send) for a request whose response carries a blob.
    pub(super) async fn send_bulk(
        &self,
        what: &str,
        build: impl Fn(&reqwest::Client) -> reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, TransportError> {
        self.send_on(&self.bulk, what, build).await
    }

    async fn send_on(
        &self,
        client: &reqwest::Client,
        what: &str,
        build: impl Fn(&reqwest::Client) -> reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, TransportError> {
        self.settle().await;
        let mut attempt = 0;
        let mut authenticated = false;
        loop {
            attempt += 1;
            let mut request = build(client);
            let sent = self.authorization();
            if let Some(header) = &sent {
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
            let status = response.status().as_u16();
            match response::classify(status, &[]) {
                Outcome::Unauthorized if !authenticated => {
                    authenticated = true;
                    let header = response
                        .headers()
                        .get(reqwest::header::WWW_AUTHENTICATE)
                        .and_then(|h| h.to_str().ok())
                        .map(str::to_string);
                    // One challenge answered at a time: requests refused
                    // side by side (checks sent at once to a registry whose
                    // ping asked for nothing) take the token the first
                    // fetched rather than each fetching one.
                    let _one = self.authenticating.lock().await;
                    if self.authorization() != sent || self.authenticate(header.as_deref()).await? {
                        continue;
                    }
                    return Ok(response);
                }
                _ if attempt <= self.options.retry_times
                    && retry::is_transient(&Failure::Status { status, codes: &[] }) =>
                {
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
    pub(super) async fn failure(&self, what: &str, response: reqwest::Response) -> TransportError {
        let status = response.status();
        // A redirect that reaches here is one ferry would not follow.
        let redirect = header(&response, "location")
            .filter(|_| status.is_redirection())
            .map(|l| format!("a redirect ferry does not follow, to {l:?}"));
        let (codes, mut detail) = error_details(response).await;
        detail.extend(redirect);
        let detail = detail.join("; ");
        match response::classify(status.as_u16(), &codes) {
            Outcome::NotFound => TransportError::NotFound {
                what: what.to_string(),
                location: self.location(),
            },
            Outcome::Unauthorized => TransportError::Unauthorized {
                location: self.location(),
                reason: format!(
                    "{what}: not authorized ({status}){}",
                    if self.options.credentials.is_none() {
                        "; credentials may be needed (--creds)"
                    } else {
                        ""
                    }
                ),
                status: status.as_u16(),
            },
            _ => TransportError::Status {
                location: self.location(),
                reason: format!(
                    "{what}: the registry answered {status}{}",
                    if detail.is_empty() {
                        String::new()
                    } else {
                        format!(" ({detail})")
                    }
                ),
                status: status.as_u16(),
                codes,
            },
        }
    }
}
