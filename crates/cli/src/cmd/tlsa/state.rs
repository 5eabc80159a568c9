//! The rollover state file: when each TLSA record was first seen, so that `tlsa rollover
//! --check` can tell whether a record has been published long enough.
//!
//! ```json
//! {
//!   "version": 1,
//!   "records": {
//!     "_25._tcp.mx.example.com.": {
//!       "3 1 1 9f2c...": { "first_seen": 1764864000, "ttl": 3600 }
//!     }
//!   }
//! }
//! ```
//!
//! Written atomically (a temporary file in the same directory, then a rename). A file that
//! cannot be read or parsed is an error and is never overwritten: it may hold the only record of
//! when a rollover started.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use mailsec_core::dane::Tlsa;
use serde::{Deserialize, Serialize};

/// What was seen, where, since when.
pub(super) struct State {
    path: PathBuf,
    file: StateFile,
    changed: bool,
}

#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct StateFile {
    version: u32,
    /// Per owner name (`_25._tcp.host.`), per record in presentation form (`3 1 1 <hex>`).
    records: BTreeMap<String, BTreeMap<String, Seen>>,
}

#[derive(Clone, Copy, Debug, Deserialize, Eq, PartialEq, Serialize)]
#[serde(deny_unknown_fields)]
struct Seen {
    /// When the record was first seen in a secure answer (Unix seconds).
    first_seen: u64,
    /// The largest TTL seen for it (a caching resolver counts the TTL down).
    ttl: u32,
}

impl State {
    /// `$XDG_STATE_HOME/mailsec/rollover.json`, else `~/.local/state/mailsec/rollover.json`
    /// (the XDG base directory specification ignores a relative `XDG_STATE_HOME`).
    pub(super) fn default_path() -> anyhow::Result<PathBuf> {
        let base = match std::env::var_os("XDG_STATE_HOME").map(PathBuf::from) {
            Some(dir) if dir.is_absolute() => dir,
            _ => match std::env::var_os("HOME") {
                Some(home) if !home.is_empty() => PathBuf::from(home).join(".local/state"),
                _ => bail!(
                    "no place for the rollover state: neither XDG_STATE_HOME nor HOME is set; give --state FILE"
                ),
            },
        };
        Ok(base.join("mailsec").join(FILE_NAME))
    }

    /// Reads `path`; a missing file is an empty state (created on the first save).
    pub(super) fn load(path: &Path) -> anyhow::Result<Self> {
        let file = match std::fs::read(path) {
            Ok(bytes) => parse(&bytes).with_context(|| {
                format!(
                    "rollover state file {}: fix or remove it (mailsec does not overwrite it)",
                    path.display()
                )
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => StateFile {
                version: VERSION,
                records: BTreeMap::new(),
            },
            Err(e) => {
                return Err(e).with_context(|| {
                    format!("cannot read the rollover state file {}", path.display())
                });
            }
        };
        Ok(Self {
            path: path.to_owned(),
            file,
            changed: false,
        })
    }

    /// The file.
    pub(super) fn path(&self) -> &Path {
        &self.path
    }

    /// Records the secure RRset at `owner` as seen at `now` with `ttl`: new records get `now` as
    /// their first sighting, known ones keep theirs (and the larger TTL), records no longer
    /// published are forgotten (published again, they start over).
    pub(super) fn observe(&mut self, owner: &str, rrset: &[Tlsa], ttl: u32, now: u64) {
        let before = self.file.records.get(owner).cloned();
        let old = self.file.records.remove(owner).unwrap_or_default();
        let mut seen = BTreeMap::new();
        for t in rrset {
            let key = t.to_string();
            let entry = match old.get(&key) {
                Some(s) => Seen {
                    first_seen: s.first_seen,
                    ttl: s.ttl.max(ttl),
                },
                None => Seen {
                    first_seen: now,
                    ttl,
                },
            };
            seen.insert(key, entry);
        }
        if !seen.is_empty() {
            self.file.records.insert(owner.to_owned(), seen);
        }
        if self.file.records.get(owner) != before.as_ref() {
            self.changed = true;
        }
    }

    /// Forgets `owner` (a validated denial: nothing is published there).
    pub(super) fn forget(&mut self, owner: &str) {
        if self.file.records.remove(owner).is_some() {
            self.changed = true;
        }
    }

    /// When `t` was first seen at `owner`.
    pub(super) fn first_seen(&self, owner: &str, t: &Tlsa) -> Option<u64> {
        self.file
            .records
            .get(owner)
            .and_then(|m| m.get(&t.to_string()))
            .map(|s| s.first_seen)
    }

    /// The largest TTL seen at `owner` (0 when nothing was).
    pub(super) fn ttl(&self, owner: &str) -> u32 {
        self.file
            .records
            .get(owner)
            .and_then(|m| m.values().map(|s| s.ttl).max())
            .unwrap_or(0)
    }

    /// Writes the file if anything changed: a temporary file beside it, then a rename, so a
    /// crash leaves the old file or the new one, never half of one.
    pub(super) fn save(&self) -> anyhow::Result<()> {
        if !self.changed {
            return Ok(());
        }
        let what = || {
            format!(
                "cannot write the rollover state file {}",
                self.path.display()
            )
        };
        let dir = match self.path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        std::fs::create_dir_all(dir).with_context(what)?;
        let mut tmp = tempfile::Builder::new()
            .prefix(".rollover-")
            .suffix(".tmp")
            .tempfile_in(dir)
            .with_context(what)?;
        let mut doc = serde_json::to_vec_pretty(&self.file).with_context(what)?;
        doc.push(b'\n');
        tmp.write_all(&doc).with_context(what)?;
        tmp.as_file().sync_all().with_context(what)?;
        tmp.persist(&self.path)
            .map_err(|e| e.error)
            .with_context(what)?;
        Ok(())
    }
}

fn parse(bytes: &[u8]) -> anyhow::Result<StateFile> {
    let file: StateFile = serde_json::from_slice(bytes).context("not a mailsec state file")?;
    if file.version != VERSION {
        bail!(
            "version {} (this mailsec reads version {VERSION})",
            file.version
        );
    }
    Ok(file)
}

const VERSION: u32 = 1;
const FILE_NAME: &str = "rollover.json";

#[cfg(test)]
mod tests {
    use super::*;

    fn record(b: u8) -> Tlsa {
        Tlsa::new(3, 1, 1, vec![b; 32])
    }

    #[test]
    fn first_sightings_are_kept_and_withdrawn_records_forgotten() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/dir/rollover.json");
        let owner = "_25._tcp.mx.example.test.";
        let mut s = State::load(&path).unwrap();
        s.observe(owner, &[record(1)], 300, 1000);
        s.save().unwrap();
        let mut s = State::load(&path).unwrap();
        assert_eq!(s.first_seen(owner, &record(1)), Some(1000));
        // Seen again later with a counted-down TTL: the first sighting and the TTL stay.
        s.observe(owner, &[record(1), record(2)], 120, 2000);
        assert_eq!(s.first_seen(owner, &record(1)), Some(1000));
        assert_eq!(s.first_seen(owner, &record(2)), Some(2000));
        assert_eq!(s.ttl(owner), 300);
        // Withdrawn, then published again: it starts over.
        s.observe(owner, &[record(2)], 300, 3000);
        s.observe(owner, &[record(1), record(2)], 300, 4000);
        assert_eq!(s.first_seen(owner, &record(1)), Some(4000));
        s.forget(owner);
        assert_eq!(s.first_seen(owner, &record(2)), None);
        s.save().unwrap();
        // Nothing changed, nothing written.
        let before = std::fs::metadata(&path).unwrap().modified().unwrap();
        let mut s = State::load(&path).unwrap();
        s.forget(owner);
        assert!(!s.changed);
        s.save().unwrap();
        assert_eq!(
            std::fs::metadata(&path).unwrap().modified().unwrap(),
            before
        );
        // No temporary file left behind.
        let names: Vec<_> = std::fs::read_dir(path.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["rollover.json"]);
    }

    #[test]
    fn a_corrupt_file_is_an_error_and_stays() {
        let dir = tempfile::tempdir().unwrap();
        for text in [
            "{not json",
            r#"{"version": 2, "records": {}}"#,
            r#"{"version": 1, "records": {}, "extra": 1}"#,
            "",
        ] {
            let path = dir.path().join("rollover.json");
            std::fs::write(&path, text).unwrap();
            let err = State::load(&path).err().unwrap();
            let msg = format!("{err:#}");
            assert!(msg.contains(path.to_str().unwrap()), "{msg}");
            assert_eq!(std::fs::read_to_string(&path).unwrap(), text);
        }
    }
}
