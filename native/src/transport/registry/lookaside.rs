//! Lookaside signature storage for registries: reading the `registries.d`
//! YAML files, and fetching and storing `signature-N` files.
//!
//! Which entry applies and where a signature lives are ferry-core's
//! decisions ([`ferry_core::registry::lookaside`]); this module only reads
//! the files and moves the bytes. As in containers/image:
//! - one directory is read: `--registries.d DIR`, else
//!   `$HOME/.config/containers/registries.d` if it exists, else
//!   `/etc/containers/registries.d`; a missing directory configures
//!   nothing; every `*.yaml` file in it is merged, in name order;
//! - signatures are read over `file://`, `http://` and `https://`, 1, 2, …
//!   until one is missing (a missing file or a 404), at most
//!   [`MAX_SIGNATURES`];
//! - signatures are written only to `file://` locations (a staging
//!   directory that is published some other way), each file atomically,
//!   and stale higher-numbered files from an earlier write are removed.

use std::fmt;
use std::path::{Path, PathBuf};

use ferry_core::Digest;
use ferry_core::registry::lookaside::{
    self, Config, Location, LookasideError as DecisionError, MAX_SIGNATURE_SIZE, MAX_SIGNATURES,
    Namespace, Purpose,
};
use yaml_rust2::{Yaml, YamlLoader};

use crate::fs::atomic;
use crate::transport::TransportError;

/// The system-wide configuration directory.
pub const SYSTEM_DIR: &str = "/etc/containers/registries.d";

/// Why the `registries.d` configuration cannot be used.
#[derive(Debug)]
#[non_exhaustive]
pub enum ConfigError {
    /// The directory or a file in it cannot be read.
    Io {
        path: PathBuf,
        error: std::io::Error,
    },
    /// A file is not YAML.
    Yaml { path: PathBuf, detail: String },
    /// A file is YAML but not a registries.d configuration.
    Invalid { path: PathBuf, reason: String },
    /// The files contradict each other.
    Merge(DecisionError),
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::Io { path, error } => {
                write!(f, "{}: cannot read: {error}", path.display())
            }
            ConfigError::Yaml { path, detail } => {
                write!(f, "{}: not valid YAML: {detail}", path.display())
            }
            ConfigError::Invalid { path, reason } => write!(f, "{}: {reason}", path.display()),
            ConfigError::Merge(e) => write!(f, "registries.d: {e}"),
        }
    }
}

impl std::error::Error for ConfigError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ConfigError::Io { error, .. } => Some(error),
            ConfigError::Merge(e) => Some(e),
            _ => None,
        }
    }
}

/// The directory containers/image would read: the user's if it exists,
/// else the system's.
pub fn default_dir() -> PathBuf {
    if let Some(home) = std::env::var_os("HOME") {
        let user = Path::new(&home).join(".config/containers/registries.d");
        if user.is_dir() {
            return user;
        }
    }
    PathBuf::from(SYSTEM_DIR)
}

/// Reads and merges every `*.yaml` file in `dir` (none if it is missing).
pub fn load(dir: &Path) -> Result<Config, ConfigError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Config::default()),
        Err(error) => {
            return Err(ConfigError::Io {
                path: dir.to_path_buf(),
                error,
            });
        }
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml") && !p.is_dir())
        .collect();
    files.sort();
    let mut parsed = Vec::new();
    for path in files {
        let text = std::fs::read_to_string(&path).map_err(|error| ConfigError::Io {
            path: path.clone(),
            error,
        })?;
        let config = parse(&text).map_err(|e| match e {
            ParseError::Yaml(detail) => ConfigError::Yaml {
                path: path.clone(),
                detail,
            },
            ParseError::Invalid(reason) => ConfigError::Invalid {
                path: path.clone(),
                reason,
            },
        })?;
        parsed.push((path.display().to_string(), config));
    }
    Config::merge(parsed).map_err(ConfigError::Merge)
}

enum ParseError {
    Yaml(String),
    Invalid(String),
}

/// One file's `default-docker` and `docker` entries. Unknown keys are
/// ignored, as Go's YAML decoder does; values of the wrong type are not.
fn parse(text: &str) -> Result<Config, ParseError> {
    let docs = YamlLoader::load_from_str(text).map_err(|e| ParseError::Yaml(e.to_string()))?;
    let mut config = Config::default();
    let Some(doc) = docs.into_iter().next() else {
        return Ok(config);
    };
    let top = match doc {
        Yaml::Hash(h) => h,
        Yaml::Null => return Ok(config),
        _ => return Err(ParseError::Invalid("expected a mapping at the top".into())),
    };
    for (key, value) in top {
        match key.as_str() {
            Some("default-docker") if !value.is_null() => {
                config.default_docker = Some(namespace("default-docker", &value)?);
            }
            Some("docker") => match value {
                Yaml::Null => {}
                Yaml::Hash(entries) => {
                    for (name, entry) in entries {
                        let Some(name) = name.as_str() else {
                            return Err(ParseError::Invalid(
                                "docker: namespace names must be strings".into(),
                            ));
                        };
                        let parsed = namespace(&format!("docker.{name}"), &entry)?;
                        config.docker.push((name.to_string(), parsed));
                    }
                }
                _ => return Err(ParseError::Invalid("docker: expected a mapping".into())),
            },
            _ => {}
        }
    }
    Ok(config)
}

fn namespace(what: &str, value: &Yaml) -> Result<Namespace, ParseError> {
    let mut ns = Namespace::default();
    let entries = match value {
        Yaml::Hash(h) => h,
        Yaml::Null => return Ok(ns),
        _ => return Err(ParseError::Invalid(format!("{what}: expected a mapping"))),
    };
    for (key, value) in entries {
        if key.as_str() == Some("use-sigstore-attachments") {
            ns.use_sigstore_attachments = match value {
                Yaml::Boolean(b) => Some(*b),
                Yaml::Null => None,
                _ => {
                    return Err(ParseError::Invalid(format!(
                        "{what}.use-sigstore-attachments: expected true or false"
                    )));
                }
            };
            continue;
        }
        let field = match key.as_str() {
            Some("lookaside") => &mut ns.lookaside,
            Some("lookaside-staging") => &mut ns.lookaside_staging,
            Some("sigstore") => &mut ns.sigstore,
            Some("sigstore-staging") => &mut ns.sigstore_staging,
            _ => continue,
        };
        *field = match value {
            Yaml::String(s) => s.clone(),
            Yaml::Null => String::new(),
            _ => {
                return Err(ParseError::Invalid(format!(
                    "{what}.{}: expected a URL string",
                    key.as_str().unwrap_or_default()
                )));
            }
        };
    }
    Ok(ns)
}

fn decision(location: &str) -> impl FnOnce(DecisionError) -> TransportError + '_ {
    move |e| TransportError::Malformed {
        location: location.to_string(),
        reason: e.to_string(),
    }
}

/// Reads the signatures of `digest` under `base` ([`Config::base`]):
/// signature-1, -2, … until one is missing. `http` fetches http(s) ones,
/// without the registry's credentials.
pub async fn read(
    http: &reqwest::Client,
    base: &str,
    digest: &Digest,
) -> Result<Vec<Vec<u8>>, TransportError> {
    let mut signatures = Vec::new();
    for n in 1..=MAX_SIGNATURES + 1 {
        let url = lookaside::signature_url(base, digest, n);
        let found = match lookaside::location(&url, Purpose::Read).map_err(decision(&url))? {
            Location::File(path) => read_file(Path::new(&path)).await?,
            Location::Http(url) => read_http(http, &url).await?,
        };
        let Some(signature) = found else {
            return Ok(signatures);
        };
        if n > MAX_SIGNATURES {
            return Err(TransportError::Malformed {
                location: base.to_string(),
                reason: format!(
                    "the lookaside holds more than {MAX_SIGNATURES} signatures for {digest}"
                ),
            });
        }
        signatures.push(signature);
    }
    Ok(signatures)
}

fn too_big(location: &str) -> TransportError {
    TransportError::Malformed {
        location: location.to_string(),
        reason: format!("signature is larger than {MAX_SIGNATURE_SIZE} bytes"),
    }
}

async fn read_file(path: &Path) -> Result<Option<Vec<u8>>, TransportError> {
    use tokio::io::AsyncReadExt as _;
    let file = match tokio::fs::File::open(path).await {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(error) => {
            return Err(TransportError::Io {
                path: path.to_path_buf(),
                action: "read signature",
                error,
            });
        }
    };
    let mut bytes = Vec::new();
    file.take(MAX_SIGNATURE_SIZE as u64 + 1)
        .read_to_end(&mut bytes)
        .await
        .map_err(crate::transport::io_error(path, "read signature"))?;
    if bytes.len() > MAX_SIGNATURE_SIZE {
        return Err(too_big(&path.display().to_string()));
    }
    Ok(Some(bytes))
}

async fn read_http(http: &reqwest::Client, url: &str) -> Result<Option<Vec<u8>>, TransportError> {
    let network = |reason: String| TransportError::Network {
        location: url.to_string(),
        reason,
    };
    let mut response = http
        .get(url)
        .send()
        .await
        .map_err(|e| network(format!("cannot fetch signature: {e}")))?;
    match response.status().as_u16() {
        200 => {}
        404 => return Ok(None),
        status => {
            return Err(TransportError::Status {
                location: url.to_string(),
                reason: format!("the lookaside server answered {status} for a signature"),
                status,
                codes: Vec::new(),
            });
        }
    }
    let mut bytes = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| network(format!("reading signature: {e}")))?
    {
        bytes.extend_from_slice(&chunk);
        if bytes.len() > MAX_SIGNATURE_SIZE {
            return Err(too_big(url));
        }
    }
    Ok(Some(bytes))
}

/// Stores `signatures` of `digest` under the staging `base` (a `file://`
/// URL): each file is written whole or not at all, and signature files
/// beyond the new count, left by an earlier write, are removed.
pub async fn write(
    base: &str,
    digest: &Digest,
    signatures: &[Vec<u8>],
) -> Result<(), TransportError> {
    let first = lookaside::signature_url(base, digest, 1);
    let Location::File(first) =
        lookaside::location(&first, Purpose::Write).map_err(decision(base))?
    else {
        return Err(TransportError::Unsupported {
            location: base.to_string(),
            reason: "writing signatures is only supported to file:// lookaside locations".into(),
        });
    };
    let dir = Path::new(&first)
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    tokio::fs::create_dir_all(&dir)
        .await
        .map_err(crate::transport::io_error(
            &dir,
            "create the signature directory",
        ))?;
    for (i, signature) in signatures.iter().enumerate() {
        let path = dir.join(format!("signature-{}", i + 1));
        atomic::write_atomic(&path, signature, atomic::Durability::Synced).await?;
    }
    for n in signatures.len() + 1.. {
        let stale = dir.join(format!("signature-{n}"));
        match tokio::fs::remove_file(&stale).await {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => break,
            Err(error) => {
                return Err(TransportError::Io {
                    path: stale,
                    action: "remove a stale signature",
                    error,
                });
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(text: &str) -> Config {
        match parse(text) {
            Ok(c) => c,
            Err(ParseError::Yaml(d) | ParseError::Invalid(d)) => panic!("{d}"),
        }
    }

    #[test]
    fn reads_default_docker_and_namespaces_with_old_and_new_names() {
        let config = parsed(
            "# comment\n\
             default-docker:\n  lookaside: https://sigs.example/\n\
             docker:\n  reg.example/team:\n    sigstore: file:///old\n    sigstore-staging: file:///old-staging\n\
             \x20 reg.example:\n    lookaside-staging: \"file:///staging\"\n    use-sigstore-attachments: true\n",
        );
        assert_eq!(
            config.default_docker.unwrap().lookaside,
            "https://sigs.example/"
        );
        assert_eq!(config.docker.len(), 2);
        assert_eq!(config.docker[0].0, "reg.example/team");
        assert_eq!(config.docker[0].1.sigstore, "file:///old");
        assert_eq!(config.docker[0].1.sigstore_staging, "file:///old-staging");
        assert_eq!(config.docker[1].1.lookaside_staging, "file:///staging");
        assert_eq!(config.docker[1].1.use_sigstore_attachments, Some(true));
        assert_eq!(config.docker[0].1.use_sigstore_attachments, None);
    }

    #[test]
    fn an_empty_file_configures_nothing() {
        assert_eq!(parsed(""), Config::default());
        assert_eq!(parsed("docker:\n"), Config::default());
    }

    #[test]
    fn wrong_shapes_are_refused_with_the_key() {
        for (text, needle) in [
            ("- a list\n", "mapping at the top"),
            ("docker: [1]\n", "docker: expected a mapping"),
            ("docker:\n  h:\n    lookaside: [x]\n", "docker.h.lookaside"),
            ("default-docker: 3\n", "default-docker: expected a mapping"),
            (
                "docker:\n  h:\n    use-sigstore-attachments: \"yes\"\n",
                "docker.h.use-sigstore-attachments",
            ),
        ] {
            match parse(text) {
                Err(ParseError::Invalid(reason)) => assert!(reason.contains(needle), "{reason}"),
                _ => panic!("{text:?} was accepted"),
            }
        }
        assert!(matches!(parse("a: [\n"), Err(ParseError::Yaml(_))));
    }
}
