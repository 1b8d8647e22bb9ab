//! A TCP proxy on 127.0.0.1 that forwards to a registry and injects the
//! faults a registry client must survive: error statuses (500, 503, 429
//! with `Retry-After`), connections cut in the middle of a response body,
//! slow responses, connections closed without an answer.
//!
//! On plain HTTP it reads each request and response head, so rules match a
//! method and a path, and it forwards bodies byte for byte (one request at
//! a time per connection, as HTTP/1.1 clients send them). A connection
//! that opens with a TLS handshake is relayed as opaque bytes: only rules
//! that match [`Match::any`] apply there, per connection rather than per
//! request, and [`Action::Status`] cannot (see [`Action`]). Clients told
//! not to verify TLS (skopeo's `--tls-verify=false`, ferry's too) try HTTPS
//! first and fall back to HTTP: against a plain registry that first try
//! shows up as one opaque [`Exchange`] (empty method) that got no status.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use serde_json::json;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

use super::http::{self, BodyEnd, Framing, Reader, Response, Server};
use super::{Error, IO_TIMEOUT};

/// Which requests a [`Rule`] applies to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Match {
    method: Option<String>,
    path: PathMatch,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum PathMatch {
    Any,
    Prefix(String),
    Contains(String),
}

impl Match {
    /// Every request (and every TLS connection).
    pub fn any() -> Match {
        Match {
            method: None,
            path: PathMatch::Any,
        }
    }

    /// Requests whose method is `method` (`"*"` for any) and whose target
    /// (path and query) starts with `prefix`: `Match::prefix("PUT", "/v2/demo/manifests/")`.
    pub fn prefix(method: &str, prefix: &str) -> Match {
        Match {
            method: (method != "*").then(|| method.to_string()),
            path: PathMatch::Prefix(prefix.into()),
        }
    }

    /// Requests whose method is `method` (`"*"` for any) and whose target
    /// contains `needle`: `Match::contains("GET", "/blobs/sha256:")`.
    pub fn contains(method: &str, needle: &str) -> Match {
        Match {
            method: (method != "*").then(|| method.to_string()),
            path: PathMatch::Contains(needle.into()),
        }
    }

    fn matches(&self, method: &str, target: &str) -> bool {
        self.method
            .as_deref()
            .is_none_or(|m| m.eq_ignore_ascii_case(method))
            && match &self.path {
                PathMatch::Any => true,
                PathMatch::Prefix(p) => target.starts_with(p.as_str()),
                PathMatch::Contains(n) => target.contains(n.as_str()),
            }
    }

    fn is_any(&self) -> bool {
        self.method.is_none() && self.path == PathMatch::Any
    }
}

/// What a [`Rule`] does to a request it matches.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Action {
    /// Answer with this status instead of forwarding the request (whose
    /// body is read and dropped), with a distribution-style JSON error body
    /// (`{"errors":[{"code":"UNKNOWN"|"UNAVAILABLE"|"TOOMANYREQUESTS"|…,
    /// "message":…}]}`) and, if given, `Retry-After: SECONDS`. The
    /// connection stays open. Never applies to TLS connections.
    Status {
        /// The status code.
        status: u16,
        /// Seconds for `Retry-After`.
        retry_after: Option<u64>,
    },
    /// Forward the request, then close the connection once this many bytes
    /// of the response body (as on the wire) have reached the client. Only
    /// counts as fired when a body was that long. On TLS: after this many
    /// bytes from the server, TLS records included.
    CutBody {
        /// Bytes let through before the cut.
        after: u64,
    },
    /// Hold the response (head) back this long. Delays of several matching
    /// rules add up, and combine with the other actions. On TLS: before
    /// the first byte from the server.
    Delay(Duration),
    /// Close the connection without forwarding the request or answering.
    Reset,
    /// Forward the request head and this many bytes of its body, then
    /// close both connections: an upload reset mid-stream. Only counts as
    /// fired when the body was that long. Plain HTTP only.
    CutRequest {
        /// Request body bytes let through before the cut.
        after: u64,
    },
    /// Forward the response, flipping every bit of the body byte at this
    /// offset (as on the wire): a registry sending wrong bytes for a
    /// digest. Plain HTTP only.
    Corrupt {
        /// The body offset of the byte to flip.
        at: u64,
    },
    /// Forward the response without this header (any case): a registry
    /// that does not send it. Plain HTTP only.
    DropHeader(String),
    /// Forward the response body at most `bytes` at a time with `pause`
    /// between writes: a slow trickle. Plain HTTP only.
    Trickle {
        /// Bytes per write.
        bytes: usize,
        /// The pause after each write.
        pause: Duration,
    },
}

/// One fault: which requests, what to do, how many times.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// Which requests it applies to.
    pub on: Match,
    /// What it does.
    pub action: Action,
    /// How many times it may fire; `None` for every time.
    pub times: Option<u32>,
}

impl Rule {
    /// Answer the first matching request with `status`.
    pub fn status(on: Match, status: u16) -> Rule {
        Rule {
            on,
            action: Action::Status {
                status,
                retry_after: None,
            },
            times: Some(1),
        }
    }

    /// Answer the first matching request with 429 and `Retry-After: SECONDS`.
    pub fn too_many_requests(on: Match, retry_after_secs: u64) -> Rule {
        Rule {
            on,
            action: Action::Status {
                status: 429,
                retry_after: Some(retry_after_secs),
            },
            times: Some(1),
        }
    }

    /// Cut the first matching response after `after` bytes of its body.
    pub fn cut_body(on: Match, after: u64) -> Rule {
        Rule {
            on,
            action: Action::CutBody { after },
            times: Some(1),
        }
    }

    /// Delay every matching response by `delay`.
    pub fn delay(on: Match, delay: Duration) -> Rule {
        Rule {
            on,
            action: Action::Delay(delay),
            times: None,
        }
    }

    /// Cut the first matching request's body after `after` bytes.
    pub fn cut_request(on: Match, after: u64) -> Rule {
        Rule {
            on,
            action: Action::CutRequest { after },
            times: Some(1),
        }
    }

    /// Flip the body byte at offset `at` of the first matching response.
    pub fn corrupt(on: Match, at: u64) -> Rule {
        Rule {
            on,
            action: Action::Corrupt { at },
            times: Some(1),
        }
    }

    /// Trickle every matching response body, `bytes` per `pause`.
    pub fn trickle(on: Match, bytes: usize, pause: Duration) -> Rule {
        Rule {
            on,
            action: Action::Trickle { bytes, pause },
            times: None,
        }
    }

    /// Leave header `name` out of every matching response.
    pub fn drop_header(on: Match, name: &str) -> Rule {
        Rule {
            on,
            action: Action::DropHeader(name.to_string()),
            times: None,
        }
    }

    /// Close the connection of the first matching request without an answer.
    pub fn reset(on: Match) -> Rule {
        Rule {
            on,
            action: Action::Reset,
            times: Some(1),
        }
    }

    /// Fire at most `n` times.
    pub fn times(self, n: u32) -> Rule {
        Rule {
            times: Some(n),
            ..self
        }
    }

    /// Fire every time.
    pub fn always(self) -> Rule {
        Rule {
            times: None,
            ..self
        }
    }
}

/// The faults a [`FaultProxy`] injects. For each request every matching
/// rule with firings left is considered in order: all delays apply, and the
/// first status, cut or reset does (later ones are kept for later requests).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Faults {
    /// The rules, in order; [`FaultProxy::fired`] takes an index into them.
    pub rules: Vec<Rule>,
}

impl Faults {
    /// No faults: a transparent, counting proxy.
    pub fn none() -> Faults {
        Faults::default()
    }

    /// These faults plus `rule`.
    pub fn with(mut self, rule: Rule) -> Faults {
        self.rules.push(rule);
        self
    }
}

/// One request as the proxy saw it (or one TLS connection).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Exchange {
    /// Which connection, counting from 0 in accept order.
    pub connection: usize,
    /// The method; empty for a TLS connection.
    pub method: String,
    /// Path and query as sent; empty for a TLS connection.
    pub target: String,
    /// The status the client received; `None` if it got no response head.
    pub status: Option<u16>,
    /// Response body bytes that reached the client (on TLS: all bytes).
    pub body_bytes: u64,
    /// Whether the whole response reached the client.
    pub complete: bool,
    /// The indices of the rules that fired on it.
    pub faults: Vec<usize>,
    /// The requests (indices into [`FaultProxy::exchanges`]) in flight
    /// when this one's head arrived: their heads seen, their response
    /// heads not yet passed on. A client that waits for each answer before
    /// its next request has none; one that sends independent requests at
    /// once has them side by side. A TLS connection is in flight from its
    /// start until the server's first byte is passed on (a refused TLS
    /// attempt: until the plain-HTTP answer to its handshake), and is
    /// recorded with what was in flight when it started.
    pub alongside: Vec<usize>,
}

/// A running fault proxy; stops on drop (open connections are closed).
#[derive(Debug)]
pub struct FaultProxy {
    server: Server,
    upstream: SocketAddr,
    state: Arc<State>,
}

#[derive(Debug)]
struct State {
    upstream: SocketAddr,
    rules: Vec<Rule>,
    /// Firings left per rule; `None` for unlimited.
    left: Mutex<Vec<Option<u32>>>,
    fired: Mutex<Vec<usize>>,
    exchanges: Mutex<Vec<Exchange>>,
    /// Exchanges in flight (see [`Exchange::alongside`]).
    in_flight: Mutex<Vec<usize>>,
    connections: AtomicUsize,
}

/// An exchange in flight until dropped: once its response head is passed
/// on, or its connection ends without one.
struct InFlight<'a> {
    state: &'a State,
    exchange: usize,
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        lock(&self.state.in_flight).retain(|&i| i != self.exchange);
    }
}

/// The rules that apply to one request.
#[derive(Debug, Default)]
struct Plan {
    delay: Duration,
    terminal: Option<(usize, Action)>,
    applied: Vec<usize>,
}

impl FaultProxy {
    /// Starts a proxy to `upstream`; panics (with the reason) if it cannot.
    pub fn start(upstream: SocketAddr, faults: Faults) -> FaultProxy {
        Self::try_start(upstream, faults).unwrap_or_else(|e| panic!("starting a fault proxy: {e}"))
    }

    /// Starts a proxy to `upstream` on a free 127.0.0.1 port.
    pub fn try_start(upstream: SocketAddr, faults: Faults) -> Result<FaultProxy, Error> {
        let state = Arc::new(State {
            upstream,
            left: Mutex::new(faults.rules.iter().map(|r| r.times).collect()),
            fired: Mutex::new(vec![0; faults.rules.len()]),
            rules: faults.rules,
            exchanges: Mutex::new(Vec::new()),
            in_flight: Mutex::new(Vec::new()),
            connections: AtomicUsize::new(0),
        });
        let shared = Arc::clone(&state);
        let server = Server::start("fault proxy", move |stream, _| {
            let state = Arc::clone(&shared);
            async move {
                let connection = state.connections.fetch_add(1, Ordering::SeqCst);
                let _ = relay(stream, &state, connection).await;
            }
        })?;
        Ok(FaultProxy {
            server,
            upstream,
            state,
        })
    }

    /// Its address.
    pub fn addr(&self) -> SocketAddr {
        self.server.addr()
    }

    /// `127.0.0.1:PORT`, to put in image references instead of the registry's.
    pub fn host(&self) -> String {
        self.addr().to_string()
    }

    /// Where it forwards to.
    pub fn upstream(&self) -> SocketAddr {
        self.upstream
    }

    /// Connections accepted so far.
    pub fn connections(&self) -> usize {
        self.state.connections.load(Ordering::SeqCst)
    }

    /// Every request seen so far, in arrival order.
    pub fn exchanges(&self) -> Vec<Exchange> {
        lock(&self.state.exchanges).clone()
    }

    /// How many times rule `rule` (an index into [`Faults::rules`]) fired.
    pub fn fired(&self, rule: usize) -> usize {
        lock(&self.state.fired).get(rule).copied().unwrap_or(0)
    }

    /// How many faults fired in all.
    pub fn injected(&self) -> usize {
        lock(&self.state.fired).iter().sum()
    }

    /// One plain-HTTP request through the proxy on a fresh connection.
    pub fn request(
        &self,
        method: &str,
        target: &str,
        headers: &[(&str, &str)],
    ) -> Result<Response, Error> {
        http::request(self.addr(), method, target, headers, &[], IO_TIMEOUT)
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl State {
    /// Picks (and uses up) the rules for one request; `tls` keeps only
    /// [`Match::any`] rules that make sense on opaque bytes. `body` is the
    /// request body's declared length, if it has one: a
    /// [`Action::CutRequest`] is never taken by a body too short to cut.
    /// Taken and given back instead, it would be out of reach of an upload
    /// running alongside (a config's small PUT beside a layer's PATCH),
    /// which would then go through uncut.
    fn plan(&self, method: &str, target: &str, tls: bool, body: Option<u64>) -> Plan {
        let mut left = lock(&self.left);
        let mut plan = Plan::default();
        for (i, rule) in self.rules.iter().enumerate() {
            let applicable = if tls {
                rule.on.is_any()
                    && matches!(
                        rule.action,
                        Action::CutBody { .. } | Action::Delay(_) | Action::Reset
                    )
            } else {
                rule.on.matches(method, target)
            };
            let too_short = match (&rule.action, body) {
                (Action::CutRequest { after }, Some(length)) => length <= *after,
                _ => false,
            };
            if !applicable || too_short || left[i] == Some(0) {
                continue;
            }
            let take = match &rule.action {
                Action::Delay(d) => {
                    plan.delay += *d;
                    true
                }
                action if plan.terminal.is_none() => {
                    plan.terminal = Some((i, action.clone()));
                    true
                }
                _ => false,
            };
            if take {
                if let Some(n) = &mut left[i] {
                    *n -= 1;
                }
                plan.applied.push(i);
            }
        }
        let mut fired = lock(&self.fired);
        for &i in &plan.applied {
            fired[i] += 1;
        }
        plan
    }

    /// Gives a firing back: a cut whose body was too short to cut.
    fn refund(&self, rule: usize, exchange: usize) {
        if let Some(n) = &mut lock(&self.left)[rule] {
            *n += 1;
        }
        lock(&self.fired)[rule] -= 1;
        lock(&self.exchanges)[exchange]
            .faults
            .retain(|&i| i != rule);
    }

    fn record(&self, exchange: Exchange) -> usize {
        let mut exchanges = lock(&self.exchanges);
        exchanges.push(exchange);
        exchanges.len() - 1
    }

    /// Records an exchange, in flight until the guard drops.
    fn record_in_flight(&self, mut exchange: Exchange) -> (usize, InFlight<'_>) {
        let mut in_flight = lock(&self.in_flight);
        exchange.alongside = in_flight.clone();
        let index = self.record(exchange);
        in_flight.push(index);
        (
            index,
            InFlight {
                state: self,
                exchange: index,
            },
        )
    }

    fn update(&self, exchange: usize, change: impl FnOnce(&mut Exchange)) {
        change(&mut lock(&self.exchanges)[exchange]);
    }
}

async fn relay(client: TcpStream, state: &State, connection: usize) -> std::io::Result<()> {
    let mut first = [0u8; 1];
    let n = tokio::time::timeout(IO_TIMEOUT, client.peek(&mut first))
        .await
        .map_err(|_| std::io::ErrorKind::TimedOut)??;
    if n == 0 {
        return Ok(());
    }
    let upstream = tokio::time::timeout(IO_TIMEOUT, TcpStream::connect(state.upstream))
        .await
        .map_err(|_| std::io::ErrorKind::TimedOut)??;
    // 0x16: a TLS handshake record.
    if first[0] == 0x16 {
        relay_opaque(client, upstream, state, connection).await
    } else {
        relay_http(client, upstream, state, connection).await
    }
}

async fn relay_http(
    client: TcpStream,
    upstream: TcpStream,
    state: &State,
    connection: usize,
) -> std::io::Result<()> {
    let (client_read, mut client_write) = client.into_split();
    let (upstream_read, mut upstream_write) = upstream.into_split();
    let mut client_read = Reader::new(client_read);
    let mut upstream_read = Reader::new(upstream_read);
    loop {
        let Some(request) = client_read.head().await? else {
            return Ok(());
        };
        let (method, target) = request.request_line();
        let declared = match request.request_framing() {
            Framing::None => Some(0),
            Framing::Length(n) => Some(n),
            Framing::Chunked | Framing::UntilClose => None,
        };
        let plan = state.plan(&method, &target, false, declared);
        let (exchange, flight) = state.record_in_flight(Exchange {
            connection,
            method: method.clone(),
            target,
            status: None,
            body_bytes: 0,
            complete: false,
            faults: plan.applied.clone(),
            alongside: Vec::new(),
        });
        let mut cut = None;
        let (mut corrupt_at, mut trickle, mut dropped) = (None, None, None);
        let mut cut_request = None;
        match plan.terminal {
            Some((_, Action::Reset)) => return Ok(()),
            Some((
                _,
                Action::Status {
                    status,
                    retry_after,
                },
            )) => {
                let expects_continue = request
                    .header("expect")
                    .is_some_and(|v| v.eq_ignore_ascii_case("100-continue"));
                if !expects_continue {
                    client_read
                        .body(request.request_framing(), &mut tokio::io::sink(), None)
                        .await?;
                }
                tokio::time::sleep(plan.delay).await;
                http::write_all(&mut client_write, &injected(status, retry_after)).await?;
                drop(flight);
                state.update(exchange, |e| {
                    e.status = Some(status);
                    e.complete = true;
                });
                if expects_continue || request.closes() {
                    return Ok(());
                }
                continue;
            }
            Some((rule, Action::CutBody { after })) => cut = Some((rule, after)),
            Some((_, Action::Corrupt { at })) => corrupt_at = Some(at),
            Some((_, Action::Trickle { bytes, pause })) => trickle = Some((bytes, pause)),
            Some((rule, Action::CutRequest { after })) => cut_request = Some((rule, after)),
            Some((_, Action::DropHeader(name))) => dropped = Some(name),
            _ => {}
        }

        http::write_all(&mut upstream_write, &request.raw).await?;
        let request_framing = request.request_framing();
        if let Some((rule, after)) = cut_request {
            // The upload breaks off: both connections close after `after`
            // bytes of its body, and the client gets no answer.
            let end = client_read
                .body(request_framing, &mut upstream_write, Some(after))
                .await?;
            match end {
                BodyEnd::Cut(bytes) => {
                    state.update(exchange, |e| e.body_bytes = bytes);
                    return Ok(());
                }
                BodyEnd::Complete(_) => state.refund(rule, exchange),
            }
        }
        let request_framing = if cut_request.is_some() {
            Framing::None
        } else {
            request_framing
        };
        let forward = client_read.body(request_framing, &mut upstream_write, None);
        let respond = async {
            loop {
                let Some(head) = upstream_read.head().await? else {
                    return Ok(None);
                };
                // Interim responses (100 Continue) go straight through.
                match head.status() {
                    Some(status) if (100..200).contains(&status) && status != 101 => {
                        http::write_all(&mut client_write, &head.raw).await?;
                    }
                    _ => return Ok::<_, std::io::Error>(Some(head)),
                }
            }
        };
        let (sent, response) = tokio::join!(forward, respond);
        let Some(response) = response? else {
            return Ok(());
        };
        tokio::time::sleep(plan.delay).await;
        let head = match &dropped {
            Some(name) => response.without(name),
            None => response.raw.clone(),
        };
        http::write_all(&mut client_write, &head).await?;
        drop(flight);
        state.update(exchange, |e| e.status = response.status());
        if response.status() == Some(101) {
            return Ok(());
        }
        let framing = response.response_framing(&method);
        let mut tamper = Tamper {
            inner: &mut client_write,
            written: 0,
            corrupt_at,
            trickle,
            pause: None,
        };
        let end = upstream_read
            .body(framing, &mut tamper, cut.map(|(_, after)| after))
            .await?;
        match end {
            BodyEnd::Cut(bytes) => {
                state.update(exchange, |e| e.body_bytes = bytes);
                return Ok(());
            }
            BodyEnd::Complete(bytes) => {
                if let Some((rule, _)) = cut {
                    state.refund(rule, exchange);
                }
                state.update(exchange, |e| {
                    e.body_bytes = bytes;
                    e.complete = true;
                });
            }
        }
        if sent.is_err() || request.closes() || response.closes() || framing == Framing::UntilClose
        {
            return Ok(());
        }
    }
}

/// A response body writer that flips one byte and/or trickles.
struct Tamper<'a, W> {
    inner: &'a mut W,
    written: u64,
    corrupt_at: Option<u64>,
    trickle: Option<(usize, Duration)>,
    pause: Option<std::pin::Pin<Box<tokio::time::Sleep>>>,
}

impl<W: tokio::io::AsyncWrite + Unpin> tokio::io::AsyncWrite for Tamper<'_, W> {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        use std::future::Future as _;
        let this = &mut *self;
        if let Some(pause) = &mut this.pause {
            std::task::ready!(pause.as_mut().poll(cx));
            this.pause = None;
        }
        let n = this
            .trickle
            .map_or(buf.len(), |(bytes, _)| buf.len().min(bytes.max(1)));
        let mut chunk = buf[..n].to_vec();
        if let Some(at) = this.corrupt_at
            && at >= this.written
            && at < this.written + n as u64
        {
            chunk[(at - this.written) as usize] ^= 0xff;
        }
        let written =
            std::task::ready!(std::pin::Pin::new(&mut *this.inner).poll_write(cx, &chunk))?;
        this.written += written as u64;
        if let Some((_, pause)) = this.trickle {
            this.pause = Some(Box::pin(tokio::time::sleep(pause)));
        }
        std::task::Poll::Ready(Ok(written))
    }

    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut *self.inner).poll_flush(cx)
    }

    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut *self.inner).poll_shutdown(cx)
    }
}

/// Relays a connection that is not plain HTTP (TLS) as opaque bytes.
async fn relay_opaque(
    client: TcpStream,
    upstream: TcpStream,
    state: &State,
    connection: usize,
) -> std::io::Result<()> {
    let plan = state.plan("", "", true, None);
    let (exchange, guard) = state.record_in_flight(Exchange {
        connection,
        method: String::new(),
        target: String::new(),
        status: None,
        body_bytes: 0,
        complete: false,
        faults: plan.applied.clone(),
        alongside: Vec::new(),
    });
    let mut flight = Some(guard);
    if matches!(plan.terminal, Some((_, Action::Reset))) {
        return Ok(());
    }
    let limit = match plan.terminal {
        Some((rule, Action::CutBody { after })) => Some((rule, after)),
        _ => None,
    };
    let (mut client_read, mut client_write) = client.into_split();
    let (mut upstream_read, mut upstream_write) = upstream.into_split();
    let up = async {
        let _ = tokio::io::copy(&mut client_read, &mut upstream_write).await;
        let _ = upstream_write.shutdown().await;
        // The connection ends when the server's side does.
        std::future::pending::<()>().await;
    };
    let down = async {
        let mut sent = 0u64;
        let mut buf = vec![0u8; 16 * 1024];
        let mut delayed = false;
        loop {
            let n = match upstream_read.read(&mut buf).await {
                Ok(0) | Err(_) => return (sent, false),
                Ok(n) => n,
            };
            if !delayed {
                tokio::time::sleep(plan.delay).await;
                delayed = true;
                // Answered (the server's first byte goes out now).
                flight.take();
            }
            let allowed = limit.map_or(n as u64, |(_, after)| (after - sent).min(n as u64));
            let allowed = usize::try_from(allowed).unwrap_or(n);
            if http::write_all(&mut client_write, &buf[..allowed])
                .await
                .is_err()
            {
                return (sent, false);
            }
            sent += allowed as u64;
            if limit.is_some_and(|(_, after)| sent >= after) {
                return (sent, true);
            }
        }
    };
    let (sent, was_cut) = tokio::select! {
        () = up => (0, false),
        result = down => result,
    };
    if let (Some((rule, _)), false) = (limit, was_cut) {
        state.refund(rule, exchange);
    }
    state.update(exchange, |e| {
        e.body_bytes = sent;
        e.complete = !was_cut;
    });
    Ok(())
}

/// The response an [`Action::Status`] sends, shaped like distribution's.
fn injected(status: u16, retry_after: Option<u64>) -> Vec<u8> {
    let code = match status {
        // What distribution says of a manifest naming a blob it does not
        // know (the one 400 a client may retry).
        400 => "MANIFEST_BLOB_UNKNOWN",
        401 => "UNAUTHORIZED",
        403 => "DENIED",
        404 => "NAME_UNKNOWN",
        429 => "TOOMANYREQUESTS",
        503 => "UNAVAILABLE",
        _ => "UNKNOWN",
    };
    let body = json!({ "errors": [{
        "code": code,
        "message": format!("injected by ferry's fault proxy (HTTP {status})"),
        "detail": null,
    }]})
    .to_string();
    let mut headers = vec![
        (
            "Content-Type",
            "application/json; charset=utf-8".to_string(),
        ),
        (
            "Docker-Distribution-Api-Version",
            "registry/2.0".to_string(),
        ),
    ];
    if let Some(secs) = retry_after {
        headers.push(("Retry-After", secs.to_string()));
    }
    http::response(status, &headers, body.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(rules: Vec<Rule>) -> State {
        State {
            upstream: SocketAddr::from(([127, 0, 0, 1], 9)),
            left: Mutex::new(rules.iter().map(|r| r.times).collect()),
            fired: Mutex::new(vec![0; rules.len()]),
            rules,
            exchanges: Mutex::new(Vec::new()),
            in_flight: Mutex::new(Vec::new()),
            connections: AtomicUsize::new(0),
        }
    }

    #[test]
    fn a_once_rule_fires_once_and_delays_add_up() {
        let state = state(vec![
            Rule::delay(Match::any(), Duration::from_millis(5)),
            Rule::status(Match::prefix("GET", "/v2/"), 500),
            Rule::delay(Match::contains("*", "blobs"), Duration::from_millis(7)),
            Rule::status(Match::any(), 503),
        ]);
        let first = state.plan("GET", "/v2/x/blobs/sha256:1", false, Some(0));
        assert_eq!(first.delay, Duration::from_millis(12));
        assert_eq!(first.applied, [0, 1, 2]);
        let second = state.plan("GET", "/v2/x/blobs/sha256:1", false, Some(0));
        assert!(matches!(
            second.terminal,
            Some((3, Action::Status { status: 503, .. }))
        ));
        let third = state.plan("get", "/v2/", false, Some(0));
        assert!(third.terminal.is_none());
        assert_eq!(*lock(&state.fired), [3, 1, 2, 1]);
    }

    #[test]
    fn an_upload_cut_is_kept_for_a_body_long_enough_to_cut() {
        let state = state(vec![Rule::cut_request(
            Match::contains("*", "/blobs/uploads/"),
            1000,
        )]);
        let post = state.plan("POST", "/v2/r/blobs/uploads/", false, Some(0));
        let config = state.plan("PUT", "/v2/r/blobs/uploads/1?digest=x", false, Some(1000));
        assert!(post.terminal.is_none() && config.terminal.is_none());
        let layer = state.plan("PATCH", "/v2/r/blobs/uploads/2", false, None);
        assert!(matches!(
            layer.terminal,
            Some((0, Action::CutRequest { after: 1000 }))
        ));
        let again = state.plan("PATCH", "/v2/r/blobs/uploads/3", false, Some(5000));
        assert!(again.terminal.is_none(), "the cut fires once");
        assert_eq!(*lock(&state.fired), [1]);
    }

    #[test]
    fn tls_connections_see_only_rules_for_any_request() {
        let state = state(vec![
            Rule::status(Match::any(), 500),
            Rule::cut_body(Match::prefix("GET", "/v2/"), 10),
            Rule::cut_body(Match::any(), 10),
        ]);
        let plan = state.plan("", "", true, None);
        assert!(matches!(
            plan.terminal,
            Some((2, Action::CutBody { after: 10 }))
        ));
    }
}
