//! Real registries for tests: Debian's `docker-registry` (distribution
//! v2.8.2) started per test on a free loopback port, optionally behind HTTP
//! Basic auth, a bearer-token server of our own, or TLS with a CA made at
//! start; and a fault-injecting TCP proxy to put in front of one.
//!
//! Invariants:
//! - Everything listens on 127.0.0.1 only, on a port the kernel picked.
//! - Everything stops by itself: a [`Registry`] kills its process and
//!   removes its files on drop, and even if the test process dies the
//!   registry follows (a watchdog shell kills it when our end of its stdin
//!   pipe closes, and after [`MAX_LIFETIME`] at the latest). The token
//!   server and the [`FaultProxy`] are threads of the test process.
//! - Every wait is bounded ([`START_TIMEOUT`], [`IO_TIMEOUT`]).
//!
//! The API is blocking on purpose, so that `#[test]` functions and
//! `#[tokio::test]` functions use it alike: servers of our own run their
//! own single-threaded tokio runtime on a thread of their own, never the
//! caller's runtime, and dropping them from inside a runtime is safe.
//!
//! ```no_run
//! use ferry_tests::registry::{Registry, Setup, SkopeoSide};
//! let registry = Registry::start(Setup::token("alice", "secret"));
//! let destination = registry.docker_ref("demo:1");
//! let flags = registry.skopeo_flags(SkopeoSide::Dest);
//! // skopeo copy <flags> dir:… <destination>; then inspect the token log:
//! assert!(registry.token_requests().iter().all(|r| r.user.as_deref() == Some("alice")));
//! ```

mod cli;
mod fixture;
mod http;
mod proxy;
mod scripted;
mod server;
mod tls;
mod token;

use std::time::Duration;

pub use cli::{failed, ferry, ferry_bin, ferry_command, succeeded, sync_args};
pub use fixture::{DEMO_INDEX_DIGEST, DemoImage, skopeo};
pub use http::Response;
pub use proxy::{Action, Exchange, FaultProxy, Faults, Match, Rule};
pub use scripted::{Body, Reply, ScriptedServer, Seen};
pub use server::{Auth, Credentials, MAX_LIFETIME, Registry, Setup, SkopeoSide};
pub use tls::Pki;
pub use token::{Access, TokenRequest, TokenServer, TokenServerConfig};

/// The longest a registry may take to answer `GET /v2/` after its start.
pub const START_TIMEOUT: Duration = Duration::from_secs(20);

/// The longest any single read, write or connect of the harness may wait.
pub const IO_TIMEOUT: Duration = Duration::from_secs(30);

/// What went wrong while setting a registry, a token server or a proxy up.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A program the harness runs is not installed.
    #[error("{program} is not installed (run `bash scripts/install-deps.sh services`)")]
    Missing {
        /// The program looked for.
        program: String,
    },
    /// A file or socket operation failed.
    #[error("{what}: {source}")]
    Io {
        /// What the harness was doing, naming the path or address.
        what: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// Generating a key or certificate failed.
    #[error("generating {what}: {detail}")]
    Pki {
        /// Which key or certificate.
        what: &'static str,
        /// rcgen's, ring's or bcrypt's error, as text.
        detail: String,
    },
    /// The registry process exited before it answered.
    #[error("docker-registry exited ({status}) before answering; its log:\n{log}")]
    Exited {
        /// Its exit status.
        status: std::process::ExitStatus,
        /// Everything it wrote.
        log: String,
    },
    /// The registry did not answer `GET /v2/` in time.
    #[error("docker-registry at {host} did not answer GET /v2/ within {waited:?}; its log:\n{log}")]
    NotReady {
        /// Its address.
        host: String,
        /// How long the harness waited.
        waited: Duration,
        /// Everything it wrote.
        log: String,
    },
    /// A response could not be read as HTTP/1.1.
    #[error("malformed HTTP from {peer}: {detail}")]
    Http {
        /// Who sent it.
        peer: String,
        /// What was wrong.
        detail: String,
    },
    /// A helper program (ferry, skopeo) failed.
    #[error("{command} failed ({status}):\n{stderr}")]
    Command {
        /// The command line.
        command: String,
        /// Its exit status.
        status: std::process::ExitStatus,
        /// What it wrote to stderr.
        stderr: String,
    },
}

/// One plain-HTTP request to `addr` on a fresh connection
/// (`Connection: close`), read to the end, e.g. to a [`TokenServer`]:
/// `request(token.addr(), "GET", "/token?service=…", &[("Authorization", …)])`.
pub fn request(
    addr: std::net::SocketAddr,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
) -> Result<Response, Error> {
    http::request(addr, method, target, headers, &[], IO_TIMEOUT)
}

impl Error {
    fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> Error {
        let what = what.into();
        move |source| Error::Io { what, source }
    }
}
