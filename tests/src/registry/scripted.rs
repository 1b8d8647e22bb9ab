//! A scripted HTTP server on 127.0.0.1: every request is answered by a
//! closure, and every request is recorded with its headers. It plays the
//! parts a real registry will not: a hostile registry (lying headers,
//! endless bodies, redirects elsewhere), a second host that records
//! whether credentials followed a redirect, a token server that grants too
//! little, a static lookaside signature server.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::io::AsyncWriteExt as _;

use super::Error;
use super::http::{self, Reader, Server};

/// A request as the server received it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    /// The method.
    pub method: String,
    /// Path and query.
    pub target: String,
    /// Every header, names as sent.
    pub headers: Vec<(String, String)>,
    /// How many bytes of body came with it.
    pub body_bytes: u64,
    /// The body's first [`KEPT_BODY`] bytes.
    pub body: Vec<u8>,
}

/// How much of each request body [`Seen`] keeps.
pub const KEPT_BODY: usize = 64 * 1024;

impl Seen {
    /// The first header of that name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The path without the query.
    pub fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or_default()
    }
}

/// How a [`Reply`]'s body is sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body {
    /// These bytes, with a matching `Content-Length`.
    Bytes(Vec<u8>),
    /// `Content-Length: declared`, then these bytes (longer or shorter),
    /// then the connection closes.
    Lying { declared: u64, bytes: Vec<u8> },
    /// Chunked, without end: the byte `fill` for as long as the client
    /// reads, up to `cap` bytes (a bound so a broken client cannot hold a
    /// test for ever).
    Endless { fill: u8, cap: u64 },
}

/// An answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Body,
}

impl Reply {
    /// `status` with an empty body.
    pub fn status(status: u16) -> Reply {
        Reply {
            status,
            headers: Vec::new(),
            body: Body::Bytes(Vec::new()),
        }
    }

    /// 200 with these bytes.
    pub fn ok(bytes: impl Into<Vec<u8>>) -> Reply {
        Reply::status(200).with_body(Body::Bytes(bytes.into()))
    }

    /// 404 with a distribution-style error body.
    pub fn not_found() -> Reply {
        Reply::status(404)
            .header("Content-Type", "application/json")
            .with_body(Body::Bytes(
                br#"{"errors":[{"code":"NOT_FOUND","message":"not found"}]}"#.to_vec(),
            ))
    }

    /// `302 Found` to `location`.
    pub fn redirect(location: &str) -> Reply {
        Reply::status(302).header("Location", location)
    }

    /// This plus a header.
    pub fn header(mut self, name: &str, value: &str) -> Reply {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// This with another body.
    pub fn with_body(mut self, body: Body) -> Reply {
        self.body = body;
        self
    }
}

type Handler = dyn Fn(&Seen) -> Reply + Send + Sync;

/// A running scripted server; stops on drop.
pub struct ScriptedServer {
    server: Server,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl std::fmt::Debug for ScriptedServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScriptedServer")
            .field("addr", &self.server.addr())
            .finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl ScriptedServer {
    /// Starts a server answering with `handler`; panics if it cannot.
    pub fn start(handler: impl Fn(&Seen) -> Reply + Send + Sync + 'static) -> ScriptedServer {
        Self::try_start(handler).unwrap_or_else(|e| panic!("starting a scripted server: {e}"))
    }

    /// Starts a server answering with `handler` on a free loopback port.
    pub fn try_start(
        handler: impl Fn(&Seen) -> Reply + Send + Sync + 'static,
    ) -> Result<ScriptedServer, Error> {
        let handler: Arc<Handler> = Arc::new(handler);
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = Arc::clone(&seen);
        let server = Server::start("scripted server", move |stream, _| {
            let handler = Arc::clone(&handler);
            let log = Arc::clone(&log);
            async move {
                let _ = serve(stream, &*handler, &log).await;
            }
        })?;
        Ok(ScriptedServer { server, seen })
    }

    /// Its address.
    pub fn addr(&self) -> SocketAddr {
        self.server.addr()
    }

    /// `127.0.0.1:PORT`.
    pub fn host(&self) -> String {
        self.addr().to_string()
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr())
    }

    /// Every request so far, in arrival order.
    pub fn requests(&self) -> Vec<Seen> {
        lock(&self.seen).clone()
    }
}

async fn serve(
    stream: tokio::net::TcpStream,
    handler: &Handler,
    log: &Mutex<Vec<Seen>>,
) -> std::io::Result<()> {
    // Clients told not to verify TLS try HTTPS first: close on a TLS
    // handshake (0x16) so they fall back to plain HTTP at once.
    let mut first = [0u8; 1];
    if stream.peek(&mut first).await? == 0 || first[0] == 0x16 {
        return Ok(());
    }
    let (read, mut write) = stream.into_split();
    let mut reader = Reader::new(read);
    loop {
        let Some(head) = reader.head().await? else {
            return Ok(());
        };
        let (method, target) = head.request_line();
        let expects_continue = head
            .header("expect")
            .is_some_and(|v| v.eq_ignore_ascii_case("100-continue"));
        if expects_continue {
            http::write_all(&mut write, b"HTTP/1.1 100 Continue\r\n\r\n").await?;
        }
        let mut body = Vec::new();
        let received = {
            let mut kept = Keep(&mut body);
            match reader.body(head.request_framing(), &mut kept, None).await? {
                http::BodyEnd::Complete(n) | http::BodyEnd::Cut(n) => n,
            }
        };
        let seen = Seen {
            method: method.clone(),
            target,
            headers: head.headers.clone(),
            body_bytes: received,
            body,
        };
        lock(log).push(seen.clone());
        let reply = handler(&seen);
        let mut out = format!("HTTP/1.1 {} Scripted\r\n", reply.status);
        for (name, value) in &reply.headers {
            out.push_str(&format!("{name}: {value}\r\n"));
        }
        match &reply.body {
            Body::Bytes(bytes) => {
                out.push_str(&format!("Content-Length: {}\r\n\r\n", bytes.len()));
                http::write_all(&mut write, out.as_bytes()).await?;
                if method != "HEAD" {
                    http::write_all(&mut write, bytes).await?;
                }
            }
            Body::Lying { declared, bytes } => {
                out.push_str(&format!(
                    "Content-Length: {declared}\r\nConnection: close\r\n\r\n"
                ));
                http::write_all(&mut write, out.as_bytes()).await?;
                if method != "HEAD" {
                    let _ = http::write_all(&mut write, bytes).await;
                }
                let _ = write.shutdown().await;
                return Ok(());
            }
            Body::Endless { fill, cap } => {
                out.push_str("Transfer-Encoding: chunked\r\n\r\n");
                http::write_all(&mut write, out.as_bytes()).await?;
                let chunk = vec![*fill; 64 * 1024];
                let mut framed = format!("{:x}\r\n", chunk.len()).into_bytes();
                framed.extend_from_slice(&chunk);
                framed.extend_from_slice(b"\r\n");
                let mut sent = 0u64;
                while sent < *cap {
                    if write.write_all(&framed).await.is_err() {
                        return Ok(());
                    }
                    sent += chunk.len() as u64;
                }
                let _ = write.shutdown().await;
                return Ok(());
            }
        }
    }
}

/// A writer that keeps the first [`KEPT_BODY`] bytes and drops the rest.
struct Keep<'a>(&'a mut Vec<u8>);

impl tokio::io::AsyncWrite for Keep<'_> {
    fn poll_write(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        let room = KEPT_BODY.saturating_sub(this.0.len()).min(buf.len());
        this.0.extend_from_slice(&buf[..room]);
        std::task::Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn poll_shutdown(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }
}
