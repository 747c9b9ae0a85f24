//! A wave of range requests: all started together (up to the concurrency
//! limit) and driven by one `wasi:io/poll.poll`, so a wave of N ranges costs
//! one round trip. Requests that fail transiently wait out their backoff and
//! are sent again (see [`RetryPolicy`]); redirects are followed.

use super::exchange::{self, InFlight, Response, Step, WantedBytes};
use crate::error::{Error, Result};
use crate::source::Resent;
use crate::source::retry::{RetryPolicy, status_is_redirect, status_is_transient};
use std::collections::VecDeque;
use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::time::SystemTime;
use url::Url;
use wasip2::clocks::monotonic_clock;
use wasip2::io::poll::{Pollable, poll};

/// Redirects followed per request before giving up.
const MAX_REDIRECTS: u32 = 5;

/// Sends waves of requests under one retry policy.
#[derive(Debug)]
pub(super) struct Requester {
    policy: RetryPolicy,
    /// Longest silence of a server before a request fails, in nanoseconds.
    idle_timeout_ns: u64,
    /// Largest body accepted from a server that ignores `Range`.
    whole_body_limit: u64,
    /// A header every request carries: the precondition (`If-Match`, …)
    /// that pins the version opened.
    pub precondition: Option<(String, String)>,
    pub resent: Resent,
    random: RandomState,
    draws: u64,
}

/// Where one request of a wave stands.
struct Request {
    target: Url,
    retries: u32,
    redirects: u32,
    response: Option<Response>,
}

impl Requester {
    pub(super) fn new(policy: RetryPolicy, idle_timeout_ms: u64, whole_body_limit: u64) -> Self {
        Self {
            policy,
            idle_timeout_ns: idle_timeout_ms.saturating_mul(1_000_000),
            whole_body_limit,
            precondition: None,
            resent: Resent::default(),
            random: RandomState::new(),
            draws: 0,
        }
    }

    /// Sends every request to `url`, at most `max_concurrency` at a time,
    /// and returns the final responses in the order of `wanted`. A transient
    /// status that outlives its retries is returned as the final response.
    pub(super) fn execute(
        &mut self,
        url: &Url,
        wanted: &[WantedBytes],
        max_concurrency: usize,
    ) -> Result<Vec<Response>> {
        let deadline = monotonic_clock::now()
            .saturating_add(self.policy.deadline_ms.saturating_mul(1_000_000));
        let mut requests: Vec<Request> = wanted
            .iter()
            .map(|_| Request {
                target: url.clone(),
                retries: 0,
                redirects: 0,
                response: None,
            })
            .collect();
        let mut queued: VecDeque<usize> = (0..wanted.len()).collect();
        let mut sleeping: Vec<(u64, usize)> = Vec::new();
        let mut active: Vec<(usize, InFlight)> = Vec::new();
        loop {
            let now = monotonic_clock::now();
            sleeping.retain(|&(due, index)| {
                let awake = due <= now;
                if awake {
                    queued.push_back(index);
                }
                !awake
            });
            while active.len() < max_concurrency {
                let Some(index) = queued.pop_front() else {
                    break;
                };
                let precondition = self
                    .precondition
                    .as_ref()
                    .map(|(name, value)| (name.as_str(), value.as_str()));
                let request = exchange::start(
                    &requests[index].target,
                    &wanted[index],
                    precondition,
                    self.idle_timeout_ns,
                )?;
                active.push((index, request));
            }
            if active.is_empty() && sleeping.is_empty() {
                break;
            }
            for position in wait(&active, &sleeping) {
                let (index, in_flight) = active.swap_remove(position);
                let limits = exchange::BodyLimits {
                    ranged: wanted[index].max_body(),
                    whole: self.whole_body_limit,
                };
                match exchange::advance(in_flight, limits) {
                    Ok(Step::Pending(in_flight)) => active.push((index, in_flight)),
                    Ok(Step::Done(response)) => {
                        let request = &mut requests[index];
                        if self.follow(&response, request)? {
                            queued.push_back(index);
                        } else if let Some(due) = status_is_transient(response.status)
                            .then(|| {
                                self.backoff(request, response.retry_after.as_deref(), deadline)
                            })
                            .flatten()
                        {
                            sleeping.push((due, index));
                        } else {
                            request.response = Some(response);
                        }
                    }
                    Err(Error::Network(message)) => {
                        let request = &mut requests[index];
                        match self.backoff(request, None, deadline) {
                            Some(due) => sleeping.push((due, index)),
                            None => {
                                return Err(Error::Network(format!(
                                    "{message} (attempt {} of {})",
                                    request.retries + 1,
                                    self.policy.max_retries + 1
                                )));
                            }
                        }
                    }
                    Err(error) => return Err(error),
                }
            }
        }
        requests
            .into_iter()
            .map(|request| {
                request
                    .response
                    .ok_or_else(|| Error::Internal("a request finished without a response".into()))
            })
            .collect()
    }

    /// Points `request` at the redirect's target; false when `response` is
    /// not a redirect to follow.
    fn follow(&mut self, response: &Response, request: &mut Request) -> Result<bool> {
        let Some(location) = response.location.as_deref() else {
            return Ok(false);
        };
        if !status_is_redirect(response.status) {
            return Ok(false);
        }
        if request.redirects >= MAX_REDIRECTS {
            return Err(Error::Protocol(format!(
                "{} redirected more than {MAX_REDIRECTS} times",
                response.url
            )));
        }
        let target = response.url.join(location).map_err(|error| {
            Error::Protocol(format!(
                "{} redirected to an invalid Location {location:?}: {error}",
                response.url
            ))
        })?;
        if !matches!(target.scheme(), "http" | "https") {
            return Err(Error::Protocol(format!(
                "{} redirected to {target}, which is not http(s)",
                response.url
            )));
        }
        request.target = target;
        request.redirects += 1;
        self.resent.redirects += 1;
        Ok(true)
    }

    /// When `request` may be sent again, or `None` when its retries or the
    /// wave's deadline are spent.
    fn backoff(
        &mut self,
        request: &mut Request,
        retry_after: Option<&str>,
        deadline: u64,
    ) -> Option<u64> {
        if request.retries >= self.policy.max_retries {
            return None;
        }
        let jitter = self.jitter();
        let wait = self
            .policy
            .wait(request.retries + 1, retry_after, SystemTime::now(), jitter);
        let wait_ns = u64::try_from(wait.as_nanos()).unwrap_or(u64::MAX);
        let due = monotonic_clock::now().saturating_add(wait_ns);
        if due > deadline {
            return None;
        }
        request.retries += 1;
        self.resent.retries += 1;
        Some(due)
    }

    /// A number in `[0, 1)`, different at each call.
    fn jitter(&mut self) -> f64 {
        self.draws += 1;
        (self.random.hash_one(self.draws) >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Blocks until a request can move forward or a backoff ends; returns the
/// positions in `active` that can move, highest first (for `swap_remove`).
fn wait(active: &[(usize, InFlight)], sleeping: &[(u64, usize)]) -> Vec<usize> {
    let mut pollables: Vec<Pollable> = active
        .iter()
        .map(|(_, request)| request.subscribe())
        .collect();
    if let Some(due) = sleeping.iter().map(|(due, _)| *due).min() {
        pollables.push(monotonic_clock::subscribe_instant(due));
    }
    let refs: Vec<&Pollable> = pollables.iter().collect();
    let mut ready: Vec<usize> = poll(&refs)
        .into_iter()
        .map(|position| position as usize)
        .filter(|&position| position < active.len())
        .collect();
    ready.sort_unstable_by(|a, b| b.cmp(a));
    ready
}
