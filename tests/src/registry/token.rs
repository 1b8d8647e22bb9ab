//! A bearer-token server in the manner of Docker Hub's: the `realm` of a
//! distribution registry configured with `auth.token`.
//!
//! It answers `GET /token?service=S&scope=T:NAME:ACTIONS&…` (credentials,
//! if any, in `Authorization: Basic`) and the OAuth2 form
//! `POST /token` (`grant_type=password&username=…&password=…&service=…&scope=…`).
//! Valid credentials get exactly the actions they asked for, anonymous
//! requests get a token that allows nothing, wrong credentials get a 401.
//! Tokens are JWTs signed ES256 by a key whose certificate chain rides in
//! the header's `x5c`, which distribution verifies against the root in its
//! `rootcertbundle`. Every request is recorded for assertions.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use ring::rand::{SecureRandom as _, SystemRandom};
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair};
use serde_json::json;

use super::http::{self, Reader, Server};
use super::{Credentials, Error};

/// How a [`TokenServer`] behaves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenServerConfig {
    /// The one user with access to everything.
    pub credentials: Credentials,
    /// The service the registry names in its challenge, and the `aud` of
    /// tokens for requests that name no service.
    pub service: String,
    /// The `iss` of every token; the registry trusts only this issuer.
    pub issuer: String,
    /// Lifetime of a token in seconds (`expires_in`, and `exp` − `iat`).
    pub expires_in: u64,
}

impl TokenServerConfig {
    /// The defaults: service `ferry-registry`, issuer `ferry-token-issuer`,
    /// 300 s tokens.
    pub fn new(credentials: Credentials) -> Self {
        TokenServerConfig {
            credentials,
            service: "ferry-registry".into(),
            issuer: "ferry-token-issuer".into(),
            expires_in: 300,
        }
    }
}

/// Actions on one resource, as in a scope and in a token's `access` claim.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Access {
    /// The resource type: `repository`, `registry`, …
    pub kind: String,
    /// The resource name: a repository name such as `demo` or `library/x`.
    pub name: String,
    /// The actions: `pull`, `push`, `delete`, `*`.
    pub actions: Vec<String>,
}

impl Access {
    /// Parses `TYPE:NAME:ACTION[,ACTION…]`; the name may contain colons.
    pub fn parse(scope: &str) -> Option<Access> {
        let (kind, rest) = scope.split_once(':')?;
        let (name, actions) = rest.rsplit_once(':')?;
        if kind.is_empty() || name.is_empty() {
            return None;
        }
        Some(Access {
            kind: kind.into(),
            name: name.into(),
            actions: actions
                .split(',')
                .filter(|a| !a.is_empty())
                .map(String::from)
                .collect(),
        })
    }
}

/// One request the token server answered.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TokenRequest {
    /// `GET` or `POST`.
    pub method: String,
    /// Path and query as sent.
    pub target: String,
    /// The `service` parameter.
    pub service: Option<String>,
    /// Every scope asked for, as sent (space-separated lists split).
    pub scopes: Vec<String>,
    /// The `account` parameter.
    pub account: Option<String>,
    /// The `client_id` parameter.
    pub client_id: Option<String>,
    /// The user whose credentials were accepted; `None` if anonymous or rejected.
    pub user: Option<String>,
    /// Whether credentials were sent and were wrong (answered 401).
    pub rejected: bool,
    /// What the issued token allows (empty when anonymous or rejected).
    pub granted: Vec<Access>,
    /// The status answered: 200, 400, 401 or 404.
    pub status: u16,
}

/// A running token server; stops on drop.
#[derive(Debug)]
pub struct TokenServer {
    server: Server,
    config: TokenServerConfig,
    root_pem: String,
    log: Arc<Mutex<Vec<TokenRequest>>>,
}

#[derive(Debug)]
struct State {
    config: TokenServerConfig,
    key: EcdsaKeyPair,
    x5c: Vec<String>,
    rng: SystemRandom,
    log: Arc<Mutex<Vec<TokenRequest>>>,
}

impl TokenServer {
    /// Makes a signing key and its chain, and serves on a free port.
    pub fn start(config: TokenServerConfig) -> Result<TokenServer, Error> {
        let chain = super::tls::token_chain()?;
        let rng = SystemRandom::new();
        let key =
            EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &chain.key_pkcs8, &rng)
                .map_err(|e| Error::Pki {
                    what: "the token signing key",
                    detail: e.to_string(),
                })?;
        let log = Arc::new(Mutex::new(Vec::new()));
        let state = Arc::new(State {
            config: config.clone(),
            key,
            x5c: chain
                .chain_der
                .iter()
                .map(|der| STANDARD.encode(der))
                .collect(),
            rng,
            log: Arc::clone(&log),
        });
        let server = Server::start("token server", move |stream, _| {
            let state = Arc::clone(&state);
            async move {
                let _ = serve(stream, &state).await;
            }
        })?;
        Ok(TokenServer {
            server,
            config,
            root_pem: chain.root_pem,
            log,
        })
    }

    /// Its address.
    pub fn addr(&self) -> SocketAddr {
        self.server.addr()
    }

    /// The realm URL: `http://127.0.0.1:PORT/token`.
    pub fn realm(&self) -> String {
        format!("http://{}/token", self.addr())
    }

    /// How it was configured.
    pub fn config(&self) -> &TokenServerConfig {
        &self.config
    }

    /// The root certificate (PEM) that token signatures chain to.
    pub fn root_pem(&self) -> &str {
        &self.root_pem
    }

    /// Every request answered so far, oldest first.
    pub fn requests(&self) -> Vec<TokenRequest> {
        self.log
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Forgets the requests answered so far.
    pub fn clear_requests(&self) {
        self.log
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }
}

async fn serve(stream: tokio::net::TcpStream, state: &State) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut reader = Reader::new(read);
    let Some(head) = reader.head().await? else {
        return Ok(());
    };
    let (method, target) = head.request_line();
    let mut body = Vec::new();
    reader
        .body(head.request_framing(), &mut body, Some(64 * 1024))
        .await?;
    let (path, query) = target.split_once('?').unwrap_or((&target, ""));
    let mut params = form(query);
    if method == "POST" {
        params.extend(form(&String::from_utf8_lossy(&body)));
    }
    let (request, answer) = answer(
        state,
        &method,
        &target,
        path,
        &params,
        head.header("authorization"),
    );
    state
        .log
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push(request);
    http::write_all(&mut write, &answer).await
}

/// Decides one request: the record to log and the bytes to send.
fn answer(
    state: &State,
    method: &str,
    target: &str,
    path: &str,
    params: &[(String, String)],
    authorization: Option<&str>,
) -> (TokenRequest, Vec<u8>) {
    let param = |name: &str| {
        params
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
    };
    let mut request = TokenRequest {
        method: method.into(),
        target: target.into(),
        service: param("service"),
        scopes: params
            .iter()
            .filter(|(n, _)| n == "scope")
            .flat_map(|(_, v)| v.split(' ').filter(|s| !s.is_empty()).map(String::from))
            .collect(),
        account: param("account"),
        client_id: param("client_id"),
        user: None,
        rejected: false,
        granted: Vec::new(),
        status: 200,
    };
    let json_headers = |extra: Option<(&'static str, String)>| {
        let mut headers = vec![
            ("Content-Type", "application/json".to_string()),
            ("Connection", "close".to_string()),
        ];
        headers.extend(extra);
        headers
    };
    let fail = |request: &mut TokenRequest, status: u16, code: &str, message: &str| {
        request.status = status;
        let body = json!({ "errors": [{ "code": code, "message": message }] }).to_string();
        let challenge = (status == 401).then(|| {
            (
                "WWW-Authenticate",
                "Basic realm=\"ferry-token\"".to_string(),
            )
        });
        http::response(status, &json_headers(challenge), body.as_bytes())
    };

    if path != "/token" {
        let bytes = fail(
            &mut request,
            404,
            "NOT_FOUND",
            "the token endpoint is /token",
        );
        return (request, bytes);
    }
    if !matches!(method, "GET" | "POST") {
        let bytes = fail(&mut request, 405, "UNSUPPORTED", "GET or POST /token");
        return (request, bytes);
    }
    let offered = if method == "POST" {
        match param("grant_type").as_deref() {
            Some("password") => Some((
                param("username").unwrap_or_default(),
                param("password").unwrap_or_default(),
            )),
            _ => {
                let bytes = fail(
                    &mut request,
                    400,
                    "UNSUPPORTED",
                    "only grant_type=password is supported (no refresh tokens)",
                );
                return (request, bytes);
            }
        }
    } else {
        authorization.map(|value| basic_credentials(value).unwrap_or_default())
    };
    // Without credentials: anonymous, a token that allows nothing.
    if let Some((user, password)) = offered {
        let expected = &state.config.credentials;
        if user != expected.user || password != expected.password {
            request.rejected = true;
            let bytes = fail(
                &mut request,
                401,
                "UNAUTHORIZED",
                "incorrect username or password",
            );
            return (request, bytes);
        }
        request.user = Some(user);
        request.granted = merge(request.scopes.iter().filter_map(|s| Access::parse(s)));
    }

    let now = unix_now();
    let audience = request
        .service
        .clone()
        .unwrap_or_else(|| state.config.service.clone());
    let token = sign(state, &request, &audience, now);
    let body = json!({
        "token": token,
        "access_token": token,
        "expires_in": state.config.expires_in,
        "issued_at": rfc3339(now),
    })
    .to_string();
    let bytes = http::response(200, &json_headers(None), body.as_bytes());
    (request, bytes)
}

/// The user and password of an `Authorization: Basic …` value.
fn basic_credentials(value: &str) -> Option<(String, String)> {
    let (scheme, encoded) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = STANDARD.decode(encoded.trim()).ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (user, password) = text.split_once(':')?;
    Some((user.into(), password.into()))
}

/// Accesses on the same resource joined, actions in first-seen order.
fn merge(accesses: impl Iterator<Item = Access>) -> Vec<Access> {
    let mut merged: Vec<Access> = Vec::new();
    for access in accesses {
        match merged
            .iter_mut()
            .find(|m| m.kind == access.kind && m.name == access.name)
        {
            Some(m) => {
                for action in access.actions {
                    if !m.actions.contains(&action) {
                        m.actions.push(action);
                    }
                }
            }
            None => merged.push(access),
        }
    }
    merged
}

/// A compact JWS (ES256) carrying distribution's claim set.
fn sign(state: &State, request: &TokenRequest, audience: &str, now: u64) -> String {
    let header = json!({ "typ": "JWT", "alg": "ES256", "x5c": state.x5c });
    let mut jti = [0u8; 16];
    let _ = state.rng.fill(&mut jti);
    let claims = json!({
        "iss": state.config.issuer,
        "sub": request.user.clone().unwrap_or_default(),
        "aud": audience,
        "exp": now + state.config.expires_in,
        "nbf": now,
        "iat": now,
        "jti": jti.iter().fold(String::new(), |mut s, b| { let _ = write!(s, "{b:02x}"); s }),
        "access": request.granted.iter().map(|a| json!({
            "type": a.kind, "name": a.name, "actions": a.actions,
        })).collect::<Vec<_>>(),
    });
    let signing_input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    // Signing with a valid key and the system's randomness does not fail.
    let signature = state
        .key
        .sign(&state.rng, signing_input.as_bytes())
        .map(|s| URL_SAFE_NO_PAD.encode(s.as_ref()))
        .unwrap_or_default();
    format!("{signing_input}.{signature}")
}

/// `application/x-www-form-urlencoded` pairs (also query strings).
fn form(text: &str) -> Vec<(String, String)> {
    text.split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            (decode(name), decode(value))
        })
        .collect()
}

fn decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = |b: u8| (b as char).to_digit(16);
                match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                    (Some(high), Some(low)) => {
                        out.push((high * 16 + low) as u8);
                        i += 2;
                    }
                    _ => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}

/// `YYYY-MM-DDTHH:MM:SSZ` for seconds since the epoch (proleptic Gregorian).
fn rfc3339(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_keep_colons_in_names() {
        let access = Access::parse("repository:localhost:5000/x:pull,push").unwrap();
        assert_eq!(access.name, "localhost:5000/x");
        assert_eq!(access.actions, ["pull", "push"]);
        assert_eq!(Access::parse("repository:nothing"), None);
    }

    #[test]
    fn form_values_are_percent_decoded() {
        assert_eq!(
            form("scope=repository%3Ademo%3Apull+push&x"),
            [
                ("scope".to_string(), "repository:demo:pull push".to_string()),
                ("x".to_string(), String::new())
            ]
        );
        assert_eq!(decode("100%"), "100%");
    }

    #[test]
    fn formats_times_as_rfc3339() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_700_000_000), "2023-11-14T22:13:20Z");
    }
}
