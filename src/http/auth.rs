//! Basic auth, when `daemon.web_config_file` lists `basic_auth_users`: every
//! path but `/healthz` (which load balancers and systemd watchdogs ask
//! without credentials) needs a listed user and its password, as with the
//! Prometheus exporters. Otherwise: 401 with
//! `WWW-Authenticate: Basic realm="netkpi"` and a JSON error.
//!
//! Writes need the bearer token as well (`daemon.api_token_file`): a scrape
//! user is no operator. Since `Authorization` then carries the basic auth,
//! the token may also be given as `X-Netkpi-Token` (see `incidents.rs`).
//!
//! bcrypt is slow on purpose (tens of milliseconds at cost 10), too slow to
//! pay at every 1 s scrape: a pair that verified is remembered for
//! [`CACHE_FOR`], keyed by a SHA-256 of user, password and the hash it
//! matched (so a reload that changes a user's hash forgets it), never the
//! password itself. Verifications run off the async threads, one at a time,
//! so wrong guesses cannot take more than one core.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::extract::{Request, State as AxumState};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use base64::Engine;
use sha2::{Digest, Sha256};
use tokio::sync::Semaphore;

use super::api;
use super::incidents::same_token;
use super::AppState;
use crate::secret::Secret;

/// How long a verified (user, password) pair is taken without bcrypt.
pub const CACHE_FOR: Duration = Duration::from_secs(300);
/// Pairs remembered at most; past it the cache starts again.
const CACHE_MAX: usize = 1024;
/// The one path answered without credentials.
const OPEN_PATH: &str = "/healthz";

/// Verified pairs and the one-at-a-time gate of bcrypt.
pub struct BasicAuthCache {
    verified: Mutex<HashMap<[u8; 32], Instant>>,
    bcrypt: Semaphore,
}

impl Default for BasicAuthCache {
    fn default() -> Self {
        BasicAuthCache {
            verified: Mutex::new(HashMap::new()),
            bcrypt: Semaphore::new(1),
        }
    }
}

impl BasicAuthCache {
    /// Whether `user` with `password` is one of `users`. The name is
    /// compared with every listed one in constant time, and an unknown name
    /// costs a bcrypt like a known one, so timing tells neither which names
    /// exist nor how much of one matched.
    pub async fn check(
        &self,
        users: &BTreeMap<String, Secret>,
        user: &str,
        password: &str,
    ) -> bool {
        let mut found: Option<&Secret> = None;
        for (name, hash) in users {
            if same_token(user.as_bytes(), name.as_bytes()) {
                found = Some(hash);
            }
        }
        let Some(hash) = found.or_else(|| users.values().next()) else {
            return false;
        };
        let known = found.is_some();
        let key = cache_key(user, password, hash.expose());
        if known && self.is_cached(&key) {
            return true;
        }
        let Ok(_permit) = self.bcrypt.acquire().await else {
            return false;
        };
        let (password, hash_text) = (password.to_string(), hash.expose().to_string());
        let matched = tokio::task::spawn_blocking(move || bcrypt::verify(password, &hash_text))
            .await
            .ok()
            .and_then(Result::ok)
            .unwrap_or(false);
        let ok = known && matched;
        if ok {
            self.remember(key);
        }
        ok
    }

    fn is_cached(&self, key: &[u8; 32]) -> bool {
        let verified = self.verified.lock().unwrap_or_else(|e| e.into_inner());
        verified.get(key).is_some_and(|at| at.elapsed() < CACHE_FOR)
    }

    fn remember(&self, key: [u8; 32]) {
        let mut verified = self.verified.lock().unwrap_or_else(|e| e.into_inner());
        if verified.len() >= CACHE_MAX {
            verified.retain(|_, at| at.elapsed() < CACHE_FOR);
            if verified.len() >= CACHE_MAX {
                verified.clear();
            }
        }
        verified.insert(key, Instant::now());
    }
}

/// SHA-256 of the three, each with its length first so no two different
/// triples run together into the same bytes.
fn cache_key(user: &str, password: &str, hash: &str) -> [u8; 32] {
    let mut sha = Sha256::new();
    for part in [user, password, hash] {
        sha.update((part.len() as u64).to_be_bytes());
        sha.update(part.as_bytes());
    }
    sha.finalize().into()
}

/// The user and password of `Authorization: Basic ...`, if well formed.
pub(super) fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (user, password) = text.split_once(':')?;
    Some((user.to_string(), password.to_string()))
}

/// The middleware: lets a request through when no users are configured, for
/// `/healthz`, or with a listed user's credentials.
pub(super) async fn basic_auth(
    AxumState(shared): AxumState<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let config = shared.config();
    let users = match &config.daemon.web {
        Some(web) if !web.users.is_empty() => &web.users,
        _ => return next.run(request).await,
    };
    if request.uri().path() == OPEN_PATH {
        return next.run(request).await;
    }
    let refusal = match basic_credentials(request.headers()) {
        None => "this endpoint needs basic auth: a user and password of daemon.web_config_file's basic_auth_users",
        Some((user, password)) => {
            if shared.basic_auth.check(users, &user, &password).await {
                return next.run(request).await;
            }
            tracing::debug!(path = %request.uri().path(), "basic auth refused: wrong user or password");
            "wrong user or password"
        }
    };
    let mut response = api::error(StatusCode::UNAUTHORIZED, refusal);
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Basic realm=\"netkpi\""),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn users(pairs: &[(&str, &str)]) -> BTreeMap<String, Secret> {
        pairs
            .iter()
            .map(|(u, p)| (u.to_string(), Secret::new(bcrypt::hash(p, 4).unwrap())))
            .collect()
    }

    #[tokio::test]
    async fn only_the_right_pair_passes_and_it_is_cached() {
        let users = users(&[("prometheus", "s3cret"), ("grafana", "other")]);
        let cache = BasicAuthCache::default();
        assert!(cache.check(&users, "prometheus", "s3cret").await);
        assert!(cache.check(&users, "grafana", "other").await);
        assert!(!cache.check(&users, "prometheus", "other").await);
        assert!(!cache.check(&users, "nobody", "s3cret").await);
        assert!(!cache.check(&users, "", "").await);
        let key = cache_key("prometheus", "s3cret", users["prometheus"].expose());
        assert!(cache.is_cached(&key));
        // A wrong pair is never remembered.
        let wrong = cache_key("prometheus", "other", users["prometheus"].expose());
        assert!(!cache.is_cached(&wrong));
        // Another hash for the user (a reload) does not reuse the entry.
        let rehashed = self::users(&[("prometheus", "s3cret")]);
        let key2 = cache_key("prometheus", "s3cret", rehashed["prometheus"].expose());
        assert!(!cache.is_cached(&key2));
    }

    #[tokio::test]
    async fn nobody_passes_without_users() {
        let cache = BasicAuthCache::default();
        assert!(!cache.check(&BTreeMap::new(), "a", "b").await);
    }

    #[test]
    fn credentials_are_parsed_from_the_header() {
        let mut headers = HeaderMap::new();
        assert_eq!(basic_credentials(&headers), None);
        // "user:pa:ss" — the password may contain colons.
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Basic dXNlcjpwYTpzcw=="),
        );
        assert_eq!(
            basic_credentials(&headers),
            Some(("user".into(), "pa:ss".into()))
        );
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Bearer dXNlcjpwYTpzcw=="),
        );
        assert_eq!(basic_credentials(&headers), None);
        headers.insert(header::AUTHORIZATION, HeaderValue::from_static("Basic !!!"));
        assert_eq!(basic_credentials(&headers), None);
    }

    #[test]
    fn the_cache_key_separates_its_parts() {
        assert_ne!(cache_key("ab", "c", "h"), cache_key("a", "bc", "h"));
    }
}
