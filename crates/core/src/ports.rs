//! Port overrides for labs and tests.
//!
//! mailsec speaks SMTP on port 25 and fetches MTA-STS policies on port 443, as RFC 5321 and
//! RFC 8461 §3.3 require, and probes the other mail ports (587, 465, 143, 993, 110, 995) on
//! request. A lab runs its servers on unprivileged ephemeral ports instead, and a [`PortMap`]
//! (`25=2525,443=8443,993=10993`, from `MAILSEC_LAB_PORTS` or `--lab-ports`) redirects
//! connections there. It changes where mailsec connects, never what it looks up: TLSA records are
//! still queried at `_25._tcp`. **For labs and testing only.**

use std::fmt;
use std::str::FromStr;

/// Where to connect instead of the standard ports: a small map from the logical port (the one
/// the protocol and the DNS names use) to the port dialled. Unmapped ports are dialled as they
/// are. At most [`PortMap::CAPACITY`] entries, so the map stays `Copy`.
#[derive(Clone, Copy, Debug, Default, Eq, PartialEq)]
pub struct PortMap {
    /// Sorted by logical port; the first `len` entries are in use, the others are `(0, 0)`, so
    /// that equal maps compare equal.
    entries: [(u16, u16); Self::CAPACITY],
    len: u8,
}

impl PortMap {
    /// The largest number of mapped ports.
    pub const CAPACITY: usize = 16;

    /// An empty map: every port is dialled as it is.
    pub const fn new() -> Self {
        Self {
            entries: [(0, 0); Self::CAPACITY],
            len: 0,
        }
    }

    /// The port to dial for the logical `port`.
    pub fn dial(&self, port: u16) -> u16 {
        self.get(port).unwrap_or(port)
    }

    /// The replacement of `port`, if it is mapped.
    pub fn get(&self, port: u16) -> Option<u16> {
        self.iter()
            .find(|&(from, _)| from == port)
            .map(|(_, to)| to)
    }

    /// The port to dial for SMTP (25).
    pub fn smtp(&self) -> u16 {
        self.dial(25)
    }

    /// The port to dial for HTTPS (443).
    pub fn https(&self) -> u16 {
        self.dial(443)
    }

    /// Maps `port` to `to`, replacing an earlier mapping of `port`. Refuses port 0 on either
    /// side and a map already holding [`PortMap::CAPACITY`] other ports.
    pub fn insert(&mut self, port: u16, to: u16) -> Result<(), PortMapError> {
        let err = || PortMapError(format!("{port}={to}"));
        if port == 0 || to == 0 {
            return Err(err());
        }
        let len = usize::from(self.len);
        let used = &mut self.entries[..len];
        match used.binary_search_by_key(&port, |&(from, _)| from) {
            Ok(i) => used[i].1 = to,
            Err(_) if len == Self::CAPACITY => return Err(err()),
            Err(i) => {
                self.entries[i..=len].rotate_right(1);
                self.entries[i] = (port, to);
                self.len += 1;
            }
        }
        Ok(())
    }

    /// The mappings, `(logical port, dialled port)`, by logical port.
    pub fn iter(&self) -> impl Iterator<Item = (u16, u16)> + '_ {
        self.entries[..usize::from(self.len)].iter().copied()
    }

    /// How many ports are mapped.
    pub fn len(&self) -> usize {
        usize::from(self.len)
    }

    /// True when no port is mapped.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// A map from `(logical port, dialled port)` pairs; later pairs replace earlier ones for the
/// same port, and pairs with a port 0 are skipped. More than [`PortMap::CAPACITY`] pairs do not
/// compile.
impl<const N: usize> From<[(u16, u16); N]> for PortMap {
    fn from(pairs: [(u16, u16); N]) -> Self {
        const { assert!(N <= Self::CAPACITY, "too many ports for a PortMap") };
        let mut map = Self::new();
        for (port, to) in pairs {
            // Cannot overflow (N <= CAPACITY); a zero is skipped as documented.
            let _ = map.insert(port, to);
        }
        map
    }
}

impl fmt::Display for PortMap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (from, to)) in self.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{from}={to}")?;
        }
        Ok(())
    }
}

/// Why a port map is refused.
#[derive(Clone, Debug, Eq, PartialEq, thiserror::Error)]
#[error(
    "port map {}: expected `PORT=PORT` pairs separated by commas, such as `25=2525,443=8443` \
     (ports 1-65535, at most 16 pairs)",
    crate::diag::quote(.0)
)]
pub struct PortMapError(pub String);

impl FromStr for PortMap {
    type Err = PortMapError;

    /// Parses `PORT=PORT[,PORT=PORT]...`. The logical port may also be given by its IANA service
    /// name: `smtp` (25), `submission` (587), `submissions` (465), `imap` (143), `imaps` (993),
    /// `pop3` (110), `pop3s` (995), `https` (443).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || PortMapError(s.to_owned());
        let mut map = Self::default();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (from, to) = part.split_once('=').ok_or_else(err)?;
            let to: u16 = to.trim().parse().map_err(|_| err())?;
            let from: u16 = match from.trim() {
                "smtp" => 25,
                "submission" => 587,
                "submissions" => 465,
                "imap" => 143,
                "imaps" => 993,
                "pop3" => 110,
                "pop3s" => 995,
                "https" => 443,
                number => number.parse().map_err(|_| err())?,
            };
            map.insert(from, to).map_err(|_| err())?;
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
        for bad in [
            "25", "25=0", "0=25", "25=x", "x=25", "25=70000", "70000=1", "=1",
        ] {
            assert!(bad.parse::<PortMap>().is_err(), "{bad}");
        }
    }

    #[test]
    fn any_port_can_be_mapped() {
        for (input, dial, display) in [
            ("993=10993", [25, 443, 10993, 587], "993=10993"),
            (
                "993=10993, 25=2525 ,443=8443",
                [2525, 8443, 10993, 587],
                "25=2525,443=8443,993=10993",
            ),
            ("imaps=1,smtp=2,25=3", [3, 443, 1, 587], "25=3,993=1"),
            ("submission=5870", [25, 443, 993, 5870], "587=5870"),
        ] {
            let m: PortMap = input.parse().unwrap();
            assert_eq!([25, 443, 993, 587].map(|p| m.dial(p)), dial, "{input}");
            assert_eq!(m.to_string(), display, "{input}");
            assert_eq!(m.to_string().parse::<PortMap>().unwrap(), m, "{input}");
        }
    }

    #[test]
    fn order_of_insertion_does_not_matter() {
        let a = PortMap::from([(443, 8443), (25, 2525)]);
        let b = PortMap::from([(25, 2525), (443, 8443)]);
        assert_eq!(a, b);
        assert_eq!(a.iter().collect::<Vec<_>>(), [(25, 2525), (443, 8443)]);
        assert_eq!(
            PortMap::from([(25, 1), (25, 2), (0, 3)]).to_string(),
            "25=2"
        );
    }

    #[test]
    fn capacity_is_enforced() {
        let mut m = PortMap::new();
        for p in 1..=PortMap::CAPACITY as u16 {
            m.insert(p, p + 1000).unwrap();
        }
        assert_eq!(m.len(), PortMap::CAPACITY);
        m.insert(1, 7).unwrap();
        assert!(m.insert(9999, 1).is_err());
        let text = (1..=17).map(|p| format!("{p}=1")).collect::<Vec<_>>();
        assert!(text.join(",").parse::<PortMap>().is_err());
    }
}
