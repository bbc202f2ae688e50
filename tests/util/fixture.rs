//! A fixture web server for crawler tests, on 127.0.0.1 with OS-assigned ports. It records every
//! request (path and query, with the instant it arrived) and misbehaves on purpose when a test asks.
//!
//! Pages are served by axum from a closure that maps a request to a [`Reply`]. Bodies that must be
//! produced over time (a 50 MB body in chunks, a slow drip) come from a second, hand-written
//! HTTP/1.1 server on its own port ([`Fixture::raw_url`]): the root package has no `Stream`
//! implementation to give axum's `Body::from_stream` (that would need `futures-util` as a
//! dev-dependency).

use std::collections::HashMap;
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::Response;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// Size of the body served at `/huge` by the raw server.
pub const HUGE_BYTES: usize = 50 * 1024 * 1024;
/// Chunk written at a time for `/huge`.
const HUGE_CHUNK: usize = 64 * 1024;
/// Pause between the bytes of `/drip`.
pub const DRIP_EVERY: Duration = Duration::from_millis(300);
/// Bytes `/drip` announces and sends, one per `DRIP_EVERY`.
const DRIP_BYTES: usize = 40;

/// One request the fixture received.
#[derive(Debug, Clone)]
pub struct Hit {
    /// Which server received it: [`Fixture::port`] (pages) or [`Fixture::raw_port`].
    pub port: u16,
    /// Path and query as requested, e.g. `/s/lokerln?before=6`.
    pub target: String,
    pub at: Instant,
}

/// What the page server is asked, for the closure that answers it.
#[derive(Debug, Clone)]
pub struct Req {
    pub path: String,
    pub query: Option<String>,
    /// How many requests for this same target came before this one.
    pub nth: usize,
    /// Port of the page server (for absolute links, e.g. to `localhost:<port>`).
    pub port: u16,
    /// Port of the raw server.
    pub raw_port: u16,
}

impl Req {
    /// Value of a query parameter.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.query
            .as_deref()?
            .split('&')
            .filter_map(|kv| kv.split_once('='))
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v)
    }
}

/// A response of the page server.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Reply {
    /// 200, `text/html; charset=utf-8`.
    pub fn html(body: impl Into<String>) -> Reply {
        Reply::bytes("text/html; charset=utf-8", body.into().into_bytes())
    }

    /// 200, `text/plain` (robots.txt).
    pub fn text(body: impl Into<String>) -> Reply {
        Reply::bytes("text/plain", body.into().into_bytes())
    }

    /// 200 with these exact bytes and Content-Type (for charsets and invalid UTF-8).
    pub fn bytes(content_type: &str, body: impl Into<Vec<u8>>) -> Reply {
        Reply {
            status: 200,
            headers: vec![("content-type".into(), content_type.into())],
            body: body.into(),
        }
    }

    /// An empty body with this status.
    pub fn status(status: u16) -> Reply {
        Reply {
            status,
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    pub fn not_found() -> Reply {
        Reply::status(404)
    }

    /// 302 to `location`.
    pub fn redirect(location: impl Into<String>) -> Reply {
        Reply::status(302).with_header("location", location)
    }

    pub fn with_header(mut self, name: &str, value: impl Into<String>) -> Reply {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// A gzip bomb: `Content-Encoding: gzip`, a body of a few kilobytes that inflates to
    /// `inflated` zero bytes.
    pub fn gzip_bomb(inflated: usize) -> Reply {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        let zeros = [0u8; 64 * 1024];
        let mut left = inflated;
        while left > 0 {
            let n = left.min(zeros.len());
            gz.write_all(&zeros[..n]).expect("gzip into memory");
            left -= n;
        }
        let body = gz.finish().expect("gzip into memory");
        Reply::bytes("text/html", body).with_header("content-encoding", "gzip")
    }
}

type Site = dyn Fn(&Req) -> Reply + Send + Sync;

struct Shared {
    site: Box<Site>,
    hits: Mutex<Vec<Hit>>,
    port: u16,
    raw_port: u16,
}

impl Shared {
    /// Records a request; returns how many requests for the same target (on the same port) came
    /// before it.
    fn record(&self, port: u16, target: &str) -> usize {
        let mut hits = self.hits.lock().expect("hit log lock");
        let nth = hits
            .iter()
            .filter(|h| h.port == port && h.target == target)
            .count();
        hits.push(Hit {
            port,
            target: target.to_string(),
            at: Instant::now(),
        });
        nth
    }
}

/// A running fixture: a page server and a raw server, both on 127.0.0.1. Stops when dropped.
pub struct Fixture {
    shared: Arc<Shared>,
    tasks: Vec<JoinHandle<()>>,
}

impl Fixture {
    /// Starts both servers; `site` answers every request to the page server (robots.txt too).
    ///
    /// The raw server answers `/huge` (a [`HUGE_BYTES`] body, written in chunks), `/drip` (one
    /// byte per [`DRIP_EVERY`]) and 404 to anything else.
    pub async fn start(site: impl Fn(&Req) -> Reply + Send + Sync + 'static) -> Fixture {
        let pages = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the fixture page server");
        let raw = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the fixture raw server");
        let shared = Arc::new(Shared {
            site: Box::new(site),
            hits: Mutex::default(),
            port: pages.local_addr().expect("bound address").port(),
            raw_port: raw.local_addr().expect("bound address").port(),
        });
        let app = Router::new().fallback(page).with_state(shared.clone());
        let serve = tokio::spawn(async move {
            let _ = axum::serve(pages, app).await;
        });
        let raw_shared = shared.clone();
        let raw_task = tokio::spawn(async move {
            while let Ok((stream, _)) = raw.accept().await {
                tokio::spawn(raw_connection(raw_shared.clone(), stream));
            }
        });
        Fixture {
            shared,
            tasks: vec![serve, raw_task],
        }
    }

    pub fn port(&self) -> u16 {
        self.shared.port
    }

    /// `http://127.0.0.1:<port><target>` on the page server.
    pub fn url(&self, target: &str) -> String {
        format!("http://127.0.0.1:{}{target}", self.shared.port)
    }

    /// `http://127.0.0.1:<raw_port><target>` on the raw server.
    pub fn raw_url(&self, target: &str) -> String {
        format!("http://127.0.0.1:{}{target}", self.shared.raw_port)
    }

    /// Every request both servers received, in order of arrival.
    pub fn hits(&self) -> Vec<Hit> {
        self.shared.hits.lock().expect("hit log lock").clone()
    }

    /// Requests the page server received for exactly this path and query.
    pub fn count(&self, target: &str) -> usize {
        self.hits_on_pages()
            .iter()
            .filter(|h| h.target == target)
            .count()
    }

    /// Requests the page server received, in order of arrival.
    pub fn hits_on_pages(&self) -> Vec<Hit> {
        let port = self.shared.port;
        self.hits().into_iter().filter(|h| h.port == port).collect()
    }

    /// Requests the raw server received for exactly this path and query.
    pub fn raw_count(&self, target: &str) -> usize {
        let port = self.shared.raw_port;
        self.hits()
            .iter()
            .filter(|h| h.port == port && h.target == target)
            .count()
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

async fn page(State(shared): State<Arc<Shared>>, req: Request) -> Response {
    let target = req
        .uri()
        .path_and_query()
        .map(|pq| pq.as_str().to_string())
        .unwrap_or_else(|| req.uri().path().to_string());
    let nth = shared.record(shared.port, &target);
    let reply = (shared.site)(&Req {
        path: req.uri().path().to_string(),
        query: req.uri().query().map(str::to_string),
        nth,
        port: shared.port,
        raw_port: shared.raw_port,
    });
    let mut response = Response::new(Body::from(reply.body));
    *response.status_mut() = StatusCode::from_u16(reply.status).expect("valid status");
    for (name, value) in reply.headers {
        response.headers_mut().append(
            HeaderName::try_from(name).expect("valid header name"),
            HeaderValue::try_from(value).expect("valid header value"),
        );
    }
    response
}

/// One connection of the raw server: reads one request head, answers it, closes.
async fn raw_connection(shared: Arc<Shared>, mut stream: TcpStream) {
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
        if head.len() > 16 * 1024 {
            return;
        }
    }
    let head = String::from_utf8_lossy(&head);
    let Some(target) = head.split_whitespace().nth(1) else {
        return;
    };
    shared.record(shared.raw_port, target);
    let path = target.split('?').next().unwrap_or_default();
    let _ = match path {
        "/huge" => huge(&mut stream).await,
        "/drip" => drip(&mut stream).await,
        _ => {
            stream
                .write_all(
                    b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
                )
                .await
        }
    };
    let _ = stream.shutdown().await;
}

/// A `HUGE_BYTES` HTML body written a chunk at a time from one small buffer, until the client
/// hangs up.
async fn huge(stream: &mut TcpStream) -> std::io::Result<()> {
    let head = format!(
        "HTTP/1.1 200 OK\r\ncontent-type: text/html\r\ncontent-length: {HUGE_BYTES}\r\nconnection: close\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await?;
    let chunk = [b'a'; HUGE_CHUNK];
    for _ in 0..HUGE_BYTES / HUGE_CHUNK {
        stream.write_all(&chunk).await?;
    }
    Ok(())
}

/// A short HTML body sent one byte per `DRIP_EVERY`.
async fn drip(stream: &mut TcpStream) -> std::io::Result<()> {
    let head = format!(
        "HTTP/1.1 200 OK\r\ncontent-type: text/html\r\ncontent-length: {DRIP_BYTES}\r\nconnection: close\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await?;
    for _ in 0..DRIP_BYTES {
        stream.write_all(b"x").await?;
        stream.flush().await?;
        tokio::time::sleep(DRIP_EVERY).await;
    }
    Ok(())
}

/// The gaps between consecutive instants.
pub fn gaps(times: &[Instant]) -> Vec<Duration> {
    times.windows(2).map(|w| w[1] - w[0]).collect()
}

/// Counts of requests per target, for failure messages.
pub fn tally(hits: &[Hit]) -> HashMap<String, usize> {
    let mut out = HashMap::new();
    for h in hits {
        *out.entry(h.target.clone()).or_default() += 1;
    }
    out
}
