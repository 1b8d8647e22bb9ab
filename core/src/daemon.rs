//! The Docker Engine API as `docker-daemon:` uses it: where the daemon
//! is, which requests carry an image out and in, and what the answers
//! mean. The native crate performs the HTTP; every decision about it is
//! here.
//!
//! Two requests move images, both carrying `docker save`'s archive
//! format (`docker-archive:`):
//!
//! - `GET /v1.22/images/{name}/get`: the archive of one image, by name or
//!   image ID ([`save_path`]);
//! - `POST /v1.22/images/load?quiet=1` with the archive as the body
//!   ([`LOAD_PATH`]); the answer is a stream of JSON messages, one of
//!   which may be an error although the status is 200 ([`load_outcome`]).
//!
//! API version 1.22 is the one containers/image asks for; Docker and
//! podman's compatible API both still serve it.

use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt;

use crate::digest::truncate_for_error;
use crate::json::{self, Value};
use crate::reference::transport::DaemonReference;

/// Where the daemon listens when neither `--*-daemon-host` nor
/// `DOCKER_HOST` says otherwise.
pub const DEFAULT_HOST: &str = "unix:///var/run/docker.sock";

/// The API version every request names, as containers/image's.
pub const API_VERSION: &str = "1.22";

/// The request that loads an archive (`docker load`), quietly: the answer
/// is then a few messages, not a progress bar per layer.
pub const LOAD_PATH: &str = "/v1.22/images/load?quiet=1";

/// A daemon's address, from `unix://PATH`, `tcp://HOST:PORT[/PATH]`,
/// `http://HOST:PORT` or `https://HOST:PORT`, read as Docker's client
/// reads them: `tcp://` (and anything but `unix://` and `http://`) is
/// HTTPS, `http://` is plain HTTP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Host {
    /// A Unix socket at this path.
    Unix { path: String },
    /// A TCP address, `host:port`, with the base path requests go under
    /// (`tcp://` only, as in Docker's client; usually empty).
    Tcp {
        address: String,
        base_path: String,
        tls: bool,
    },
}

/// Why a daemon address does not parse.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum HostError {
    /// No `scheme://`.
    NoScheme { host: String },
    /// A scheme ferry cannot reach on this system (`npipe://`, `ssh://`,
    /// `fd://`).
    UnsupportedScheme { host: String, scheme: String },
    /// Nothing after `scheme://`.
    EmptyAddress { host: String },
}

impl fmt::Display for HostError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HostError::NoScheme { host } => crate::write_quoted(
                f,
                "unable to parse docker host ",
                host,
                " (expected unix://PATH, tcp://HOST:PORT, http://HOST:PORT or https://HOST:PORT)",
            ),
            HostError::UnsupportedScheme { host, scheme } => write!(
                f,
                "docker host {host}: scheme {scheme} is not supported (unix, tcp, http and https are)",
                host = crate::Quoted(host),
                scheme = crate::Quoted(scheme)
            ),
            HostError::EmptyAddress { host } => {
                crate::write_quoted(f, "docker host ", host, " has no address")
            }
        }
    }
}

impl core::error::Error for HostError {}

impl Host {
    /// Reads a daemon address (`DOCKER_HOST`'s form).
    pub fn parse(host: &str) -> Result<Host, HostError> {
        let shown = || truncate_for_error(host);
        let Some((scheme, rest)) = host.split_once("://") else {
            return Err(HostError::NoScheme { host: shown() });
        };
        if rest.is_empty() {
            return Err(HostError::EmptyAddress { host: shown() });
        }
        match scheme {
            "unix" => Ok(Host::Unix {
                path: rest.to_string(),
            }),
            // Docker's client keeps a path only after tcp://.
            "tcp" => {
                let (address, base_path) = match rest.find('/') {
                    Some(slash) => (&rest[..slash], rest[slash..].trim_end_matches('/')),
                    None => (rest, ""),
                };
                if address.is_empty() {
                    return Err(HostError::EmptyAddress { host: shown() });
                }
                Ok(Host::Tcp {
                    address: address.to_string(),
                    base_path: base_path.to_string(),
                    tls: true,
                })
            }
            "http" | "https" => Ok(Host::Tcp {
                address: rest.trim_end_matches('/').to_string(),
                base_path: String::new(),
                tls: scheme == "https",
            }),
            other => Err(HostError::UnsupportedScheme {
                host: shown(),
                scheme: truncate_for_error(other),
            }),
        }
    }

    /// The URL requests are made under: `http://localhost` over a Unix
    /// socket (the host part is not used), `https://address/base` over
    /// TCP.
    pub fn base_url(&self) -> String {
        match self {
            Host::Unix { .. } => "http://localhost".to_string(),
            Host::Tcp {
                address,
                base_path,
                tls,
            } => {
                let scheme = if *tls { "https" } else { "http" };
                alloc::format!("{scheme}://{address}{base_path}")
            }
        }
    }
}

/// The request that saves one image (`docker save`), by the name or ID
/// containers/image would ask for. Names hold only `[a-z0-9._-/:@]`,
/// which a URL path carries as they are; the daemon reads everything
/// between `/images/` and `/get` as the name.
pub fn save_path(reference: &DaemonReference) -> String {
    alloc::format!("/v{API_VERSION}/images/{reference}/get")
}

/// The daemon's words for a failed request: the `message` of its JSON
/// error body (Docker's and podman's form), else the body's text, as
/// Docker's client reports it ("Error response from daemon: …").
pub fn error_message(status: u16, body: &[u8]) -> String {
    let message = match json::parse(body) {
        Ok(Value::Object(o)) => o
            .field("message")
            .and_then(Value::as_str)
            .map(|m| m.trim().to_string()),
        _ => None,
    };
    let message = message.unwrap_or_else(|| {
        let text = String::from_utf8_lossy(body);
        truncate_for_error(text.trim())
    });
    if message.is_empty() {
        alloc::format!(
            "the daemon answered status {status} with no message (does it serve API version {API_VERSION}?)"
        )
    } else {
        alloc::format!("Error response from daemon: {message}")
    }
}

/// What a load's answer says: the daemon's messages (`Loaded image: …`)
/// when it loaded the image, or its error. Docker streams one JSON message
/// a line and reports a failure as an `error` (or `errorDetail.message`)
/// message after the status 200 has gone out, so the status alone does
/// not tell; containers/image does not read the answer at all, and misses
/// such failures. Lines that are not JSON are not messages and are
/// skipped.
pub fn load_outcome(body: &[u8]) -> Result<Vec<String>, String> {
    let mut loaded = Vec::new();
    for line in body.split(|b| *b == b'\n') {
        let Ok(Value::Object(message)) = json::parse(line) else {
            continue;
        };
        let detail = message
            .field("errorDetail")
            .and_then(|d| match d {
                Value::Object(d) => d.field("message"),
                _ => None,
            })
            .and_then(Value::as_str);
        let error = detail.or_else(|| message.field("error").and_then(Value::as_str));
        if let Some(error) = error.filter(|e| !e.is_empty()) {
            return Err(truncate_for_error(error.trim()));
        }
        if let Some(stream) = message.field("stream").and_then(Value::as_str) {
            let stream = stream.trim();
            if !stream.is_empty() {
                loaded.push(stream.to_string());
            }
        }
    }
    Ok(loaded)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_read_as_dockers_client_reads_them() {
        let tcp = |address: &str, base_path: &str, tls| Host::Tcp {
            address: address.into(),
            base_path: base_path.into(),
            tls,
        };
        for (input, host, base_url) in [
            (
                DEFAULT_HOST,
                Host::Unix {
                    path: "/var/run/docker.sock".into(),
                },
                "http://localhost",
            ),
            (
                "tcp://127.0.0.1:2376",
                tcp("127.0.0.1:2376", "", true),
                "https://127.0.0.1:2376",
            ),
            (
                "tcp://daemon:2376/base/",
                tcp("daemon:2376", "/base", true),
                "https://daemon:2376/base",
            ),
            (
                "http://127.0.0.1:2375",
                tcp("127.0.0.1:2375", "", false),
                "http://127.0.0.1:2375",
            ),
            (
                "https://daemon:2376",
                tcp("daemon:2376", "", true),
                "https://daemon:2376",
            ),
        ] {
            let parsed = Host::parse(input).unwrap();
            assert_eq!(parsed, host, "{input}");
            assert_eq!(parsed.base_url(), base_url, "{input}");
        }
    }

    #[test]
    fn unreachable_or_malformed_hosts_are_refused() {
        assert!(matches!(
            Host::parse("/var/run/docker.sock"),
            Err(HostError::NoScheme { .. })
        ));
        assert!(matches!(
            Host::parse("unix://"),
            Err(HostError::EmptyAddress { .. })
        ));
        assert!(matches!(
            Host::parse("tcp:///path"),
            Err(HostError::EmptyAddress { .. })
        ));
        for scheme in ["npipe", "ssh", "fd"] {
            assert!(
                matches!(
                    Host::parse(&alloc::format!("{scheme}://x")),
                    Err(HostError::UnsupportedScheme { .. })
                ),
                "{scheme}"
            );
        }
    }

    #[test]
    fn images_are_saved_by_the_name_docker_shows_or_by_id() {
        let named = DaemonReference::parse("docker.io/library/busybox:1").unwrap();
        assert_eq!(save_path(&named), "/v1.22/images/busybox:1/get");
        let other = DaemonReference::parse("localhost:5000/ns/app:v1").unwrap();
        assert_eq!(
            save_path(&other),
            "/v1.22/images/localhost:5000/ns/app:v1/get"
        );
        let id = "sha256:6b5859431f5a414c2e9d0f36c7f5cd3f0979664ef2b85cf47cf74d0beb1c5181";
        let by_id = DaemonReference::parse(id).unwrap();
        assert_eq!(save_path(&by_id), alloc::format!("/v1.22/images/{id}/get"));
    }

    #[test]
    fn an_error_body_gives_the_daemons_message() {
        assert_eq!(
            error_message(
                404,
                br#"{"cause":"image not known","message":"failed to find image nope: image not known","response":404}"#
            ),
            "Error response from daemon: failed to find image nope: image not known"
        );
        assert_eq!(
            error_message(500, b"plain words\n"),
            "Error response from daemon: plain words"
        );
        assert!(error_message(400, b"").contains("status 400"));
    }

    #[test]
    fn a_load_fails_on_an_error_message_despite_its_status() {
        assert_eq!(
            load_outcome(b"{\"stream\":\"Loaded image: docker.io/library/demo:1\\n\"}\n"),
            Ok(alloc::vec![
                "Loaded image: docker.io/library/demo:1".to_string()
            ])
        );
        assert_eq!(
            load_outcome(
                b"{\"stream\":\"Loading layer\"}\r\n{\"errorDetail\":{\"message\":\"unexpected EOF\"},\"error\":\"unexpected EOF\"}\r\n"
            ),
            Err("unexpected EOF".to_string())
        );
        assert_eq!(
            load_outcome(b"{\"error\":\"no space left\"}"),
            Err("no space left".to_string())
        );
        assert_eq!(load_outcome(b"not json at all"), Ok(Vec::new()));
    }
}
