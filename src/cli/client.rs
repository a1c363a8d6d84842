//! The responder CLI's HTTP client: one request to the breakglass API, and every way it can go
//! wrong turned into a [`CliError`] whose `Display` is the single line a responder reads at
//! 3 a.m.: what happened, then what to do.

use std::time::Duration;

use reqwest::{Method, StatusCode, Url};
use serde::de::DeserializeOwned;
use serde::Deserialize;

use super::ApiArgs;

/// Per request, from connecting to the last byte. A grant makes several IAM calls, so a few
/// seconds is normal; thirty means something is wrong.
pub const TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error("no API token: pass --token or set BREAKGLASS_TOKEN")]
    NoToken,
    #[error(
        "the API token contains spaces or control characters; check --token or BREAKGLASS_TOKEN"
    )]
    MalformedToken,
    #[error("`{0}` is not an http(s) URL; pass --server like http://127.0.0.1:8080 or set BREAKGLASS_URL")]
    BadServer(String),
    #[error("cannot reach {url} ({reason}); check --server or BREAKGLASS_URL")]
    Unreachable { url: String, reason: String },
    #[error("{url} did not answer within {}s; retry (a retried elevate returns the same binding, never a second role)", TIMEOUT.as_secs())]
    Timeout { url: String },
    #[error("{message} ({code}); check your token (--token or BREAKGLASS_TOKEN)")]
    Unauthenticated { code: String, message: String },
    /// The service's own refusal: its `error.message` already says what to do.
    #[error("{message} ({code})")]
    Api { code: String, message: String },
    #[error("{url} answered HTTP {status} and no breakglass JSON; check that --server points at the breakglass service")]
    NotJson { url: String, status: StatusCode },
    #[error(
        "{url} answered HTTP {status}, redirecting to {location}; pass that address as --server"
    )]
    Redirected {
        url: String,
        status: StatusCode,
        location: String,
    },
    #[error("{url} answered HTTP {status} with JSON this CLI cannot read ({detail}); use a CLI of the same version as the service, or --json")]
    Unexpected {
        url: String,
        status: StatusCode,
        detail: String,
    },
    #[error("the request to {url} failed ({reason})")]
    Request { url: String, reason: String },
    #[error("cannot start the async runtime: {0}")]
    Runtime(std::io::Error),
    #[error("cannot write the output: {0}")]
    Write(String),
    /// A refusal of the CLI's own, already worded for the responder.
    #[error("{0}")]
    Refused(String),
}

/// A successful (2xx) answer with a JSON body.
pub struct Answer {
    pub status: StatusCode,
    url: String,
    body: String,
}

impl Answer {
    /// The body as the service sent it, for `--json`.
    pub fn raw(&self) -> String {
        let mut raw = self.body.clone();
        if !raw.ends_with('\n') {
            raw.push('\n');
        }
        raw
    }

    pub fn parse<T: DeserializeOwned>(&self) -> Result<T, CliError> {
        serde_json::from_str(&self.body).map_err(|e| CliError::Unexpected {
            url: self.url.clone(),
            status: self.status,
            detail: e.to_string(),
        })
    }
}

pub struct Client {
    http: reqwest::Client,
    /// For downloads of any length: no overall deadline, but each read must come in time.
    download: reqwest::Client,
    base: Url,
    token: breakglass::secret::Secret,
}

impl Client {
    pub fn new(args: &ApiArgs) -> Result<Self, CliError> {
        let token = match &args.token {
            Some(t) if !t.expose().trim().is_empty() => t.expose().trim(),
            _ => return Err(CliError::NoToken),
        };
        if token.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(CliError::MalformedToken);
        }
        let base = Url::parse(args.server.trim())
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https") && u.has_host())
            .ok_or_else(|| CliError::BadServer(args.server.clone()))?;
        let build = |builder: reqwest::ClientBuilder| {
            builder
                .user_agent(concat!("breakglass-cli/", env!("CARGO_PKG_VERSION")))
                // A redirect would turn a POST into a GET; say where the service is instead.
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .map_err(|e| CliError::Request {
                    url: shown(&base),
                    reason: innermost(&e),
                })
        };
        let http = build(reqwest::Client::builder().timeout(TIMEOUT))?;
        let download = build(
            reqwest::Client::builder()
                .connect_timeout(TIMEOUT)
                .read_timeout(TIMEOUT),
        )?;
        Ok(Self {
            http,
            download,
            base,
            token: breakglass::secret::Secret::new(token),
        })
    }

    /// `path` is given as segments so that user input (a binding id) is escaped, never spliced.
    pub async fn send(
        &self,
        method: Method,
        path: &[&str],
        body: Option<serde_json::Value>,
    ) -> Result<Answer, CliError> {
        let mut request = self
            .http
            .request(method, self.url(path))
            .bearer_auth(self.token.expose());
        if let Some(body) = body {
            request = request.json(&body);
        }
        self.answer(request).await
    }

    pub async fn get_query(
        &self,
        path: &[&str],
        query: &[(&str, &str)],
    ) -> Result<Answer, CliError> {
        let request = self
            .http
            .get(self.url(path))
            .query(query)
            .bearer_auth(self.token.expose());
        self.answer(request).await
    }

    /// A GET whose answer is a document (CSV, HTML, NDJSON...) rather than JSON: its body is
    /// handed to `sink` chunk by chunk as it arrives. Returns the bytes written.
    pub async fn download(
        &self,
        path: &[&str],
        query: &[(&str, &str)],
        mut sink: impl FnMut(&[u8]) -> std::io::Result<()>,
    ) -> Result<u64, CliError> {
        let url = shown(&self.base);
        let mut response = self
            .download
            .get(self.url(path))
            .query(query)
            .bearer_auth(self.token.expose())
            .send()
            .await
            .map_err(|e| transport(&url, &e))?;
        let status = response.status();
        if !status.is_success() {
            let location = location(&response);
            let body = response.text().await.map_err(|e| transport(&url, &e))?;
            return Err(refusal(url, status, location, &body));
        }
        let mut written = 0u64;
        while let Some(chunk) = response.chunk().await.map_err(|e| transport(&url, &e))? {
            sink(&chunk).map_err(|e| CliError::Write(e.to_string()))?;
            written += chunk.len() as u64;
        }
        Ok(written)
    }

    fn url(&self, path: &[&str]) -> Url {
        let mut url = self.base.clone();
        if let Ok(mut segments) = url.path_segments_mut() {
            segments.pop_if_empty().extend(path);
        }
        url
    }

    async fn answer(&self, request: reqwest::RequestBuilder) -> Result<Answer, CliError> {
        let url = shown(&self.base);
        let response = request.send().await.map_err(|e| transport(&url, &e))?;
        let status = response.status();
        let location = location(&response);
        let body = response.text().await.map_err(|e| transport(&url, &e))?;
        if status.is_success() && serde_json::from_str::<serde::de::IgnoredAny>(&body).is_ok() {
            return Ok(Answer { status, url, body });
        }
        Err(refusal(url, status, location, &body))
    }
}

/// Where a redirect points.
fn location(response: &reqwest::Response) -> Option<String> {
    response
        .headers()
        .get(reqwest::header::LOCATION)
        .and_then(|l| l.to_str().ok())
        .map(str::to_owned)
}

/// The API's one error shape (docs/api.md).
#[derive(Deserialize)]
struct ErrorBody {
    error: ErrorDetail,
}

#[derive(Deserialize)]
struct ErrorDetail {
    code: String,
    message: String,
}

/// A non-2xx answer (or a 2xx that is not JSON) as a [`CliError`].
fn refusal(url: String, status: StatusCode, location: Option<String>, body: &str) -> CliError {
    if let Ok(ErrorBody { error }) = serde_json::from_str::<ErrorBody>(body) {
        let (code, message) = (one_line(&error.code), one_line(&error.message));
        return if status == StatusCode::UNAUTHORIZED {
            CliError::Unauthenticated { code, message }
        } else {
            CliError::Api { code, message }
        };
    }
    match location {
        Some(location) if status.is_redirection() => CliError::Redirected {
            url,
            status,
            location: one_line(&location),
        },
        _ => CliError::NotJson { url, status },
    }
}

fn transport(url: &str, e: &reqwest::Error) -> CliError {
    let url = url.to_owned();
    if e.is_timeout() && !e.is_connect() {
        CliError::Timeout { url }
    } else if e.is_connect() {
        CliError::Unreachable {
            url,
            reason: innermost(e),
        }
    } else {
        CliError::Request {
            url,
            reason: innermost(e),
        }
    }
}

/// The root cause ("Connection refused (os error 111)"), which says more than reqwest's outer
/// "error sending request".
fn innermost(e: &reqwest::Error) -> String {
    let mut cause: &dyn std::error::Error = e;
    while let Some(next) = cause.source() {
        cause = next;
    }
    one_line(&cause.to_string())
}

/// The base URL as it may be shown: without any password a user put into it.
fn shown(url: &Url) -> String {
    let mut url = url.clone();
    let _ = url.set_password(None);
    url.as_str().trim_end_matches('/').to_owned()
}

/// Messages end up on one stderr line, whatever the server sent.
fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests;
