//! A fault-injecting HTTP/1.1 range server on 127.0.0.1, for tests. It
//! serves one file, and the first path segment picks how it misbehaves:
//!
//! | path | behaviour |
//! |---|---|
//! | `/ok/f` | correct ranges, `ETag`, `Last-Modified` |
//! | `/flaky/f` | the first request of each `Range` gets 503, the next is served |
//! | `/throttle/f` | the first request gets 429 with `Retry-After: 1` |
//! | `/down/f` | 503 every time |
//! | `/gone/f` | 404 |
//! | `/reset/f` | the first request of each `Range` is cut off mid-body |
//! | `/redirect/f` | 302 to `/ok/f` |
//! | `/loop/f` | 302 to itself |
//! | `/changing/f` | a new version (other `ETag`, other bytes) after the first request; honours `If-Match` with 412 |
//! | `/changing-lax/f` | the same, but ignores `If-Match` |
//! | `/stall-head/f` | reads the request, then never answers |
//! | `/stall-body/f` | sends the headers and half the body, then nothing |
//!
//! Every request is logged (path, `Range`, `If-Match`, status), so tests
//! count requests at the server. One request per connection.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// How long a stalling server stays silent: far beyond any test's timeout.
const STALL: std::time::Duration = std::time::Duration::from_secs(60);

/// One request as the server saw it.
#[derive(Debug, Clone)]
pub struct Logged {
    pub path: String,
    pub range: Option<String>,
    pub if_match: Option<String>,
    pub status: u16,
}

#[derive(Default)]
struct State {
    log: Vec<Logged>,
    /// (fault, range) pairs already answered once.
    seen: HashSet<(String, String)>,
}

/// The running server; stops with the test's runtime.
#[derive(Clone)]
pub struct FaultServer {
    pub port: u16,
    content: Arc<Vec<u8>>,
    state: Arc<Mutex<State>>,
}

struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    /// Close the connection after this many body bytes (a reset mid-body).
    cut_after: Option<usize>,
    /// Before closing (or before answering, with no head), stay silent this long.
    stall: Option<(bool, std::time::Duration)>,
}

impl FaultServer {
    /// Starts serving `content` on a free port.
    pub async fn start(content: Vec<u8>) -> FaultServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let server = FaultServer {
            port: listener.local_addr().unwrap().port(),
            content: Arc::new(content),
            state: Arc::default(),
        };
        let serving = server.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let server = serving.clone();
                tokio::spawn(async move { server.serve(stream).await });
            }
        });
        server
    }

    /// The URL of the file behind `fault`.
    pub fn url(&self, fault: &str) -> String {
        format!("http://127.0.0.1:{}/{fault}/f", self.port)
    }

    /// Requests logged so far whose path starts with `/{fault}/`.
    pub fn log(&self, fault: &str) -> Vec<Logged> {
        let prefix = format!("/{fault}/");
        let state = self.state.lock().unwrap();
        state
            .log
            .iter()
            .filter(|r| r.path.starts_with(&prefix))
            .cloned()
            .collect()
    }

    async fn serve(&self, mut stream: TcpStream) {
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            match stream.read(&mut byte).await {
                Ok(1) => head.push(byte[0]),
                _ => return,
            }
        }
        let text = String::from_utf8_lossy(&head).into_owned();
        let mut lines = text.split("\r\n");
        let path = lines
            .next()
            .and_then(|line| line.split(' ').nth(1))
            .unwrap_or("/")
            .to_string();
        let header = |name: &str| {
            text.split("\r\n").skip(1).find_map(|line| {
                let (key, value) = line.split_once(':')?;
                key.trim()
                    .eq_ignore_ascii_case(name)
                    .then(|| value.trim().to_string())
            })
        };
        let (range, if_match) = (header("range"), header("if-match"));
        let answer = self.answer(&path, range.as_deref(), if_match.as_deref());
        self.state.lock().unwrap().log.push(Logged {
            path,
            range,
            if_match,
            status: answer.status,
        });
        if let Some((false, silence)) = answer.stall {
            tokio::time::sleep(silence).await;
            return;
        }
        let mut out = format!("HTTP/1.1 {} Fault\r\nConnection: close\r\n", answer.status);
        for (name, value) in &answer.headers {
            out.push_str(&format!("{name}: {value}\r\n"));
        }
        out.push_str(&format!("Content-Length: {}\r\n\r\n", answer.body.len()));
        let _ = stream.write_all(out.as_bytes()).await;
        let body = match answer.cut_after {
            Some(cut) => &answer.body[..cut.min(answer.body.len())],
            None => &answer.body[..],
        };
        let _ = stream.write_all(body).await;
        let _ = stream.flush().await;
        if let Some((true, silence)) = answer.stall {
            tokio::time::sleep(silence).await;
        }
        let _ = stream.shutdown().await;
    }

    /// Whether this is the first request of `range` on `fault` (and remembers it).
    fn first_time(&self, fault: &str, range: Option<&str>) -> bool {
        let key = (fault.to_string(), range.unwrap_or("").to_string());
        self.state.lock().unwrap().seen.insert(key)
    }

    fn requests_so_far(&self, fault: &str) -> usize {
        self.log(fault).len()
    }

    fn answer(&self, path: &str, range: Option<&str>, if_match: Option<&str>) -> Answer {
        let fault = path.trim_start_matches('/').split('/').next().unwrap_or("");
        let simple = |status: u16, headers: Vec<(String, String)>| Answer {
            status,
            headers,
            body: Vec::new(),
            cut_after: None,
            stall: None,
        };
        match fault {
            "ok" => self.ranged(&self.content, "\"v1\"", range),
            "flaky" if self.first_time(fault, range) => {
                simple(503, vec![("Retry-After".into(), "0".into())])
            }
            "flaky" => self.ranged(&self.content, "\"v1\"", range),
            "throttle" if self.requests_so_far(fault) == 0 => {
                simple(429, vec![("Retry-After".into(), "1".into())])
            }
            "throttle" => self.ranged(&self.content, "\"v1\"", range),
            "down" => simple(503, Vec::new()),
            "gone" => simple(404, Vec::new()),
            "reset" => {
                let first = self.first_time(fault, range);
                let mut answer = self.ranged(&self.content, "\"v1\"", range);
                if first {
                    answer.cut_after = Some(answer.body.len() / 2);
                }
                answer
            }
            "stall-head" => Answer {
                stall: Some((false, STALL)),
                ..simple(200, Vec::new())
            },
            "stall-body" => {
                let mut answer = self.ranged(&self.content, "\"v1\"", range);
                answer.cut_after = Some(answer.body.len() / 2);
                answer.stall = Some((true, STALL));
                answer
            }
            "redirect" => simple(302, vec![("Location".into(), "/ok/f".into())]),
            "loop" => simple(302, vec![("Location".into(), path.to_string())]),
            "changing" | "changing-lax" => {
                let (content, etag) = if self.requests_so_far(fault) == 0 {
                    (self.content.to_vec(), "\"v1\"")
                } else {
                    (self.content.iter().rev().copied().collect(), "\"v2\"")
                };
                if fault == "changing" && if_match.is_some_and(|tag| tag != etag) {
                    return simple(412, Vec::new());
                }
                self.ranged(&content, etag, range)
            }
            _ => simple(404, Vec::new()),
        }
    }

    /// A correct answer to `range` over `content`.
    fn ranged(&self, content: &[u8], etag: &str, range: Option<&str>) -> Answer {
        let size = content.len() as u64;
        let headers = |extra: Option<String>| {
            let mut headers = vec![
                ("ETag".to_string(), etag.to_string()),
                ("Accept-Ranges".to_string(), "bytes".to_string()),
            ];
            if let Some(content_range) = extra {
                headers.push(("Content-Range".to_string(), content_range));
            }
            headers
        };
        let span = range.and_then(|value| {
            let (first, last) = value.trim().strip_prefix("bytes=")?.split_once('-')?;
            match (first.parse::<u64>().ok(), last.parse::<u64>().ok()) {
                (None, Some(suffix)) => Some((size.saturating_sub(suffix), size - 1)),
                (Some(first), Some(last)) => Some((first, last.min(size - 1))),
                (Some(first), None) => Some((first, size - 1)),
                (None, None) => None,
            }
        });
        match span {
            Some((first, last)) if first <= last && last < size => Answer {
                status: 206,
                headers: headers(Some(format!("bytes {first}-{last}/{size}"))),
                body: content[first as usize..=last as usize].to_vec(),
                cut_after: None,
                stall: None,
            },
            Some(_) => Answer {
                status: 416,
                headers: headers(Some(format!("bytes */{size}"))),
                body: Vec::new(),
                cut_after: None,
                stall: None,
            },
            None => Answer {
                status: 200,
                headers: headers(None),
                body: content.to_vec(),
                cut_after: None,
                stall: None,
            },
        }
    }
}
