//! A real registry process: Debian's `docker-registry` (distribution
//! v2.8.2) on a free 127.0.0.1 port, with storage, keys and config in a
//! temporary directory of its own.

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ring::rand::{SecureRandom as _, SystemRandom};

use super::http::{self, Response};
use super::proxy::{FaultProxy, Faults};
use super::tls::Pki;
use super::token::{TokenRequest, TokenServer, TokenServerConfig};
use super::{Error, IO_TIMEOUT, START_TIMEOUT};
use crate::process::{SpawnError, Watched};

/// The longest a registry process lives, even if its [`Registry`] is never
/// dropped and the test process is killed.
pub const MAX_LIFETIME: Duration = Duration::from_secs(30 * 60);

/// The registry binary; `FERRY_DOCKER_REGISTRY` overrides it.
const REGISTRY_PROGRAM: &str = "/usr/bin/docker-registry";

/// The realm of Basic auth (`WWW-Authenticate: Basic realm="ferry-registry"`).
const BASIC_REALM: &str = "ferry-registry";

/// A user name and password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The user name.
    pub user: String,
    /// The password.
    pub password: String,
}

impl Credentials {
    /// `user` with `password`.
    pub fn new(user: &str, password: &str) -> Credentials {
        Credentials {
            user: user.into(),
            password: password.into(),
        }
    }

    /// The value of an `Authorization` header: `Basic base64(user:password)`.
    pub fn basic_authorization(&self) -> String {
        format!(
            "Basic {}",
            STANDARD.encode(format!("{}:{}", self.user, self.password))
        )
    }
}

/// Who may use the registry.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Auth {
    /// Anyone may push and pull.
    Anonymous,
    /// HTTP Basic auth against an htpasswd file (bcrypt) with this one user.
    Basic(Credentials),
    /// Bearer tokens from a [`TokenServer`] that knows this one user.
    Token(Credentials),
}

/// How to set a registry up: who may use it and whether it speaks TLS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Setup {
    /// Who may use it.
    pub auth: Auth,
    /// HTTPS with a CA made at start, instead of plain HTTP.
    pub tls: bool,
    /// Accept Docker schema 1 manifests, which distribution 2.8 refuses
    /// unless its `compatibility.schema1` is enabled.
    pub schema1: bool,
}

impl Setup {
    /// Plain HTTP, anonymous.
    pub fn plain() -> Setup {
        Setup {
            auth: Auth::Anonymous,
            tls: false,
            schema1: false,
        }
    }

    /// Plain HTTP, Basic auth for `user`.
    pub fn basic(user: &str, password: &str) -> Setup {
        Setup {
            auth: Auth::Basic(Credentials::new(user, password)),
            tls: false,
            schema1: false,
        }
    }

    /// Plain HTTP, bearer tokens for `user` from a token server of ours.
    pub fn token(user: &str, password: &str) -> Setup {
        Setup {
            auth: Auth::Token(Credentials::new(user, password)),
            tls: false,
            schema1: false,
        }
    }

    /// HTTPS, anonymous.
    pub fn tls() -> Setup {
        Setup::plain().with_tls()
    }

    /// The same, over HTTPS (the token server stays plain HTTP).
    pub fn with_tls(self) -> Setup {
        Setup { tls: true, ..self }
    }

    /// The same, also accepting Docker schema 1 manifests (whose
    /// signatures the registry then verifies).
    pub fn with_schema1(self) -> Setup {
        Setup {
            schema1: true,
            ..self
        }
    }
}

/// Which of skopeo's flag families [`Registry::skopeo_flags`] writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SkopeoSide {
    /// `--src-…`, for the source of `skopeo copy`.
    Src,
    /// `--dest-…`, for the destination of `skopeo copy`.
    Dest,
    /// Unprefixed (`--tls-verify`, `--creds`, `--cert-dir`), for
    /// `skopeo inspect`, `delete`, `list-tags`.
    Only,
}

/// A running registry; dropping it kills the process and removes its files.
#[derive(Debug)]
pub struct Registry {
    // Fields drop in order: the process first, its files last.
    process: Process,
    token: Option<TokenServer>,
    setup: Setup,
    addr: SocketAddr,
    pki: Option<Pki>,
    log_path: PathBuf,
    storage: PathBuf,
    dir: tempfile::TempDir,
}

impl Registry {
    /// Starts a registry and waits until it answers; panics (with the
    /// reason and the registry's log) if it cannot.
    pub fn start(setup: Setup) -> Registry {
        Self::try_start(setup).unwrap_or_else(|e| panic!("starting a registry: {e}"))
    }

    /// Starts a registry and waits (at most [`START_TIMEOUT`]) until
    /// `GET /v2/` answers.
    pub fn try_start(setup: Setup) -> Result<Registry, Error> {
        let program =
            std::env::var("FERRY_DOCKER_REGISTRY").unwrap_or_else(|_| REGISTRY_PROGRAM.into());
        if !Path::new(&program).is_file() {
            return Err(Error::Missing { program });
        }
        let dir = tempfile::Builder::new()
            .prefix("ferry-registry-")
            .tempdir()
            .map_err(Error::io("creating a temporary directory"))?;
        let storage = dir.path().join("storage");
        std::fs::create_dir_all(&storage)
            .map_err(Error::io(format!("creating {}", storage.display())))?;
        let pki = if setup.tls {
            Some(Pki::create(&dir.path().join("tls"))?)
        } else {
            None
        };
        let (auth, token) = auth_section(&setup.auth, dir.path())?;
        let log_path = dir.path().join("registry.log");
        let config = dir.path().join("config.yml");

        // A port found free can be taken before the registry binds it:
        // try again with another.
        let mut attempt = 0;
        loop {
            attempt += 1;
            let addr = free_port()?;
            let text = config_text(&storage, addr, pki.as_ref(), &auth, setup.schema1);
            std::fs::write(&config, text)
                .map_err(Error::io(format!("writing {}", config.display())))?;
            let mut process = Process::spawn(&program, &config, &log_path)?;
            match wait_ready(&mut process, addr, setup.tls, &log_path) {
                Ok(()) => {
                    return Ok(Registry {
                        process,
                        token,
                        setup,
                        addr,
                        pki,
                        log_path,
                        storage,
                        dir,
                    });
                }
                Err(Error::Exited { log, .. })
                    if attempt < 3 && log.contains("address already in use") => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// How it was set up.
    pub fn setup(&self) -> &Setup {
        &self.setup
    }

    /// Its address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `127.0.0.1:PORT`: the registry part of image references.
    pub fn host(&self) -> String {
        self.addr.to_string()
    }

    /// `http://127.0.0.1:PORT` or `https://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("{}://{}", self.scheme(), self.addr)
    }

    /// `http` or `https`.
    pub fn scheme(&self) -> &'static str {
        if self.setup.tls { "https" } else { "http" }
    }

    /// `127.0.0.1:PORT/NAME`, e.g. `reference("demo:1")`.
    pub fn reference(&self, name: &str) -> String {
        format!("{}/{name}", self.host())
    }

    /// `docker://127.0.0.1:PORT/NAME`, a skopeo (and ferry) image reference.
    pub fn docker_ref(&self, name: &str) -> String {
        format!("docker://{}", self.reference(name))
    }

    /// The one user's credentials, if the registry has auth.
    pub fn credentials(&self) -> Option<&Credentials> {
        match &self.setup.auth {
            Auth::Basic(c) | Auth::Token(c) => Some(c),
            Auth::Anonymous => None,
        }
    }

    /// The TLS keys and certificates, if the registry speaks TLS.
    pub fn pki(&self) -> Option<&Pki> {
        self.pki.as_ref()
    }

    /// The CA certificate (PEM) a client must trust, if TLS.
    pub fn ca_pem(&self) -> Option<&str> {
        self.pki.as_ref().map(Pki::ca_pem)
    }

    /// The file holding [`ca_pem`](Self::ca_pem), if TLS.
    pub fn ca_path(&self) -> Option<PathBuf> {
        self.pki.as_ref().map(Pki::ca_path)
    }

    /// A directory with `ca.crt` for skopeo's `--cert-dir`, if TLS.
    pub fn cert_dir(&self) -> Option<PathBuf> {
        self.pki.as_ref().map(Pki::cert_dir)
    }

    /// The token server, if the registry uses tokens.
    pub fn token_server(&self) -> Option<&TokenServer> {
        self.token.as_ref()
    }

    /// Every request the token server answered so far (empty without one).
    pub fn token_requests(&self) -> Vec<TokenRequest> {
        self.token
            .as_ref()
            .map(TokenServer::requests)
            .unwrap_or_default()
    }

    /// Forgets the token requests answered so far.
    pub fn clear_token_requests(&self) {
        if let Some(token) = &self.token {
            token.clear_requests();
        }
    }

    /// The registry process's id (to `kill -STOP` it, say, for a hang).
    pub fn pid(&self) -> u32 {
        self.process.0.pid()
    }

    /// The registry's storage root (`storage.filesystem.rootdirectory`).
    pub fn storage_dir(&self) -> &Path {
        &self.storage
    }

    /// The registry's own log so far (access log included).
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    /// The registry's temporary directory (config, keys, storage, log).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The skopeo flags to reach this registry from one side of a command:
    /// `--dest-tls-verify=false` (plain HTTP) or `--dest-cert-dir=DIR`
    /// (TLS), and `--dest-creds=USER:PASSWORD` when it has auth.
    pub fn skopeo_flags(&self, side: SkopeoSide) -> Vec<String> {
        let prefix = match side {
            SkopeoSide::Src => "--src-",
            SkopeoSide::Dest => "--dest-",
            SkopeoSide::Only => "--",
        };
        let mut flags = vec![match self.cert_dir() {
            Some(dir) => format!("{prefix}cert-dir={}", dir.display()),
            None => format!("{prefix}tls-verify=false"),
        }];
        if let Some(c) = self.credentials() {
            flags.push(format!("{prefix}creds={}:{}", c.user, c.password));
        }
        flags
    }

    /// One plain-HTTP request to the registry on a fresh connection, e.g.
    /// `request("GET", "/v2/", &[])` to read its challenge. Refused for a
    /// TLS registry.
    pub fn request(
        &self,
        method: &str,
        target: &str,
        headers: &[(&str, &str)],
    ) -> Result<Response, Error> {
        if self.setup.tls {
            return Err(Error::Http {
                peer: self.host(),
                detail: "Registry::request speaks plain HTTP and this registry serves TLS".into(),
            });
        }
        http::request(self.addr, method, target, headers, &[], IO_TIMEOUT)
    }

    /// A [`FaultProxy`] in front of this registry (panics if it cannot
    /// start); use its [`host`](FaultProxy::host) in references, and this
    /// registry's credentials and CA, which hold for it too.
    pub fn proxy(&self, faults: Faults) -> FaultProxy {
        FaultProxy::start(self.addr, faults)
    }
}

/// The `auth:` section of the config, and the token server it needs.
fn auth_section(auth: &Auth, dir: &Path) -> Result<(String, Option<TokenServer>), Error> {
    match auth {
        Auth::Anonymous => Ok((String::new(), None)),
        Auth::Basic(c) => {
            // Cost 4, bcrypt's least, keeps each request fast; `$2y$` as
            // `htpasswd -B` writes it.
            let hash = bcrypt::hash_with_result(&c.password, 4)
                .map_err(|e| Error::Pki {
                    what: "the htpasswd entry",
                    detail: e.to_string(),
                })?
                .format_for_version(bcrypt::Version::TwoY);
            let path = dir.join("htpasswd");
            std::fs::write(&path, format!("{}:{hash}\n", c.user))
                .map_err(Error::io(format!("writing {}", path.display())))?;
            let section = format!(
                "auth:\n  htpasswd:\n    realm: {}\n    path: {}\n",
                yaml(BASIC_REALM),
                yaml_path(&path)
            );
            Ok((section, None))
        }
        Auth::Token(c) => {
            let server = TokenServer::start(TokenServerConfig::new(c.clone()))?;
            let path = dir.join("token-root.pem");
            std::fs::write(&path, server.root_pem())
                .map_err(Error::io(format!("writing {}", path.display())))?;
            let section = format!(
                "auth:\n  token:\n    realm: {}\n    service: {}\n    issuer: {}\n    rootcertbundle: {}\n",
                yaml(&server.realm()),
                yaml(&server.config().service),
                yaml(&server.config().issuer),
                yaml_path(&path)
            );
            Ok((section, Some(server)))
        }
    }
}

fn config_text(
    storage: &Path,
    addr: SocketAddr,
    pki: Option<&Pki>,
    auth: &str,
    schema1: bool,
) -> String {
    let mut secret = [0u8; 16];
    let _ = SystemRandom::new().fill(&mut secret);
    let tls = match pki {
        Some(pki) => format!(
            "  tls:\n    certificate: {}\n    key: {}\n",
            yaml_path(&pki.server_cert_path()),
            yaml_path(&pki.server_key_path())
        ),
        None => String::new(),
    };
    format!(
        "version: 0.1\n\
         log:\n  level: info\n  formatter: text\n\
         storage:\n  filesystem:\n    rootdirectory: {storage}\n  delete:\n    enabled: true\n  \
         maintenance:\n    uploadpurging:\n      enabled: false\n\
         http:\n  addr: {addr}\n  secret: {secret}\n{tls}{auth}{compatibility}",
        storage = yaml_path(storage),
        compatibility = if schema1 {
            "compatibility:\n  schema1:\n    enabled: true\n"
        } else {
            ""
        },
        secret = yaml(&STANDARD.encode(secret)),
    )
}

/// A YAML double-quoted scalar (JSON's string syntax is one).
fn yaml(text: &str) -> String {
    serde_json::Value::from(text).to_string()
}

fn yaml_path(path: &Path) -> String {
    yaml(&path.to_string_lossy())
}

fn free_port() -> Result<SocketAddr, Error> {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_err(Error::io("finding a free port"))
}

/// Polls `GET /v2/` until the registry answers: 200 or 401 on plain HTTP;
/// on TLS, Go's 400 to a plain-HTTP request proves the listener is serving.
fn wait_ready(process: &mut Process, addr: SocketAddr, tls: bool, log: &Path) -> Result<(), Error> {
    let start = Instant::now();
    let read_log = || std::fs::read_to_string(log).unwrap_or_default();
    loop {
        if let Some(status) = process.exited() {
            return Err(Error::Exited {
                status,
                log: read_log(),
            });
        }
        if let Ok(response) = http::request(addr, "GET", "/v2/", &[], &[], Duration::from_secs(2)) {
            let ready = if tls {
                response.status == 400
            } else {
                matches!(response.status, 200 | 401)
            };
            if ready {
                return Ok(());
            }
        }
        if start.elapsed() > START_TIMEOUT {
            return Err(Error::NotReady {
                host: addr.to_string(),
                waited: start.elapsed(),
                log: read_log(),
            });
        }
        std::thread::sleep(Duration::from_millis(25));
    }
}

/// The registry under [`Watched`]'s watchdog, killed when the test
/// process ends and after [`MAX_LIFETIME`] at the latest.
#[derive(Debug)]
struct Process(Watched);

impl Process {
    fn spawn(program: &str, config: &Path, log: &Path) -> Result<Process, Error> {
        let argv = [program.as_ref(), "serve".as_ref(), config.as_os_str()];
        match Watched::spawn(&argv, log, MAX_LIFETIME, None) {
            Ok(watched) => Ok(Process(watched)),
            Err(SpawnError::Io(e)) => Err(Error::io(format!("starting {program}"))(e)),
            Err(SpawnError::Exited(status)) => Err(Error::Exited {
                status,
                log: std::fs::read_to_string(log).unwrap_or_default(),
            }),
        }
    }

    fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.0.exited()
    }
}
