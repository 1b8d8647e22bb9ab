//! A real Docker-compatible daemon for `docker-daemon:` tests: Debian's
//! podman 4.3 serving the Engine API (`podman system service`) on a Unix
//! socket in a temporary directory, over a throwaway `vfs` store of its
//! own (`--root`, `--runroot`, `--tmpdir` all inside that directory), so
//! nothing touches the machine's images.
//!
//! Invariants, as for the registry harness ([`crate::registry`]):
//! - Nothing listens beyond the machine: a Unix socket in a temporary
//!   directory, or ([`Daemon::start_tcp`]) a port on 127.0.0.1 that the
//!   kernel picked.
//! - It stops by itself: one service per test binary ([`shared`]), under
//!   a watchdog shell that kills it when the test process ends (its end of
//!   the watchdog's stdin pipe closes) and after [`MAX_LIFETIME`] at the
//!   latest, then removes the directory, store included.
//! - Every wait is bounded ([`START_TIMEOUT`], [`IO_TIMEOUT`], and the
//!   timeout podman commands run under).
//!
//! Checks go around ferry's own client: [`Daemon::get`] speaks HTTP/1.0
//! over a std `UnixStream`, and [`Daemon::podman`] runs the podman CLI on
//! the same store.

use std::io::{Read as _, Write as _};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use crate::process::{SpawnError, Watched};

/// The longest the service may take to answer `GET /_ping` after its
/// start.
pub const START_TIMEOUT: Duration = Duration::from_secs(60);
/// The longest one request of the harness may wait.
pub const IO_TIMEOUT: Duration = Duration::from_secs(30);
/// The longest the service lives, even if the test process is killed.
pub const MAX_LIFETIME: Duration = Duration::from_secs(30 * 60);
/// The longest one podman command may run before it is killed.
const PODMAN_TIMEOUT_SECS: u32 = 120;
/// The podman binary; `FERRY_PODMAN` overrides it.
const PODMAN: &str = "/usr/bin/podman";

/// A running `podman system service`; dropping it stops the service
/// and removes its store.
#[derive(Debug)]
pub struct Daemon {
    /// Never dropped when in [`shared`]: the watchdog ends it.
    _process: Mutex<Watched>,
    program: String,
    dir: PathBuf,
    listen: Listen,
}

/// Where the service listens.
#[derive(Debug, Clone)]
enum Listen {
    Unix(PathBuf),
    Tcp(std::net::SocketAddr),
}

/// The test binary's daemon, started on first use; panics (with the
/// reason and podman's log) if it cannot start.
pub fn shared() -> &'static Daemon {
    static DAEMON: OnceLock<Result<Daemon, String>> = OnceLock::new();
    match DAEMON.get_or_init(|| Daemon::start(false)) {
        Ok(daemon) => daemon,
        Err(e) => panic!("starting podman system service: {e}"),
    }
}

impl Daemon {
    /// A service of its own on a free 127.0.0.1 port, speaking plain
    /// HTTP (podman's service has no TLS); panics if it cannot start.
    pub fn start_tcp() -> Daemon {
        Daemon::start(true).unwrap_or_else(|e| panic!("starting podman system service: {e}"))
    }

    fn start(tcp: bool) -> Result<Daemon, String> {
        let program = std::env::var("FERRY_PODMAN").unwrap_or_else(|_| PODMAN.into());
        if !Path::new(&program).is_file() {
            return Err(format!(
                "{program} is not installed (run `bash scripts/install-deps.sh services`)"
            ));
        }
        let dir = tempfile::Builder::new()
            .prefix("ferry-podman-")
            .tempdir()
            .map_err(|e| format!("creating a temporary directory: {e}"))?
            .keep();
        let listen = if tcp {
            let addr = std::net::TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .map_err(|e| format!("finding a free port: {e}"))?;
            Listen::Tcp(addr)
        } else {
            Listen::Unix(dir.join("podman.sock"))
        };
        let log = dir.join("podman.log");
        let mut argv = store_flags(&program, &dir);
        argv.extend([
            "system".into(),
            "service".into(),
            "--time=0".into(),
            match &listen {
                Listen::Unix(socket) => format!("unix://{}", socket.display()),
                Listen::Tcp(addr) => format!("tcp://{addr}"),
            },
        ]);
        let process = match Watched::spawn(&argv, &log, MAX_LIFETIME, Some(&dir)) {
            Ok(p) => p,
            Err(SpawnError::Io(e)) => return Err(format!("starting {program}: {e}")),
            Err(SpawnError::Exited(status)) => {
                return Err(format!("{program} exited ({status}) at once"));
            }
        };
        let daemon = Daemon {
            _process: Mutex::new(process),
            program,
            dir,
            listen,
        };
        daemon.wait_ready(&log)?;
        Ok(daemon)
    }

    fn wait_ready(&self, log: &Path) -> Result<(), String> {
        let start = Instant::now();
        loop {
            let exited = self
                ._process
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .exited();
            if let Some(status) = exited {
                return Err(format!(
                    "podman exited ({status}) before answering; its log:\n{}",
                    std::fs::read_to_string(log).unwrap_or_default()
                ));
            }
            if self.get("/_ping").is_ok_and(|(status, _)| status == 200) {
                return Ok(());
            }
            if start.elapsed() > START_TIMEOUT {
                return Err(format!(
                    "no answer to GET /_ping within {START_TIMEOUT:?}; its log:\n{}",
                    std::fs::read_to_string(log).unwrap_or_default()
                ));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// `unix:///…/podman.sock` or `http://127.0.0.1:PORT`, for
    /// `--src-daemon-host`, `--dest-daemon-host` and `DOCKER_HOST`.
    pub fn host(&self) -> String {
        match &self.listen {
            Listen::Unix(socket) => format!("unix://{}", socket.display()),
            Listen::Tcp(addr) => format!("http://{addr}"),
        }
    }

    /// `GET path`: the status and the body.
    pub fn get(&self, path: &str) -> std::io::Result<(u16, Vec<u8>)> {
        let mut stream: Box<dyn Stream> = match &self.listen {
            Listen::Unix(socket) => {
                let stream = UnixStream::connect(socket)?;
                stream.set_read_timeout(Some(IO_TIMEOUT))?;
                stream.set_write_timeout(Some(IO_TIMEOUT))?;
                Box::new(stream)
            }
            Listen::Tcp(addr) => {
                let stream = std::net::TcpStream::connect_timeout(addr, IO_TIMEOUT)?;
                stream.set_read_timeout(Some(IO_TIMEOUT))?;
                stream.set_write_timeout(Some(IO_TIMEOUT))?;
                Box::new(stream)
            }
        };
        // HTTP/1.0: the answer is neither chunked nor kept alive; it ends
        // when the connection does.
        write!(stream, "GET {path} HTTP/1.0\r\nHost: d\r\n\r\n")?;
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer)?;
        let malformed = || std::io::Error::other(format!("malformed answer to GET {path}"));
        let end = answer
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .ok_or_else(malformed)?;
        let status = std::str::from_utf8(&answer[..end])
            .ok()
            .and_then(|head| head.split(' ').nth(1))
            .and_then(|s| s.parse().ok())
            .ok_or_else(malformed)?;
        Ok((status, answer[end + 4..].to_vec()))
    }

    /// The API's image list (`GET /v1.22/images/json`).
    pub fn images(&self) -> Vec<serde_json::Value> {
        let (status, body) = self
            .get("/v1.22/images/json")
            .unwrap_or_else(|e| panic!("listing the daemon's images: {e}"));
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
        serde_json::from_slice(&body).expect("the image list is JSON")
    }

    /// The image list's entry tagged `tag` (`docker.io/library/x:1`).
    pub fn image_tagged(&self, tag: &str) -> Option<serde_json::Value> {
        self.images().into_iter().find(|image| {
            image["RepoTags"]
                .as_array()
                .is_some_and(|tags| tags.iter().any(|t| t == tag))
        })
    }

    /// `podman ARGS…` on the daemon's store.
    pub fn podman<S: AsRef<std::ffi::OsStr>>(&self, args: &[S]) -> Output {
        Command::new("timeout")
            .args(["--kill-after=10", &PODMAN_TIMEOUT_SECS.to_string()])
            .args(store_flags(&self.program, &self.dir))
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("running podman: {e}"))
    }

    /// `podman image inspect NAME`'s one object.
    pub fn inspect(&self, name: &str) -> serde_json::Value {
        let output = self.podman(&["image", "inspect", name]);
        let stdout = crate::registry::succeeded(&output);
        let mut all: Vec<serde_json::Value> =
            serde_json::from_str(&stdout).expect("podman image inspect prints JSON");
        assert_eq!(all.len(), 1, "{stdout}");
        all.remove(0)
    }
}

/// A connection to the service.
trait Stream: std::io::Read + std::io::Write {}
impl<T: std::io::Read + std::io::Write> Stream for T {}

/// podman and the flags that put its whole state in `dir`.
fn store_flags(program: &str, dir: &Path) -> Vec<String> {
    let at = |name: &str| dir.join(name).display().to_string();
    vec![
        program.into(),
        "--root".into(),
        at("root"),
        "--runroot".into(),
        at("runroot"),
        "--tmpdir".into(),
        at("tmp"),
        "--storage-driver".into(),
        "vfs".into(),
        "--events-backend".into(),
        "none".into(),
        "--cgroup-manager".into(),
        "cgroupfs".into(),
    ]
}

/// HTTPS in front of a daemon's Unix socket, as a Docker daemon run with
/// `--tlsverify` serves it: a free 127.0.0.1 port, the [`Pki`]'s server
/// certificate, and a client certificate its CA signed required of every
/// client ([`Pki::daemon_cert_dir`] holds one). Each connection is relayed
/// to the socket. It runs on a thread of its own with its own runtime, and
/// stops when dropped.
///
/// [`Pki`]: crate::registry::Pki
/// [`Pki::daemon_cert_dir`]: crate::registry::Pki::daemon_cert_dir
#[derive(Debug)]
pub struct TlsFront {
    addr: std::net::SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl TlsFront {
    /// Starts the front for `daemon` (one on a Unix socket); panics if it
    /// cannot.
    pub fn start(daemon: &Daemon, pki: &crate::registry::Pki) -> TlsFront {
        let Listen::Unix(socket) = daemon.listen.clone() else {
            panic!("a TLS front relays to a daemon on a Unix socket");
        };
        let config = std::sync::Arc::new(server_config(pki));
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("binding 127.0.0.1:0");
        listener
            .set_nonblocking(true)
            .expect("a non-blocking listener");
        let addr = listener.local_addr().expect("the front's address");
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime for the TLS front");
            runtime.block_on(async move {
                let listener =
                    tokio::net::TcpListener::from_std(listener).expect("a tokio listener");
                let acceptor = tokio_rustls::TlsAcceptor::from(config);
                let accepting = async {
                    while let Ok((tcp, _)) = listener.accept().await {
                        let acceptor = acceptor.clone();
                        let socket = socket.clone();
                        tokio::spawn(async move {
                            let relay = async {
                                let mut tls = acceptor.accept(tcp).await?;
                                let mut unix = tokio::net::UnixStream::connect(&socket).await?;
                                tokio::io::copy_bidirectional(&mut tls, &mut unix).await
                            };
                            // A refused handshake is the client's failure
                            // to see, not the front's.
                            let _ = tokio::time::timeout(MAX_LIFETIME, relay).await;
                        });
                    }
                };
                tokio::select! {
                    _ = accepting => {}
                    _ = stopped => {}
                }
            });
        });
        TlsFront {
            addr,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    /// `tcp://127.0.0.1:PORT`, which ferry and skopeo reach over HTTPS.
    pub fn host(&self) -> String {
        format!("tcp://{}", self.addr)
    }
}

impl Drop for TlsFront {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The server side of [`TlsFront`]: the PKI's server certificate, and
/// client certificates checked against its CA.
fn server_config(pki: &crate::registry::Pki) -> rustls::ServerConfig {
    use rustls::pki_types::pem::PemObject as _;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    for ca in CertificateDer::pem_file_iter(pki.ca_path()).expect("the CA file") {
        roots.add(ca.expect("the CA certificate")).expect("a root");
    }
    let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
        std::sync::Arc::new(roots),
        provider.clone(),
    )
    .build()
    .expect("a client verifier");
    let certs = CertificateDer::pem_file_iter(pki.server_cert_path())
        .expect("the server certificate file")
        .collect::<Result<Vec<_>, _>>()
        .expect("the server certificate");
    let key = PrivateKeyDer::from_pem_file(pki.server_key_path()).expect("the server key");
    rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_client_cert_verifier(verifier)
        .with_single_cert(certs, key)
        .expect("the server's certificate and key")
}
