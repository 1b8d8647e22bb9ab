//! Finding credentials for a registry in containers' `auth.json` or
//! Docker's `config.json`: the file contents come in, the answer goes out.

use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt;

use crate::base64::{self, Alphabet};
use crate::json::{self, Object, Value};

/// Where credentials for a registry come from.
#[derive(Clone, PartialEq, Eq)]
pub enum Found {
    /// A user name and password (or identity token as the password).
    Basic { username: String, password: String },
    /// Ask `docker-credential-NAME get`.
    Helper(String),
}

impl fmt::Debug for Found {
    // Never print a password.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Found::Basic { username, .. } => write!(f, "Basic({username:?}, <password>)"),
            Found::Helper(name) => write!(f, "Helper({name:?})"),
        }
    }
}

/// Why a credentials file cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CredentialsError {
    pub reason: String,
}

impl fmt::Display for CredentialsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.reason)
    }
}

impl core::error::Error for CredentialsError {}

/// The keys an entry for `registry` may be stored under: the host itself,
/// with a scheme, and Docker Hub's historical index URL.
fn candidate_keys(registry: &str) -> Vec<String> {
    let mut keys = alloc::vec![
        registry.to_string(),
        alloc::format!("https://{registry}"),
        alloc::format!("http://{registry}"),
        alloc::format!("https://{registry}/v1/"),
        alloc::format!("https://{registry}/v2/"),
    ];
    if registry == crate::reference::DEFAULT_DOMAIN {
        keys.push("https://index.docker.io/v1/".into());
        keys.push("index.docker.io".into());
        keys.push("registry-1.docker.io".into());
    }
    keys
}

/// Looks up `registry` (`host[:port]`, as references name it) in one
/// credentials file: a per-registry helper (`credHelpers`) wins, then an
/// `auths` entry, then the default helper (`credsStore`).
pub fn lookup(file: &[u8], registry: &str) -> Result<Option<Found>, CredentialsError> {
    let root = json::parse(file).map_err(|e| CredentialsError {
        reason: alloc::format!("not JSON: {e}"),
    })?;
    let Value::Object(top) = root else {
        return Err(CredentialsError {
            reason: "not a JSON object".into(),
        });
    };
    let keys = candidate_keys(registry);
    let find = |o: &Object| -> Option<Value> { keys.iter().find_map(|k| o.get_exact(k).cloned()) };
    if let Some(Value::Object(helpers)) = top.get_exact("credHelpers")
        && let Some(Value::String(name)) = find(helpers)
    {
        return Ok(Some(Found::Helper(name)));
    }
    if let Some(Value::Object(auths)) = top.get_exact("auths")
        && let Some(Value::Object(entry)) = find(auths)
    {
        if let Some(Value::String(encoded)) = entry.get_exact("auth")
            && !encoded.is_empty()
        {
            let decoded = base64::decode_padded(encoded, Alphabet::Standard).map_err(|_| {
                CredentialsError {
                    reason: alloc::format!("the \"auth\" entry for {registry} is not base64"),
                }
            })?;
            let text = core::str::from_utf8(&decoded).map_err(|_| CredentialsError {
                reason: alloc::format!("the \"auth\" entry for {registry} is not UTF-8"),
            })?;
            let (username, password) = text.split_once(':').ok_or_else(|| CredentialsError {
                reason: alloc::format!("the \"auth\" entry for {registry} is not user:password"),
            })?;
            return Ok(Some(Found::Basic {
                username: username.to_string(),
                password: password.to_string(),
            }));
        }
        if let Some(Value::String(token)) = entry.get_exact("identitytoken")
            && !token.is_empty()
        {
            // An identity token is sent as the password of "<token>".
            return Ok(Some(Found::Basic {
                username: "<token>".into(),
                password: token.clone(),
            }));
        }
    }
    if let Some(Value::String(store)) = top.get_exact("credsStore")
        && !store.is_empty()
    {
        return Ok(Some(Found::Helper(store.clone())));
    }
    Ok(None)
}

/// Reads a credential helper's answer to `get`: `{"Username", "Secret"}`.
pub fn parse_helper_output(output: &[u8]) -> Result<Found, CredentialsError> {
    let value = json::parse(output).map_err(|e| CredentialsError {
        reason: alloc::format!("credential helper output is not JSON: {e}"),
    })?;
    let object = value.as_object().ok_or_else(|| CredentialsError {
        reason: "credential helper output is not an object".into(),
    })?;
    let get = |k: &str| {
        object
            .get_exact(k)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    let (username, password) = (get("Username"), get("Secret"));
    if password.is_empty() {
        return Err(CredentialsError {
            reason: "credential helper returned no secret".into(),
        });
    }
    Ok(Found::Basic { username, password })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_an_auths_entry_by_host() {
        // "alice:secret"
        let file = br#"{"auths":{"registry.example:5000":{"auth":"YWxpY2U6c2VjcmV0"}}}"#;
        assert_eq!(
            lookup(file, "registry.example:5000").unwrap(),
            Some(Found::Basic {
                username: "alice".into(),
                password: "secret".into()
            })
        );
        assert_eq!(lookup(file, "other.example").unwrap(), None);
    }

    #[test]
    fn docker_hub_is_found_under_its_index_url() {
        let file = br#"{"auths":{"https://index.docker.io/v1/":{"auth":"YWxpY2U6c2VjcmV0"}}}"#;
        assert!(matches!(
            lookup(file, "docker.io").unwrap(),
            Some(Found::Basic { .. })
        ));
    }

    #[test]
    fn a_registry_specific_helper_wins_over_auths_and_the_default_store() {
        let file = br#"{"auths":{"r.example":{"auth":"YWxpY2U6c2VjcmV0"}},"credHelpers":{"r.example":"ecr-login"},"credsStore":"desktop"}"#;
        assert_eq!(
            lookup(file, "r.example").unwrap(),
            Some(Found::Helper("ecr-login".into()))
        );
        assert_eq!(
            lookup(file, "other.example").unwrap(),
            Some(Found::Helper("desktop".into()))
        );
    }

    #[test]
    fn malformed_entries_are_errors_that_do_not_quote_secrets() {
        let err = lookup(br#"{"auths":{"r":{"auth":"bm9jb2xvbg=="}}}"#, "r").unwrap_err();
        assert!(err.reason.contains("user:password"), "{err}");
        assert!(!err.reason.contains("nocolon"));
    }

    #[test]
    fn helper_output_gives_basic_credentials() {
        let found =
            parse_helper_output(br#"{"ServerURL":"r","Username":"u","Secret":"s"}"#).unwrap();
        assert_eq!(
            found,
            Found::Basic {
                username: "u".into(),
                password: "s".into()
            }
        );
        assert!(parse_helper_output(br#"{"Username":"u"}"#).is_err());
    }

    #[test]
    fn debug_output_hides_the_password() {
        let found = Found::Basic {
            username: "u".into(),
            password: "hunter2".into(),
        };
        assert!(!alloc::format!("{found:?}").contains("hunter2"));
    }
}
