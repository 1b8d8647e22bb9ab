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
            Found::Basic { username, .. } => write!(
                f,
                "Basic({username}, <password>)",
                username = crate::Quoted(username)
            ),
            Found::Helper(name) => write!(f, "Helper({name})", name = crate::Quoted(name)),
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

/// The key `ferry login REGISTRY` stores credentials under, as podman
/// and skopeo normalise it: without a scheme or trailing slash, and
/// Docker Hub's index host as `docker.io`.
pub fn login_key(registry: &str) -> Result<String, CredentialsError> {
    let trimmed = registry
        .strip_prefix("https://")
        .or_else(|| registry.strip_prefix("http://"))
        .unwrap_or(registry)
        .trim_end_matches('/');
    let key = match trimmed {
        "index.docker.io" | "registry-1.docker.io" => crate::reference::DEFAULT_DOMAIN,
        other => other,
    };
    if key.is_empty() || key.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(CredentialsError {
            reason: alloc::format!(
                "{registry} is not a registry",
                registry = crate::Quoted(registry)
            ),
        });
    }
    Ok(key.to_string())
}

/// Parses an existing credentials file for editing (`None` or empty: a
/// new one).
fn editable(
    file: Option<&[u8]>,
) -> Result<serde_json::Map<String, serde_json::Value>, CredentialsError> {
    let bytes = file.unwrap_or_default();
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(serde_json::Map::new());
    }
    match serde_json::from_slice::<serde_json::Value>(bytes) {
        Ok(serde_json::Value::Object(map)) => Ok(map),
        Ok(_) => Err(CredentialsError {
            reason: "not a JSON object".into(),
        }),
        Err(e) => Err(CredentialsError {
            reason: alloc::format!("not JSON: {e}"),
        }),
    }
}

fn written(map: serde_json::Map<String, serde_json::Value>) -> Vec<u8> {
    // Indented, as containers/image writes it (with tabs; the JSON is the same).
    let mut out = serde_json::to_vec_pretty(&serde_json::Value::Object(map)).unwrap_or_default();
    out.push(b'\n');
    out
}

/// The file with `username:password` stored for `key` under `auths`,
/// keeping every other entry and key. Refused when a credential helper
/// is configured for the key: the entry written would never be read.
pub fn store(
    file: Option<&[u8]>,
    key: &str,
    username: &str,
    password: &str,
) -> Result<Vec<u8>, CredentialsError> {
    let mut map = editable(file)?;
    if let Some(serde_json::Value::Object(helpers)) = map.get("credHelpers")
        && let Some(serde_json::Value::String(helper)) = helpers.get(key)
    {
        return Err(CredentialsError {
            reason: alloc::format!(
                "credentials for {key} are kept by docker-credential-{helper} (credHelpers); ferry writes only auth.json entries"
            ),
        });
    }
    let auths = map
        .entry("auths")
        .or_insert_with(|| serde_json::Value::Object(serde_json::Map::new()));
    let serde_json::Value::Object(auths) = auths else {
        return Err(CredentialsError {
            reason: "\"auths\" is not an object".into(),
        });
    };
    let encoded = base64::encode_padded(
        alloc::format!("{username}:{password}").as_bytes(),
        Alphabet::Standard,
    );
    let mut entry = serde_json::Map::new();
    entry.insert("auth".into(), serde_json::Value::String(encoded));
    auths.insert(key.to_string(), serde_json::Value::Object(entry));
    Ok(written(map))
}

/// The file without the `auths` entry for `key`; `None` when there was
/// none (not logged in).
pub fn remove(file: &[u8], key: &str) -> Result<Option<Vec<u8>>, CredentialsError> {
    let mut map = editable(Some(file))?;
    let removed = match map.get_mut("auths") {
        Some(serde_json::Value::Object(auths)) => auths.remove(key).is_some(),
        _ => false,
    };
    Ok(removed.then(|| written(map)))
}

/// The file without any `auths` entry (`logout --all`); other keys stay.
pub fn remove_all(file: &[u8]) -> Result<Vec<u8>, CredentialsError> {
    let mut map = editable(Some(file))?;
    map.insert(
        "auths".into(),
        serde_json::Value::Object(serde_json::Map::new()),
    );
    Ok(written(map))
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

    #[test]
    fn a_stored_login_is_found_by_lookup_and_keeps_other_entries() {
        let before = br#"{"auths":{"other.example":{"auth":"YWxpY2U6c2VjcmV0"}},"credsStore":""}"#;
        let after = store(Some(before), "r.example:5000", "bob", "pa:ss").unwrap();
        assert_eq!(
            lookup(&after, "r.example:5000").unwrap(),
            Some(Found::Basic {
                username: "bob".into(),
                password: "pa:ss".into()
            })
        );
        assert!(lookup(&after, "other.example").unwrap().is_some());
        assert!(store(None, "r", "u", "p").is_ok());
    }

    #[test]
    fn a_login_for_a_registry_with_a_helper_is_refused() {
        let file = br#"{"credHelpers":{"r.example":"ecr-login"}}"#;
        let err = store(Some(file), "r.example", "u", "p").unwrap_err();
        assert!(err.reason.contains("docker-credential-ecr-login"), "{err}");
    }

    #[test]
    fn logout_removes_one_entry_or_says_there_was_none() {
        let file = store(None, "a.example", "u", "p").unwrap();
        let file = store(Some(&file), "b.example", "u", "p").unwrap();
        let after = remove(&file, "a.example").unwrap().unwrap();
        assert_eq!(lookup(&after, "a.example").unwrap(), None);
        assert!(lookup(&after, "b.example").unwrap().is_some());
        assert_eq!(remove(&after, "a.example").unwrap(), None);
        let none = remove_all(&file).unwrap();
        assert_eq!(lookup(&none, "b.example").unwrap(), None);
    }

    #[test]
    fn login_keys_are_normalised_as_podman_does() {
        assert_eq!(
            login_key("https://r.example:5000/").unwrap(),
            "r.example:5000"
        );
        assert_eq!(login_key("index.docker.io").unwrap(), "docker.io");
        assert!(login_key("").is_err());
    }
}
