//! When to try a request again, and how long to wait first: the policy of
//! retries, without I/O (the HTTP transport applies it).
//!
//! Transient failures are retried: connection errors, resets and timeouts, and
//! the statuses 408, 429 and 5xx. Other 4xx statuses fail at once. The waits
//! grow exponentially with jitter, honour a server's `Retry-After`, and stop
//! at a number of retries per request and a deadline per wave of requests.

use std::time::{Duration, SystemTime};

/// How transient failures are retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries of one request after its first attempt (0: none).
    pub max_retries: u32,
    /// Longest time one wave of requests may spend waiting to retry and
    /// retrying, in milliseconds; a wait that would end later is not begun.
    pub deadline_ms: u64,
}

impl RetryPolicy {
    /// Default retries per request.
    pub const DEFAULT_MAX_RETRIES: u32 = 3;
    /// Default deadline of a wave's retries.
    pub const DEFAULT_DEADLINE_MS: u64 = 30_000;
    /// The first wait; each later one doubles, up to [`Self::MAX_BACKOFF_MS`].
    pub const FIRST_BACKOFF_MS: u64 = 100;
    /// The longest wait chosen by backoff (a `Retry-After` may ask for more).
    pub const MAX_BACKOFF_MS: u64 = 5_000;
    /// Most retries a caller may ask for.
    pub const MAX_RETRIES: u32 = 20;

    /// The wait before retry number `retry` (1 for the first retry), given a
    /// server's `Retry-After` value and a `jitter` in `[0, 1)`: half the
    /// exponential backoff plus a random part of the other half (so that
    /// clients that failed together do not retry together), and never less
    /// than `Retry-After` asks.
    pub fn wait(
        &self,
        retry: u32,
        retry_after: Option<&str>,
        now: SystemTime,
        jitter: f64,
    ) -> Duration {
        let doublings = retry.saturating_sub(1).min(16);
        let backoff = (Self::FIRST_BACKOFF_MS << doublings).min(Self::MAX_BACKOFF_MS);
        let jittered = backoff / 2 + (backoff as f64 / 2.0 * jitter.clamp(0.0, 1.0)) as u64;
        let asked = retry_after
            .and_then(|value| parse_retry_after(value, now))
            .unwrap_or_default();
        Duration::from_millis(jittered).max(asked)
    }
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_retries: Self::DEFAULT_MAX_RETRIES,
            deadline_ms: Self::DEFAULT_DEADLINE_MS,
        }
    }
}

/// Whether an HTTP status may be answered differently if asked again: 408
/// (request timeout), 429 (too many requests) and every 5xx.
pub fn status_is_transient(status: u16) -> bool {
    status == 408 || status == 429 || (500..600).contains(&status)
}

/// Whether a status is a redirect whose `Location` should be followed.
pub fn status_is_redirect(status: u16) -> bool {
    matches!(status, 301 | 302 | 303 | 307 | 308)
}

/// The wait a `Retry-After` header asks for: delay-seconds (`120`) or an
/// HTTP-date; `None` when it is neither. A date in the past asks for none.
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> RetryPolicy {
        RetryPolicy::default()
    }

    #[test]
    fn waits_double_with_jitter_up_to_the_cap() {
        let now = SystemTime::UNIX_EPOCH;
        let ms = |retry, jitter| policy().wait(retry, None, now, jitter).as_millis();
        assert_eq!((ms(1, 0.0), ms(1, 0.999)), (50, 99));
        assert_eq!((ms(2, 0.0), ms(3, 0.0)), (100, 200));
        assert_eq!(ms(10, 0.0), 2_500);
        assert_eq!(
            ms(60, 0.5),
            3_750,
            "capped, and no overflow on huge retry counts"
        );
    }

    #[test]
    fn retry_after_seconds_and_dates_are_honoured() {
        let now = httpdate::parse_http_date("Wed, 25 Nov 2026 10:00:00 GMT").unwrap();
        assert_eq!(parse_retry_after(" 7 ", now), Some(Duration::from_secs(7)));
        assert_eq!(
            parse_retry_after("Wed, 25 Nov 2026 10:00:03 GMT", now),
            Some(Duration::from_secs(3))
        );
        assert_eq!(
            parse_retry_after("Wed, 25 Nov 2026 09:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(
            policy().wait(1, Some("2"), now, 0.0),
            Duration::from_secs(2)
        );
        assert_eq!(
            policy().wait(1, Some("soon"), now, 0.0),
            Duration::from_millis(50)
        );
    }

    #[test]
    fn which_statuses_are_retried_or_followed() {
        for status in [408, 429, 500, 502, 503, 504, 599] {
            assert!(status_is_transient(status), "{status}");
        }
        for status in [200, 206, 301, 400, 401, 403, 404, 412, 416] {
            assert!(!status_is_transient(status), "{status}");
        }
        assert!(status_is_redirect(302) && status_is_redirect(308));
        assert!(!status_is_redirect(304) && !status_is_redirect(300));
    }
}
