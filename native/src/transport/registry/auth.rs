//! Authentication: Basic credentials, and Bearer tokens fetched from the
//! realm a challenge names (ferry-core decides what a challenge asks for
//! and whether its realm may receive the credentials).

use std::time::{Duration, Instant};

use ferry_core::registry::auth::{self, Challenge};
use ferry_core::retry::{self, Failure};

use super::Registry;
use super::http::{base64_encode, http_error, read_body};
use crate::transport::TransportError;

impl Registry {
    /// The token scope key: this repository's access plus any other
    /// repositories mounts read from.
    pub(super) fn scope(&self) -> String {
        let mut scopes = vec![auth::repository_scope(self.reference.path(), self.push)];
        if let Ok(extra) = self.extra_scopes.lock() {
            scopes.extend(extra.iter().cloned());
        }
        scopes.join(" ")
    }

    /// The Authorization header to send now, if any.
    pub(super) fn authorization(&self) -> Option<String> {
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

    pub(super) fn basic_header(&self) -> Option<String> {
        let (user, password) = self.options.credentials.as_ref()?;
        Some(format!(
            "Basic {}",
            base64_encode(format!("{user}:{password}").as_bytes())
        ))
    }

    /// Answers a 401: fetches a token for the challenge, or switches to
    /// Basic. Returns false when there is nothing more to try.
    pub(super) async fn authenticate(&self, header: Option<&str>) -> Result<bool, TransportError> {
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

    pub(super) async fn fetch_token(&self, challenge: &Challenge) -> Result<(), TransportError> {
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
        let body = read_body(
            answer,
            auth::MAX_TOKEN_RESPONSE,
            &self.location(),
            "reading the token",
            |limit| format!("the token server's response is larger than {limit} bytes; refused"),
        )
        .await?;
        if !status.is_success() {
            let location = self.location();
            let reason = format!(
                "the token server refused ({status}){}",
                if self.options.credentials.is_some() {
                    "; check the credentials"
                } else {
                    "; credentials may be needed (--creds)"
                }
            );
            let status = status.as_u16();
            // A token server that is down for a moment is waited for like
            // the registry; any other refusal is about the credentials.
            let codes = Vec::new();
            let failure = Failure::Status {
                status,
                codes: &codes,
            };
            return Err(if retry::is_transient(&failure) {
                TransportError::Status {
                    location,
                    reason,
                    status,
                    codes,
                }
            } else {
                TransportError::Unauthorized {
                    location,
                    reason,
                    status,
                }
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
}
