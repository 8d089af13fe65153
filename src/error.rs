//! [`Error`]: every way a connect can fail, keeping everything that was learned.

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::time::Duration;

pub use crate::host::InputError;
use crate::proto::Family;
use crate::proto::machine::Failure;
use crate::report::Report;
use crate::resolve::{ResolveError, ResolveErrorKind};

/// Why a connect failed.
///
/// Every variant but [`Error::InvalidInput`] carries a [`ConnectFailure`] with the connect's
/// [`Report`] and every attempt's error. `Display` names the target and lists each attempt, e.g.
/// `connect to example.com:443 failed: [2001:db8::1]:443 timed out after 250ms; 192.0.2.1:443
/// connection refused`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The host or port is malformed; nothing was sent.
    #[error("invalid host or port {input:?}: {problem}")]
    InvalidInput {
        /// The input as given.
        input: String,
        /// What is wrong with it.
        #[source]
        problem: InputError,
    },
    /// Every queried family failed to resolve. [`ConnectFailure::resolve_error`] has each cause.
    #[error(transparent)]
    ResolutionFailed(Box<ConnectFailure>),
    /// Resolution succeeded but yielded no usable address.
    #[error(transparent)]
    NoAddresses(Box<ConnectFailure>),
    /// Every address was tried and every attempt failed.
    #[error(transparent)]
    AllAttemptsFailed(Box<ConnectFailure>),
    /// The connect timeout expired.
    #[error(transparent)]
    TimedOut(Box<ConnectFailure>),
    /// Every address was denied by the [`crate::AddressPolicy`]; nothing was sent.
    #[error(transparent)]
    Denied(Box<ConnectFailure>),
}

/// What is known about a failed connect.
#[derive(Debug)]
pub struct ConnectFailure {
    /// Which failure this is; [`Error`]'s variant says the same.
    pub(crate) kind: Failure,
    pub(crate) report: Report,
    pub(crate) attempts: Vec<(SocketAddr, io::Error)>,
    pub(crate) timeout: Option<Duration>,
}

impl ConnectFailure {
    /// What happened, step by step.
    pub fn report(&self) -> &Report {
        &self.report
    }

    /// Every attempt's address and error, in the order the attempts started. An attempt still
    /// running when the connect timed out has an error of kind [`io::ErrorKind::TimedOut`].
    pub fn attempts(&self) -> &[(SocketAddr, io::Error)] {
        &self.attempts
    }

    /// The resolution error of `family`, if its lookup failed.
    pub fn resolve_error(&self, family: Family) -> Option<&ResolveError> {
        self.report
            .answers
            .iter()
            .find(|a| a.family == family)
            .and_then(|a| a.result().err())
    }

    fn target(&self) -> String {
        self.report.target()
    }

    fn write_attempts(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (addr, e)) in self.attempts.iter().enumerate() {
            let sep = if i == 0 { "" } else { "; " };
            write!(f, "{sep}{addr} {}", describe_io(e))?;
        }
        Ok(())
    }

    fn write_resolution(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for a in &self.report.answers {
            let rr = if a.family == Family::V6 { "AAAA" } else { "A" };
            let sep = if first { "" } else { "; " };
            first = false;
            match &a.result {
                Ok(ips) if ips.is_empty() => write!(f, "{sep}{rr}: no records")?,
                Ok(ips) => write!(f, "{sep}{rr}: {} unusable address(es)", ips.len())?,
                Err(e) => write!(f, "{sep}{rr}: {e}")?,
            }
        }
        Ok(())
    }
}

impl ConnectFailure {
    /// The [`io::ErrorKind`] the failure maps to (see [`Error::io_kind`]).
    fn io_kind(&self) -> io::ErrorKind {
        match self.kind {
            Failure::TimedOut => io::ErrorKind::TimedOut,
            Failure::Denied => io::ErrorKind::PermissionDenied,
            Failure::Resolve => {
                let not_found = self.report.answers.iter().all(|a| match &a.result {
                    Ok(ips) => ips.is_empty(),
                    Err(e) => e.kind() == ResolveErrorKind::NotFound,
                });
                if not_found {
                    io::ErrorKind::NotFound
                } else {
                    io::ErrorKind::Other
                }
            }
            Failure::NoAddresses => io::ErrorKind::NotFound,
            Failure::AllAttemptsFailed => {
                let mut kinds = self.attempts.iter().map(|(_, e)| e.kind());
                let first = kinds.next().unwrap_or(io::ErrorKind::Other);
                if kinds.all(|k| k == first) {
                    first
                } else {
                    io::ErrorKind::Other
                }
            }
        }
    }
}

/// The cause: the error of the attempt that decides the failure's kind (the first attempt whose
/// error has [`Error::io_kind`]'s kind, else the first attempt's), so code that walks
/// `source()` for an [`io::Error`] finds the OS error (`ConnectionRefused`, `TimedOut`, ...);
/// for a failed resolution, the first family's [`ResolveError`]; `None` when nothing was tried.
impl std::error::Error for ConnectFailure {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        if self.kind == Failure::Resolve {
            let resolve = self
                .report
                .answers
                .iter()
                .find_map(|a| a.result.as_ref().err());
            return resolve.map(|e| e as &(dyn std::error::Error + 'static));
        }
        let kind = self.io_kind();
        self.attempts
            .iter()
            .find(|(_, e)| e.kind() == kind)
            .or(self.attempts.first())
            .map(|(_, e)| e as &(dyn std::error::Error + 'static))
    }
}

impl fmt::Display for ConnectFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let target = self.target();
        match self.kind {
            Failure::Resolve => {
                write!(
                    f,
                    "connect to {target} failed: could not resolve the name ("
                )?;
                self.write_resolution(f)?;
                f.write_str(")")
            }
            Failure::NoAddresses => {
                write!(
                    f,
                    "connect to {target} failed: the name has no usable address"
                )?;
                if !self.report.answers.is_empty() {
                    f.write_str(" (")?;
                    self.write_resolution(f)?;
                    f.write_str(")")?;
                }
                Ok(())
            }
            Failure::AllAttemptsFailed => {
                write!(f, "connect to {target} failed: ")?;
                self.write_attempts(f)?;
                // A family whose lookup failed is part of why nothing connected.
                for a in &self.report.answers {
                    if let Err(e) = &a.result {
                        write!(
                            f,
                            "; {} lookup failed: {e}",
                            if a.family == Family::V6 { "AAAA" } else { "A" }
                        )?;
                    }
                }
                Ok(())
            }
            Failure::Denied => {
                let n = self.attempts.len();
                let all = if n == 1 {
                    "the only address was".to_string()
                } else {
                    format!("all {n} addresses were")
                };
                write!(
                    f,
                    "connect to {target} failed: {all} denied by the address policy: "
                )?;
                let list: Vec<String> = self
                    .attempts
                    .iter()
                    .map(|(a, _)| a.ip().to_string())
                    .collect();
                f.write_str(&list.join(", "))
            }
            Failure::TimedOut => {
                let after = self.timeout.map(round_ms).unwrap_or_default();
                write!(f, "connect to {target} timed out after {after:?}")?;
                if self.attempts.is_empty() {
                    f.write_str(" while resolving the name")
                } else {
                    f.write_str(": ")?;
                    self.write_attempts(f)
                }
            }
        }
    }
}

/// An attempt's error as a person reads it: "connection refused", not "Connection refused (os error 111)".
pub(crate) fn describe_io(e: &io::Error) -> String {
    if e.raw_os_error().is_some() {
        let kind = e.kind().to_string();
        if kind != "uncategorized error" && kind != "other error" {
            return kind;
        }
    }
    e.to_string()
}

pub(crate) fn round_ms(d: Duration) -> Duration {
    Duration::from_millis(d.as_millis() as u64)
}

impl Error {
    /// The error for a failed connect: the variant follows the core's [`Failure`].
    pub(crate) fn failed(failure: ConnectFailure) -> Error {
        let kind = failure.kind;
        let f = Box::new(failure);
        match kind {
            Failure::Resolve => Error::ResolutionFailed(f),
            Failure::NoAddresses => Error::NoAddresses(f),
            Failure::AllAttemptsFailed => Error::AllAttemptsFailed(f),
            Failure::TimedOut => Error::TimedOut(f),
            Failure::Denied => Error::Denied(f),
        }
    }

    /// Names the target in messages as `target` (see [`Report::target`]).
    pub(crate) fn with_target(mut self, target: String) -> Error {
        if let Some(f) = self.failure_mut() {
            f.report.target = Some(target);
        }
        self
    }

    fn failure_mut(&mut self) -> Option<&mut ConnectFailure> {
        match self {
            Error::InvalidInput { .. } => None,
            Error::ResolutionFailed(f)
            | Error::NoAddresses(f)
            | Error::AllAttemptsFailed(f)
            | Error::TimedOut(f)
            | Error::Denied(f) => Some(f),
        }
    }

    pub(crate) fn invalid(input: impl Into<String>, problem: InputError) -> Error {
        Error::InvalidInput {
            input: input.into(),
            problem,
        }
    }

    /// The failed connect's details, for every variant but [`Error::InvalidInput`].
    pub fn failure(&self) -> Option<&ConnectFailure> {
        match self {
            Error::InvalidInput { .. } => None,
            Error::ResolutionFailed(f)
            | Error::NoAddresses(f)
            | Error::AllAttemptsFailed(f)
            | Error::TimedOut(f)
            | Error::Denied(f) => Some(f),
        }
    }

    /// The connect's [`Report`], for every variant but [`Error::InvalidInput`].
    pub fn report(&self) -> Option<&Report> {
        self.failure().map(ConnectFailure::report)
    }

    /// Every attempt's address and error, in start order (empty when no attempt was made).
    pub fn attempts(&self) -> &[(SocketAddr, io::Error)] {
        self.failure().map_or(&[], ConnectFailure::attempts)
    }

    /// The [`io::ErrorKind`] this error maps to; see the `From<Error> for io::Error` impl.
    pub fn io_kind(&self) -> io::ErrorKind {
        match self {
            Error::InvalidInput { .. } => io::ErrorKind::InvalidInput,
            Error::ResolutionFailed(f)
            | Error::NoAddresses(f)
            | Error::AllAttemptsFailed(f)
            | Error::TimedOut(f)
            | Error::Denied(f) => f.io_kind(),
        }
    }
}

/// The mapping of kinds is deliberate:
///
/// | [`Error`] | [`io::ErrorKind`] |
/// | --- | --- |
/// | `InvalidInput` | `InvalidInput` |
/// | `TimedOut` | `TimedOut` |
/// | `ResolutionFailed` | `NotFound` when every family said the name or record does not exist, else `Other` |
/// | `NoAddresses` | `NotFound` |
/// | `Denied` | `PermissionDenied` |
/// | `AllAttemptsFailed` | the attempts' kind when they all share one (`ConnectionRefused` when all were refused), else `Other` |
///
/// The [`Error`] itself is kept as the `io::Error`'s inner error (`get_ref`, `into_inner`).
impl From<Error> for io::Error {
    fn from(e: Error) -> io::Error {
        io::Error::new(e.io_kind(), e)
    }
}
