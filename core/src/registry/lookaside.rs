//! Lookaside signature storage, as containers/image configures it in
//! `registries.d` (containers-registries.d(5)): which configured namespace
//! applies to an image, where its signatures live, and how they are named.
//!
//! The YAML files are read by the native crate into the plain structs
//! here; every decision after that is made by these functions, so the
//! same answers hold wherever ferry-core runs.
//!
//! Signature `n` (from 1) of the manifest with digest `algo:hex` in
//! repository `repo` lives at `{top}/{repo}@{algo}={hex}/signature-{n}`;
//! readers fetch 1, 2, … until one is missing.

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt;

use crate::digest::Digest;
use crate::reference::Named;

/// At most this many signatures are read for one manifest, as
/// containers/image does, so a lookaside server cannot keep a copy going
/// for ever.
pub const MAX_SIGNATURES: usize = 128;

/// The largest signature accepted (containers/image's limit too).
pub const MAX_SIGNATURE_SIZE: usize = 4 * 1024 * 1024;

/// One `docker:` namespace entry, or `default-docker`, as configured.
/// Empty strings mean "not set", as in Go.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Namespace {
    /// `lookaside`: where signatures are read (and written, if no staging).
    pub lookaside: String,
    /// `lookaside-staging`: where signatures are written.
    pub lookaside_staging: String,
    /// `sigstore`: the old name of `lookaside`.
    pub sigstore: String,
    /// `sigstore-staging`: the old name of `lookaside-staging`.
    pub sigstore_staging: String,
    /// `use-sigstore-attachments`: whether sigstore signatures are read
    /// from and written to the registry's `sha256-….sig` attachments
    /// ([`super::attachments`]); `None` when the entry does not say.
    pub use_sigstore_attachments: Option<bool>,
}

impl Namespace {
    /// The top-level URL for reading or writing, with the new names
    /// preferred to the old ones; `None` if this entry sets none.
    fn top_level(&self, purpose: Purpose) -> Option<&str> {
        let candidates: [&str; 4] = match purpose {
            Purpose::Write => [
                &self.lookaside_staging,
                &self.sigstore_staging,
                &self.lookaside,
                &self.sigstore,
            ],
            Purpose::Read => [&self.lookaside, &self.sigstore, "", ""],
        };
        candidates.into_iter().find(|s| !s.is_empty())
    }
}

/// Every `registries.d` file merged: the `default-docker` entry and the
/// `docker:` entries by namespace.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Config {
    pub default_docker: Option<Namespace>,
    /// `(namespace, entry)`: `host`, `host/repo/path`, `host/repo:tag`,
    /// `host/repo@digest` or `*.domain`.
    pub docker: Vec<(String, Namespace)>,
}

/// Whether signatures are being read or written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    Read,
    Write,
}

/// Why a configuration or a lookaside URL is unusable.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum LookasideError {
    /// Two files both set `default-docker`.
    DuplicateDefault { first: String, second: String },
    /// Two files (or one twice) configure the same namespace.
    DuplicateNamespace {
        namespace: String,
        first: String,
        second: String,
    },
    /// A top-level URL has a scheme ferry cannot use for this purpose.
    UnsupportedScheme { url: String, purpose: Purpose },
    /// A URL that is not `scheme://…`.
    NotAUrl { url: String },
}

impl fmt::Display for LookasideError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LookasideError::DuplicateDefault { first, second } => write!(
                f,
                "default-docker is configured in both {first} and {second}"
            ),
            LookasideError::DuplicateNamespace {
                namespace,
                first,
                second,
            } => write!(
                f,
                "docker namespace {namespace} is configured in both {first} and {second}",
                namespace = crate::Quoted(namespace)
            ),
            LookasideError::UnsupportedScheme { url, purpose } => match purpose {
                Purpose::Read => write!(
                    f,
                    "lookaside {url}: reading signatures needs a file, http or https URL",
                    url = crate::Quoted(url)
                ),
                Purpose::Write => write!(
                    f,
                    "lookaside {url}: writing signatures is only supported to file:// URLs",
                    url = crate::Quoted(url)
                ),
            },
            LookasideError::NotAUrl { url } => {
                write!(
                    f,
                    "lookaside {url} is not a URL (expected scheme://…)",
                    url = crate::Quoted(url)
                )
            }
        }
    }
}

impl core::error::Error for LookasideError {}

impl Config {
    /// Merges files in the order given (`(file name, its config)`):
    /// a namespace or `default-docker` set in two files is an error, as in
    /// containers/image, rather than one silently winning.
    pub fn merge(files: Vec<(String, Config)>) -> Result<Config, LookasideError> {
        let mut merged = Config::default();
        let mut default_from: Option<String> = None;
        let mut origin: Vec<String> = Vec::new();
        for (file, config) in files {
            if let Some(default) = config.default_docker {
                if let Some(first) = &default_from {
                    return Err(LookasideError::DuplicateDefault {
                        first: first.clone(),
                        second: file,
                    });
                }
                default_from = Some(file.clone());
                merged.default_docker = Some(default);
            }
            for (namespace, entry) in config.docker {
                if let Some(i) = merged.docker.iter().position(|(n, _)| *n == namespace) {
                    return Err(LookasideError::DuplicateNamespace {
                        namespace,
                        first: origin[i].clone(),
                        second: file,
                    });
                }
                merged.docker.push((namespace, entry));
                origin.push(file.clone());
            }
        }
        Ok(merged)
    }

    fn entry(&self, namespace: &str) -> Option<&Namespace> {
        self.docker
            .iter()
            .find(|(n, _)| n == namespace)
            .map(|(_, e)| e)
    }

    /// The top-level URL for `reference`: the most specific `docker:`
    /// entry that sets one for this purpose, else `default-docker`'s.
    /// Trailing slashes are dropped.
    pub fn top_level(&self, reference: &Named, purpose: Purpose) -> Option<&str> {
        scopes(reference)
            .iter()
            .find_map(|scope| self.entry(scope).and_then(|e| e.top_level(purpose)))
            .or_else(|| {
                self.default_docker
                    .as_ref()
                    .and_then(|e| e.top_level(purpose))
            })
            .map(|url| url.trim_end_matches('/'))
    }

    /// Whether `reference`'s sigstore signatures live in registry
    /// attachments: the most specific `docker:` entry that says, else
    /// `default-docker`, else no (containers/image's `useSigstoreAttachments`).
    pub fn use_sigstore_attachments(&self, reference: &Named) -> bool {
        scopes(reference)
            .iter()
            .find_map(|scope| self.entry(scope).and_then(|e| e.use_sigstore_attachments))
            .or_else(|| {
                self.default_docker
                    .as_ref()
                    .and_then(|e| e.use_sigstore_attachments)
            })
            .unwrap_or(false)
    }

    /// Where `reference`'s signatures live: the top level followed by the
    /// repository path, or `None` when nothing is configured for it.
    pub fn base(&self, reference: &Named, purpose: Purpose) -> Option<String> {
        self.top_level(reference, purpose)
            .map(|top| format!("{top}/{}", reference.path()))
    }
}

/// The namespaces that may configure `reference`, most specific first, as
/// containers/image's PolicyConfigurationIdentity and
/// PolicyConfigurationNamespaces: `host/repo:tag` (or `@digest`),
/// `host/repo`, each parent path, `host`, then `*.domain` wildcards
/// (`*.b.c` then `*.c` for host `a.b.c`; ports never take part).
pub fn scopes(reference: &Named) -> Vec<String> {
    let name = reference.name();
    let mut out = Vec::new();
    match (reference.tag(), reference.digest()) {
        (_, Some(d)) => out.push(format!("{name}@{d}")),
        (Some(t), None) => out.push(format!("{name}:{t}")),
        (None, None) => {}
    }
    let mut current = name;
    out.push(current.to_string());
    while let Some(i) = current.rfind('/') {
        current = &current[..i];
        out.push(current.to_string());
    }
    let mut host = reference.domain();
    if let Some(i) = host.rfind(':')
        && !host.ends_with(']')
    {
        host = &host[..i];
    }
    let mut rest = host;
    while let Some(i) = rest.find('.') {
        rest = &rest[i + 1..];
        out.push(format!("*.{rest}"));
    }
    out
}

/// The URL of signature `n` (counting from 1) of the manifest `digest`
/// under `base` (from [`Config::base`]).
pub fn signature_url(base: &str, digest: &Digest, n: usize) -> String {
    format!(
        "{base}@{}={}/signature-{n}",
        digest.algorithm(),
        digest.encoded()
    )
}

/// A lookaside URL, by how it is reached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// `file://PATH`: the path.
    File(String),
    /// `http://…` or `https://…`: the URL as it is.
    Http(String),
}

/// Says how to reach `url` for `purpose`: files and http(s) for reading,
/// only files for writing (as containers/image, which cannot upload).
pub fn location(url: &str, purpose: Purpose) -> Result<Location, LookasideError> {
    let Some((scheme, rest)) = url.split_once("://") else {
        return Err(LookasideError::NotAUrl {
            url: url.to_string(),
        });
    };
    match (scheme.to_ascii_lowercase().as_str(), purpose) {
        ("file", _) if rest.starts_with('/') => Ok(Location::File(rest.to_string())),
        ("file", _) => Err(LookasideError::NotAUrl {
            url: url.to_string(),
        }),
        ("http" | "https", Purpose::Read) => Ok(Location::Http(url.to_string())),
        _ => Err(LookasideError::UnsupportedScheme {
            url: url.to_string(),
            purpose,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    fn reference(s: &str) -> Named {
        crate::reference::transport::docker(s).unwrap()
    }

    /// The top-level URLs `config` gives `image`: (for reading, for
    /// writing).
    fn read_and_write<'a>(config: &'a Config, image: &str) -> (Option<&'a str>, Option<&'a str>) {
        let r = reference(image);
        (
            config.top_level(&r, Purpose::Read),
            config.top_level(&r, Purpose::Write),
        )
    }

    fn read_only(url: &str) -> Namespace {
        Namespace {
            lookaside: url.into(),
            ..Namespace::default()
        }
    }

    #[test]
    fn scopes_run_from_the_tagged_name_to_wildcard_domains() {
        assert_eq!(
            scopes(&reference("reg.example.com:5000/team/app:v1")),
            vec![
                "reg.example.com:5000/team/app:v1",
                "reg.example.com:5000/team/app",
                "reg.example.com:5000/team",
                "reg.example.com:5000",
                "*.example.com",
                "*.com",
            ]
        );
    }

    #[test]
    fn the_most_specific_namespace_wins_and_default_docker_is_the_fallback() {
        let config = Config {
            default_docker: Some(read_only("https://default.example/sigs")),
            docker: vec![
                ("reg.example".into(), read_only("https://host.example/")),
                ("reg.example/team".into(), read_only("file:///team")),
            ],
        };
        let team = reference("reg.example/team/app:v1");
        assert_eq!(
            config.base(&team, Purpose::Read).as_deref(),
            Some("file:///team/team/app")
        );
        assert_eq!(
            config
                .base(&reference("reg.example/other/app"), Purpose::Read)
                .as_deref(),
            Some("https://host.example/other/app")
        );
        assert_eq!(
            config
                .base(&reference("elsewhere.example/x"), Purpose::Read)
                .as_deref(),
            Some("https://default.example/sigs/x")
        );
    }

    #[test]
    fn writing_prefers_staging_and_reading_never_uses_it() {
        let entry = Namespace {
            lookaside: "https://read.example".into(),
            sigstore_staging: "file:///old-staging".into(),
            ..Namespace::default()
        };
        let config = Config {
            default_docker: None,
            docker: vec![("reg.example".into(), entry)],
        };
        assert_eq!(
            read_and_write(&config, "reg.example/app"),
            (Some("https://read.example"), Some("file:///old-staging"))
        );
    }

    #[test]
    fn an_entry_without_a_url_for_the_purpose_defers_to_a_wider_one() {
        let config = Config {
            default_docker: None,
            docker: vec![
                (
                    "reg.example/app".into(),
                    Namespace {
                        lookaside_staging: "file:///staging".into(),
                        ..Namespace::default()
                    },
                ),
                ("*.example".into(), read_only("http://wild.example")),
            ],
        };
        assert_eq!(
            read_and_write(&config, "reg.example/app"),
            (Some("http://wild.example"), Some("file:///staging"))
        );
        let r = reference("reg.example/app");
        assert_eq!(
            Config::default().top_level(&r, Purpose::Read),
            None,
            "nothing configured"
        );
    }

    #[test]
    fn the_most_specific_entry_that_says_decides_sigstore_attachments() {
        let says = |on: Option<bool>| Namespace {
            use_sigstore_attachments: on,
            ..Namespace::default()
        };
        let config = Config {
            default_docker: Some(says(Some(true))),
            docker: vec![
                ("reg.example/team/app".into(), says(None)),
                ("reg.example/team".into(), says(Some(false))),
            ],
        };
        assert!(!config.use_sigstore_attachments(&reference("reg.example/team/app:v1")));
        assert!(config.use_sigstore_attachments(&reference("reg.example/other")));
        assert!(!Config::default().use_sigstore_attachments(&reference("reg.example/other")));
    }

    #[test]
    fn signature_urls_name_the_algorithm_and_hex_with_an_equals_sign() {
        let digest = Digest::sha256_of(b"");
        assert_eq!(
            signature_url("file:///sigs/team/app", &digest, 2),
            "file:///sigs/team/app@sha256=e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855/signature-2"
        );
    }

    #[test]
    fn merging_refuses_a_namespace_or_default_configured_twice() {
        let one = Config {
            default_docker: Some(read_only("file:///a")),
            docker: vec![("reg.example".into(), read_only("file:///b"))],
        };
        assert!(matches!(
            Config::merge(vec![
                ("a.yaml".into(), one.clone()),
                ("b.yaml".into(), one.clone())
            ]),
            Err(LookasideError::DuplicateDefault { .. })
        ));
        let two = Config {
            default_docker: None,
            ..one.clone()
        };
        assert_eq!(
            Config::merge(vec![("a.yaml".into(), one), ("b.yaml".into(), two)]),
            Err(LookasideError::DuplicateNamespace {
                namespace: "reg.example".into(),
                first: "a.yaml".into(),
                second: "b.yaml".into()
            })
        );
    }

    #[test]
    fn files_and_http_are_read_but_only_files_are_written() {
        assert_eq!(
            location("file:///x/y", Purpose::Write),
            Ok(Location::File("/x/y".into()))
        );
        assert_eq!(
            location("https://h/x", Purpose::Read),
            Ok(Location::Http("https://h/x".into()))
        );
        assert!(matches!(
            location("https://h/x", Purpose::Write),
            Err(LookasideError::UnsupportedScheme { .. })
        ));
        assert!(matches!(
            location("ftp://h/x", Purpose::Read),
            Err(LookasideError::UnsupportedScheme { .. })
        ));
        assert!(matches!(
            location("/just/a/path", Purpose::Read),
            Err(LookasideError::NotAUrl { .. })
        ));
    }
}
