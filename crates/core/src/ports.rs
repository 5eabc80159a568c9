//! Port overrides for labs and tests.
//!
//! mailsec speaks SMTP on port 25 and fetches MTA-STS policies on port 443, as RFC 5321 and
//! RFC 8461 §3.3 require. A lab runs its servers on unprivileged ephemeral ports instead, and a
//! [`PortMap`] (`25=2525,443=8443`, from `MAILSEC_LAB_PORTS` or `--lab-ports`) redirects
//! connections there. It changes where mailsec connects, never what it looks up: TLSA records are
//! still queried at `_25._tcp`. **For labs and testing only.**

use std::fmt;
use std::str::FromStr;

/// Where to connect instead of the standard ports.
#[derive(Clone, Copy, Debug, Default, Eq, PartialEq)]
pub struct PortMap {
    /// Replaces port 25 (SMTP).
    pub smtp: Option<u16>,
    /// Replaces port 443 (HTTPS policy fetch).
    pub https: Option<u16>,
}

impl PortMap {
    /// The port to dial for SMTP.
    pub fn smtp(&self) -> u16 {
        self.smtp.unwrap_or(25)
    }

    /// The port to dial for HTTPS.
    pub fn https(&self) -> u16 {
        self.https.unwrap_or(443)
    }
}

impl fmt::Display for PortMap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = Vec::new();
        if let Some(p) = self.smtp {
            parts.push(format!("25={p}"));
        }
        if let Some(p) = self.https {
            parts.push(format!("443={p}"));
        }
        f.write_str(&parts.join(","))
    }
}

/// Why a port map is refused.
#[derive(Clone, Debug, Eq, PartialEq, thiserror::Error)]
#[error("port map {}: expected `25=PORT,443=PORT` (either or both)", crate::diag::quote(.0))]
pub struct PortMapError(pub String);

impl FromStr for PortMap {
    type Err = PortMapError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || PortMapError(s.to_owned());
        let mut map = Self::default();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (from, to) = part.split_once('=').ok_or_else(err)?;
            let to: u16 = to.trim().parse().map_err(|_| err())?;
            if to == 0 {
                return Err(err());
            }
            match from.trim() {
                "25" | "smtp" => map.smtp = Some(to),
                "443" | "https" => map.https = Some(to),
                _ => return Err(err()),
            }
        }
        Ok(map)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_display() {
        let m: PortMap = "25=2525,443=8443".parse().unwrap();
        assert_eq!((m.smtp(), m.https()), (2525, 8443));
        assert_eq!(m.to_string(), "25=2525,443=8443");
        assert_eq!("443=1".parse::<PortMap>().unwrap().smtp(), 25);
        assert_eq!("".parse::<PortMap>().unwrap(), PortMap::default());
        for bad in ["25", "26=1", "25=0", "25=x", "25=70000"] {
            assert!(bad.parse::<PortMap>().is_err(), "{bad}");
        }
    }
}
