//! Just enough HTTP/1.1 for the harness: message heads, body framing
//! (`Content-Length`, `chunked`, until close) for the token server and the
//! proxy, and a blocking one-shot client for probes and assertions.
//!
//! Bodies are forwarded as they are on the wire, chunk framing included,
//! so the proxy changes nothing it does not mean to.

use std::future::Future;
use std::io::{self, Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::thread::JoinHandle;

use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _};
use tokio::sync::oneshot;

use super::{Error, IO_TIMEOUT};

/// A TCP server of the harness: a listener on a free 127.0.0.1 port,
/// served by a single-threaded tokio runtime on a thread of its own, one
/// task per connection. Dropping it stops the runtime, which drops every
/// connection, and waits for the thread.
#[derive(Debug)]
pub(crate) struct Server {
    addr: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Server {
    /// Binds 127.0.0.1:0 and serves each connection with `handler`.
    pub fn start<F, Fut>(name: &str, handler: F) -> Result<Server, Error>
    where
        F: Fn(tokio::net::TcpStream, SocketAddr) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let listener = std::net::TcpListener::bind("127.0.0.1:0")
            .map_err(Error::io(format!("binding a port for the {name}")))?;
        listener
            .set_nonblocking(true)
            .map_err(Error::io(format!("configuring the {name}'s listener")))?;
        let addr = listener
            .local_addr()
            .map_err(Error::io(format!("reading the {name}'s address")))?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(Error::io(format!("starting the {name}'s runtime")))?;
        let (shutdown, stopped) = oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name(format!("ferry-{name}"))
            .spawn(move || {
                runtime.block_on(async move {
                    let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
                        return;
                    };
                    let accept = async {
                        loop {
                            match listener.accept().await {
                                Ok((stream, peer)) => {
                                    tokio::spawn(handler(stream, peer));
                                }
                                // Out of descriptors and the like: let it pass.
                                Err(_) => {
                                    tokio::time::sleep(std::time::Duration::from_millis(10)).await
                                }
                            }
                        }
                    };
                    tokio::select! {
                        _ = stopped => {}
                        () = accept => {}
                    }
                });
                // Dropping the runtime here cancels every connection task.
            })
            .map_err(Error::io(format!("starting the {name}'s thread")))?;
        Ok(Server {
            addr,
            shutdown: Some(shutdown),
            thread: Some(thread),
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The largest message head accepted (request or status line plus headers).
const MAX_HEAD: usize = 64 * 1024;

/// How a message's body is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Framing {
    /// No body at all.
    None,
    /// Exactly this many bytes.
    Length(u64),
    /// `Transfer-Encoding: chunked`.
    Chunked,
    /// Everything until the sender closes the connection.
    UntilClose,
}

/// How forwarding a body ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BodyEnd {
    /// The whole body went through; this many bytes.
    Complete(u64),
    /// The limit was reached: exactly this many bytes went through.
    Cut(u64),
}

/// A request or response head as read from the wire.
#[derive(Debug, Clone)]
pub(crate) struct Head {
    /// The bytes exactly as received, final empty line included.
    pub raw: Vec<u8>,
    /// The request line or status line.
    pub start: String,
    /// Every header, in order, names as sent.
    pub headers: Vec<(String, String)>,
}

impl Head {
    fn parse(raw: Vec<u8>) -> io::Result<Head> {
        let text = String::from_utf8_lossy(&raw).into_owned();
        let mut lines = text.split("\r\n");
        let start = lines.next().unwrap_or_default().to_string();
        if start.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "empty start line",
            ));
        }
        let headers = lines
            .filter(|l| !l.is_empty())
            .filter_map(|l| l.split_once(':'))
            .map(|(n, v)| (n.trim().to_string(), v.trim().to_string()))
            .collect();
        Ok(Head {
            raw,
            start,
            headers,
        })
    }

    /// The head as received, without the headers named `name` (any case).
    pub fn without(&self, name: &str) -> Vec<u8> {
        let text = String::from_utf8_lossy(&self.raw);
        text.split_inclusive("\r\n")
            .filter(|line| {
                line.split_once(':')
                    .is_none_or(|(n, _)| !n.trim().eq_ignore_ascii_case(name))
            })
            .collect::<String>()
            .into_bytes()
    }

    /// The first header of that name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Method and target of a request line.
    pub fn request_line(&self) -> (String, String) {
        let mut parts = self.start.split(' ');
        let method = parts.next().unwrap_or_default().to_string();
        let target = parts.next().unwrap_or_default().to_string();
        (method, target)
    }

    /// The status code of a status line.
    pub fn status(&self) -> Option<u16> {
        self.start.split(' ').nth(1)?.parse().ok()
    }

    fn chunked(&self) -> bool {
        self.header("transfer-encoding")
            .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"))
    }

    fn content_length(&self) -> Option<u64> {
        self.header("content-length")?.parse().ok()
    }

    /// How the body of this request is delimited.
    pub fn request_framing(&self) -> Framing {
        if self.chunked() {
            Framing::Chunked
        } else {
            match self.content_length() {
                Some(0) | None => Framing::None,
                Some(n) => Framing::Length(n),
            }
        }
    }

    /// How the body of this response to a `method` request is delimited.
    pub fn response_framing(&self, method: &str) -> Framing {
        let status = self.status().unwrap_or(0);
        if method.eq_ignore_ascii_case("HEAD")
            || (100..200).contains(&status)
            || status == 204
            || status == 304
        {
            Framing::None
        } else if self.chunked() {
            Framing::Chunked
        } else {
            match self.content_length() {
                Some(0) => Framing::None,
                Some(n) => Framing::Length(n),
                None => Framing::UntilClose,
            }
        }
    }

    /// Whether the sender closes the connection after this message.
    pub fn closes(&self) -> bool {
        let connection = self
            .header("connection")
            .map(str::to_ascii_lowercase)
            .unwrap_or_default();
        connection.contains("close")
            || (self.start.contains("HTTP/1.0") && !connection.contains("keep-alive"))
    }
}

/// A buffered reader of HTTP messages over one direction of a connection.
#[derive(Debug)]
pub(crate) struct Reader<R> {
    inner: R,
    buf: Vec<u8>,
}

impl<R: AsyncRead + Unpin> Reader<R> {
    pub fn new(inner: R) -> Self {
        Reader {
            inner,
            buf: Vec::new(),
        }
    }

    /// Reads more bytes into the buffer; 0 at end of stream.
    async fn fill(&mut self) -> io::Result<usize> {
        let mut chunk = [0u8; 16 * 1024];
        let n = tokio::time::timeout(IO_TIMEOUT, self.inner.read(&mut chunk))
            .await
            .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "read timed out"))??;
        self.buf.extend_from_slice(&chunk[..n]);
        Ok(n)
    }

    /// The next message head, or `None` if the stream ends cleanly first.
    pub async fn head(&mut self) -> io::Result<Option<Head>> {
        loop {
            if let Some(end) = find(&self.buf, b"\r\n\r\n") {
                let raw: Vec<u8> = self.buf.drain(..end + 4).collect();
                return Head::parse(raw).map(Some);
            }
            if self.buf.len() > MAX_HEAD {
                return Err(io::Error::new(io::ErrorKind::InvalidData, "head too large"));
            }
            if self.fill().await? == 0 {
                return if self.buf.is_empty() {
                    Ok(None)
                } else {
                    Err(io::ErrorKind::UnexpectedEof.into())
                };
            }
        }
    }

    /// One line, CRLF included.
    async fn line(&mut self) -> io::Result<Vec<u8>> {
        loop {
            if let Some(end) = find(&self.buf, b"\r\n") {
                return Ok(self.buf.drain(..end + 2).collect());
            }
            if self.buf.len() > MAX_HEAD {
                return Err(io::Error::new(io::ErrorKind::InvalidData, "line too long"));
            }
            if self.fill().await? == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
        }
    }

    /// Moves exactly `n` bytes to `out`.
    async fn exact<W: AsyncWrite + Unpin>(
        &mut self,
        mut n: u64,
        out: &mut Out<'_, W>,
    ) -> io::Result<bool> {
        while n > 0 {
            if self.buf.is_empty() && self.fill().await? == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
            let take = self.buf.len().min(usize::try_from(n).unwrap_or(usize::MAX));
            let piece: Vec<u8> = self.buf.drain(..take).collect();
            if out.put(&piece).await? {
                return Ok(true);
            }
            n -= take as u64;
        }
        Ok(false)
    }

    /// Forwards one body to `out`, stopping after `limit` bytes if given.
    pub async fn body<W: AsyncWrite + Unpin>(
        &mut self,
        framing: Framing,
        out: &mut W,
        limit: Option<u64>,
    ) -> io::Result<BodyEnd> {
        let mut out = Out {
            w: out,
            sent: 0,
            limit,
        };
        let cut = match framing {
            Framing::None => false,
            Framing::Length(n) => self.exact(n, &mut out).await?,
            Framing::Chunked => self.chunks(&mut out).await?,
            Framing::UntilClose => loop {
                if self.buf.is_empty() && self.fill().await? == 0 {
                    break false;
                }
                let piece = std::mem::take(&mut self.buf);
                if out.put(&piece).await? {
                    break true;
                }
            },
        };
        out.w.flush().await?;
        Ok(if cut {
            BodyEnd::Cut(out.sent)
        } else {
            BodyEnd::Complete(out.sent)
        })
    }

    async fn chunks<W: AsyncWrite + Unpin>(&mut self, out: &mut Out<'_, W>) -> io::Result<bool> {
        loop {
            let line = self.line().await?;
            if out.put(&line).await? {
                return Ok(true);
            }
            let text = String::from_utf8_lossy(&line);
            let hex = text.trim().split(';').next().unwrap_or_default().trim();
            let size = u64::from_str_radix(hex, 16)
                .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "bad chunk size"))?;
            if size == 0 {
                // Trailers, up to the empty line.
                loop {
                    let line = self.line().await?;
                    if out.put(&line).await? {
                        return Ok(true);
                    }
                    if line == b"\r\n" {
                        return Ok(false);
                    }
                }
            }
            if self.exact(size + 2, out).await? {
                return Ok(true);
            }
        }
    }
}

/// A body's destination, counting bytes and stopping at a limit.
struct Out<'a, W> {
    w: &'a mut W,
    sent: u64,
    limit: Option<u64>,
}

impl<W: AsyncWrite + Unpin> Out<'_, W> {
    /// Writes `data`, or as much of it as the limit allows; true once the
    /// limit is reached.
    async fn put(&mut self, data: &[u8]) -> io::Result<bool> {
        let allowed = match self.limit {
            Some(limit) => usize::try_from(limit - self.sent)
                .unwrap_or(usize::MAX)
                .min(data.len()),
            None => data.len(),
        };
        write_all(self.w, &data[..allowed]).await?;
        self.sent += allowed as u64;
        Ok(self.limit.is_some_and(|limit| self.sent >= limit))
    }
}

/// `write_all` with the harness's timeout.
pub(crate) async fn write_all<W: AsyncWrite + Unpin>(w: &mut W, data: &[u8]) -> io::Result<()> {
    tokio::time::timeout(IO_TIMEOUT, w.write_all(data))
        .await
        .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "write timed out"))?
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// A complete response with a JSON or text body, as the token server and
/// the proxy's injected faults send it.
pub(crate) fn response(status: u16, headers: &[(&str, String)], body: &[u8]) -> Vec<u8> {
    let mut out = format!("HTTP/1.1 {status} {}\r\n", reason(status));
    for (name, value) in headers {
        out.push_str(&format!("{name}: {value}\r\n"));
    }
    out.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    let mut out = out.into_bytes();
    out.extend_from_slice(body);
    out
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Status",
    }
}

/// A response read by [`Registry::request`](super::Registry::request) or
/// [`FaultProxy::request`](super::FaultProxy::request).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// Every header, in order, names as sent.
    pub headers: Vec<(String, String)>,
    /// The body, chunked encoding removed.
    pub body: Vec<u8>,
}

impl Response {
    /// The first header of that name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Every header of that name (case-insensitive), in order.
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// The body as text (lossy).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// One plain-HTTP request on a fresh connection (`Connection: close`),
/// read to the end. A body gets a `Content-Length`.
pub(crate) fn request(
    addr: SocketAddr,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    body: &[u8],
    timeout: std::time::Duration,
) -> Result<Response, Error> {
    let peer = addr.to_string();
    let io_err = |what: &str| Error::io(format!("{what} {method} {target} at {peer}"));
    let mut stream =
        TcpStream::connect_timeout(&addr, timeout).map_err(io_err("connecting for"))?;
    stream
        .set_read_timeout(Some(timeout))
        .and_then(|()| stream.set_write_timeout(Some(timeout)))
        .map_err(io_err("configuring the socket for"))?;
    let mut head = format!("{method} {target} HTTP/1.1\r\nHost: {peer}\r\nConnection: close\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    if !body.is_empty() || matches!(method, "PUT" | "POST" | "PATCH") {
        head.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    head.push_str("\r\n");
    stream
        .write_all(head.as_bytes())
        .and_then(|()| stream.write_all(body))
        .map_err(io_err("sending"))?;
    let mut raw = Vec::new();
    stream
        .read_to_end(&mut raw)
        .map_err(io_err("reading the response to"))?;
    parse_response(&raw, method).map_err(|detail| Error::Http { peer, detail })
}

fn parse_response(raw: &[u8], method: &str) -> Result<Response, String> {
    let end =
        find(raw, b"\r\n\r\n").ok_or_else(|| format!("no complete head in {} bytes", raw.len()))?;
    let head = Head::parse(raw[..end + 4].to_vec()).map_err(|e| e.to_string())?;
    let status = head
        .status()
        .ok_or_else(|| format!("bad status line {:?}", head.start))?;
    let rest = &raw[end + 4..];
    let body = match head.response_framing(method) {
        Framing::None => Vec::new(),
        Framing::Length(n) => {
            let n = usize::try_from(n).map_err(|e| e.to_string())?;
            if rest.len() < n {
                return Err(format!("body cut at {} of {n} bytes", rest.len()));
            }
            rest[..n].to_vec()
        }
        Framing::UntilClose => rest.to_vec(),
        Framing::Chunked => dechunk(rest)?,
    };
    Ok(Response {
        status,
        headers: head.headers,
        body,
    })
}

fn dechunk(mut rest: &[u8]) -> Result<Vec<u8>, String> {
    let mut body = Vec::new();
    loop {
        let end = find(rest, b"\r\n").ok_or("chunk size line cut")?;
        let line = String::from_utf8_lossy(&rest[..end]);
        let hex = line.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(hex, 16).map_err(|_| format!("bad chunk size {hex:?}"))?;
        rest = &rest[end + 2..];
        if size == 0 {
            return Ok(body);
        }
        if rest.len() < size + 2 {
            return Err("chunk cut".into());
        }
        body.extend_from_slice(&rest[..size]);
        rest = &rest[size + 2..];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_chunked_response() {
        let raw = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;x=y\r\nde\r\n0\r\n\r\n";
        let response = parse_response(raw, "GET").unwrap();
        assert_eq!(response.body, b"abcde");
    }

    #[test]
    fn head_responses_have_no_body_whatever_their_length() {
        let head = Head::parse(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n".to_vec()).unwrap();
        assert_eq!(head.response_framing("HEAD"), Framing::None);
        assert_eq!(head.response_framing("GET"), Framing::Length(10));
    }

    #[tokio::test]
    async fn forwards_chunked_bodies_byte_for_byte_and_cuts_at_the_limit() {
        let wire = b"3\r\nabc\r\n0\r\n\r\nNEXT".to_vec();
        let mut reader = Reader::new(wire.as_slice());
        let mut out = Vec::new();
        let end = reader.body(Framing::Chunked, &mut out, None).await.unwrap();
        assert_eq!(end, BodyEnd::Complete(13));
        assert_eq!(out, b"3\r\nabc\r\n0\r\n\r\n");
        assert_eq!(reader.buf, b"NEXT");

        let mut reader = Reader::new(wire.as_slice());
        let mut out = Vec::new();
        let end = reader
            .body(Framing::Chunked, &mut out, Some(5))
            .await
            .unwrap();
        assert_eq!(end, BodyEnd::Cut(5));
        assert_eq!(out, b"3\r\nab");
    }
}
