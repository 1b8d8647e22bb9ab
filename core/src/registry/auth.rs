//! Registry authentication: `WWW-Authenticate` challenges, token requests
//! and token responses (Docker's token authentication specification).

use alloc::string::{String, ToString};
use alloc::vec::Vec;

use crate::json::{self, Value};

/// One challenge from a `WWW-Authenticate` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    /// `basic` or `bearer`, lowercased.
    pub scheme: String,
    /// Parameters in order (`realm`, `service`, `scope`, `error`, …), keys
    /// lowercased.
    pub params: Vec<(String, String)>,
}

impl Challenge {
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Whether the registry says the token lacked a permission (so a new
    /// token with the right scope may help, once).
    pub fn is_insufficient_scope(&self) -> bool {
        self.param("error") == Some("insufficient_scope")
    }
}

/// Parses a `WWW-Authenticate` header value, which may hold several
/// challenges: `Bearer realm="https://auth",service="reg",scope="…", Basic realm="x"`.
pub fn parse_challenges(header: &str) -> Vec<Challenge> {
    let mut out: Vec<Challenge> = Vec::new();
    let bytes = header.as_bytes();
    let mut i = 0;
    let skip_ws = |i: &mut usize| {
        while *i < bytes.len() && (bytes[*i] == b' ' || bytes[*i] == b'\t' || bytes[*i] == b',') {
            *i += 1;
        }
    };
    let token = |i: &mut usize| -> String {
        let start = *i;
        while *i < bytes.len() && !matches!(bytes[*i], b' ' | b'\t' | b',' | b'=') {
            *i += 1;
        }
        header[start..*i].to_string()
    };
    loop {
        skip_ws(&mut i);
        if i >= bytes.len() {
            break;
        }
        let word = token(&mut i);
        if i < bytes.len() && bytes[i] == b'=' {
            // A parameter of the current challenge.
            i += 1;
            let value = if i < bytes.len() && bytes[i] == b'"' {
                i += 1;
                let mut v = String::new();
                while i < bytes.len() && bytes[i] != b'"' {
                    if bytes[i] == b'\\' && i + 1 < bytes.len() {
                        i += 1;
                    }
                    let ch_len = header[i..].chars().next().map_or(1, char::len_utf8);
                    v.push_str(&header[i..i + ch_len]);
                    i += ch_len;
                }
                i += 1;
                v
            } else {
                token(&mut i)
            };
            if let Some(c) = out.last_mut() {
                c.params.push((word.to_ascii_lowercase(), value));
            }
        } else if !word.is_empty() {
            out.push(Challenge {
                scheme: word.to_ascii_lowercase(),
                params: Vec::new(),
            });
        } else {
            i += 1;
        }
    }
    out
}

/// `repository:NAME:ACTIONS` for a token request.
pub fn repository_scope(repository: &str, push: bool) -> String {
    if push {
        alloc::format!("repository:{repository}:pull,push")
    } else {
        alloc::format!("repository:{repository}:pull")
    }
}

/// The URL to ask for a token: the challenge's realm with `service`, each
/// scope, and the account (when credentials are known) as query
/// parameters. `None` when the challenge has no realm.
pub fn token_url(
    challenge: &Challenge,
    scopes: &[String],
    account: Option<&str>,
) -> Option<String> {
    let realm = challenge.param("realm")?;
    let mut url = String::from(realm);
    let mut separator = if realm.contains('?') { '&' } else { '?' };
    let mut push = |key: &str, value: &str| {
        url.push(separator);
        separator = '&';
        url.push_str(key);
        url.push('=');
        url.push_str(&percent_encode(value));
    };
    if let Some(service) = challenge.param("service") {
        push("service", service);
    }
    let mut seen: Vec<&str> = Vec::new();
    for scope in scopes
        .iter()
        .map(String::as_str)
        .chain(challenge.param("scope"))
    {
        if !seen.contains(&scope) {
            seen.push(scope);
            push("scope", scope);
        }
    }
    if let Some(account) = account {
        push("account", account);
    }
    Some(url)
}

fn percent_encode(value: &str) -> String {
    let mut out = String::new();
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&alloc::format!("%{b:02X}"));
        }
    }
    out
}

/// The largest token response read (containers/image's limit too): a
/// token server that never stops sending is cut off here.
pub const MAX_TOKEN_RESPONSE: usize = 1024 * 1024;

/// Why ferry will not ask a challenge's realm for a token.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RealmRefusal {
    /// The realm is not an `http://` or `https://` URL (`file:`, `ftp:`…).
    NotHttp { realm: String },
    /// The registry speaks HTTPS but the realm is plain HTTP, and
    /// credentials would cross in clear text.
    CleartextCredentials { realm: String },
}

impl core::fmt::Display for RealmRefusal {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            RealmRefusal::NotHttp { realm } => write!(
                f,
                "the registry's token realm {realm} is not an http(s) URL; refusing to use it",
                realm = crate::Quoted(realm)
            ),
            RealmRefusal::CleartextCredentials { realm } => write!(
                f,
                "the registry is HTTPS but its token realm {realm} is plain HTTP; refusing to send credentials there in clear text",
                realm = crate::Quoted(realm)
            ),
        }
    }
}

impl core::error::Error for RealmRefusal {}

/// Decides whether a token may be asked for at `realm`. containers/image
/// sends the request (and any credentials) to whatever realm the
/// challenge names; ferry refuses what is not http(s), and refuses to send
/// credentials over plain HTTP when the registry itself was reached over
/// HTTPS (an anonymous token request there is allowed: it carries no
/// secret, and the registry checks the token it gets back). A realm on
/// another host is normal (Docker Hub's is) and allowed.
pub fn check_realm(
    realm: &str,
    registry_https: bool,
    sends_credentials: bool,
) -> Result<(), RealmRefusal> {
    let scheme = realm
        .split_once("://")
        .map(|(s, _)| s.to_ascii_lowercase())
        .unwrap_or_default();
    match scheme.as_str() {
        "https" => Ok(()),
        "http" if registry_https && sends_credentials => Err(RealmRefusal::CleartextCredentials {
            realm: realm.to_string(),
        }),
        "http" => Ok(()),
        _ => Err(RealmRefusal::NotHttp {
            realm: realm.to_string(),
        }),
    }
}

/// A token server's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    pub token: String,
    /// Seconds the token is valid (60 when the server does not say, as the
    /// specification prescribes).
    pub expires_in: u64,
}

/// Why a token response is unusable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenError(pub String);

impl core::fmt::Display for TokenError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "invalid token response: {}", self.0)
    }
}

impl core::error::Error for TokenError {}

/// Reads `{"token": …}` or `{"access_token": …}` with `expires_in`.
pub fn parse_token(body: &[u8]) -> Result<Token, TokenError> {
    let value = json::parse(body).map_err(|e| TokenError(e.to_string()))?;
    let object = value
        .as_object()
        .ok_or_else(|| TokenError("not a JSON object".into()))?;
    let token = object
        .get_exact("token")
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty())
        .or_else(|| object.get_exact("access_token").and_then(Value::as_str))
        .filter(|t| !t.is_empty())
        .ok_or_else(|| TokenError("no token".into()))?;
    let expires_in = match object.get_exact("expires_in") {
        Some(Value::Number(n)) => n.as_i64().filter(|s| *s > 0).map_or(60, |s| s as u64),
        _ => 60,
    };
    Ok(Token {
        token: token.to_string(),
        expires_in: expires_in.max(60),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_bearer_challenge() {
        let c = parse_challenges(
            r#"Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull""#,
        );
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].scheme, "bearer");
        assert_eq!(c[0].param("realm"), Some("https://auth.example/token"));
        assert_eq!(c[0].param("scope"), Some("repository:a/b:pull"));
    }

    #[test]
    fn parses_several_challenges_and_escapes() {
        let c = parse_challenges(
            r#"Basic realm="Registry \"x\"", Bearer realm="r",error="insufficient_scope""#,
        );
        assert_eq!(c.len(), 2);
        assert_eq!(c[0].param("realm"), Some("Registry \"x\""));
        assert!(c[1].is_insufficient_scope());
    }

    #[test]
    fn builds_a_token_url_with_service_scopes_and_account() {
        let c = parse_challenges(
            r#"Bearer realm="https://auth/token",service="reg 1",scope="repository:x:pull""#,
        );
        let url = token_url(&c[0], &[repository_scope("x", true)], Some("me")).unwrap();
        assert_eq!(
            url,
            "https://auth/token?service=reg%201&scope=repository%3Ax%3Apull%2Cpush&scope=repository%3Ax%3Apull&account=me"
        );
    }

    #[test]
    fn realms_must_be_http_and_keep_credentials_off_cleartext_from_https() {
        assert_eq!(
            check_realm("https://auth.elsewhere/token", true, true),
            Ok(())
        );
        assert_eq!(check_realm("http://auth/token", false, true), Ok(()));
        assert_eq!(check_realm("http://auth/token", true, false), Ok(()));
        assert!(matches!(
            check_realm("http://auth/token", true, true),
            Err(RealmRefusal::CleartextCredentials { .. })
        ));
        for realm in ["file:///etc/passwd", "ftp://x/y", "/relative", ""] {
            assert!(
                matches!(
                    check_realm(realm, false, false),
                    Err(RealmRefusal::NotHttp { .. })
                ),
                "{realm}"
            );
        }
    }

    #[test]
    fn token_responses_default_to_sixty_seconds() {
        assert_eq!(
            parse_token(br#"{"token":"t"}"#).unwrap(),
            Token {
                token: "t".into(),
                expires_in: 60
            }
        );
        assert_eq!(
            parse_token(br#"{"access_token":"a","expires_in":300}"#)
                .unwrap()
                .expires_in,
            300
        );
        assert!(parse_token(br#"{"token":""}"#).is_err());
    }
}
