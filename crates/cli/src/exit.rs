//! Exit codes, defined once for every command.

use std::process::ExitCode;

/// How a command ended.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub(crate) enum Exit {
    /// 0: everything checked is valid (warnings and information may have been printed).
    Ok,
    /// 1: at least one finding of error severity: an invalid record, policy or configuration.
    Findings,
    /// 2: usage error or runtime failure (unreadable input, bad arguments).
    Error,
}

impl Exit {
    /// `Findings` when `errors` is true, else `Ok`.
    pub(crate) fn from_errors(errors: bool) -> Self {
        if errors { Self::Findings } else { Self::Ok }
    }
}

impl From<Exit> for ExitCode {
    fn from(e: Exit) -> Self {
        Self::from(match e {
            Exit::Ok => 0,
            Exit::Findings => 1,
            Exit::Error => 2,
        })
    }
}
