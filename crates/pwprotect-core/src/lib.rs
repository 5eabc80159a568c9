//! # pwprotect-core
//!
//! The banned-password evaluation that Microsoft Entra Password Protection performs on a domain
//! controller, written from its public description (`shared/research/password.md` §1.1), pure:
//! no I/O, no clock, no logging.
//!
//! 1. **Normalise** ([`normalize`]): lower case, then a fixed character map (the compatible
//!    [`Profile::Compatible`]: `0→o 1→l |→l !→l i→l $→s 5→s @→a 3→e 2→z`; the
//!    [`Profile::Extended`] adds `4→a 6→g 7→t 8→b 9→g €→e §→s ^→a (→c`). Nothing is removed.
//! 2. **User name**: each identity word of 4 or more characters (account name, full name, the
//!    local part of the UPN, split at every non-alphanumeric character), normalised; one found
//!    in the normalised password rejects it first.
//! 3. **Score**: every occurrence, overlapping, of every banned term (global and custom,
//!    normalised the same way); the score is the minimum over all segmentations of the password
//!    where a term occurrence counts one point and any other character one point. With a term
//!    present and a score below the threshold (5), rejected. [`Policy::strict`] rejects any
//!    term present.
//! 4. **Edit distance**: if nothing failed yet, a whole normalised password within
//!    Levenshtein distance 1 of a banned term is rejected.
//!
//! The [`Verdict`] names why (`user-name`, `banned-global`, `banned-custom`, `banned-both`),
//! the score and the terms. Normalised copies of the password are zeroised when dropped.
//!
//! [`signed`] is the signed policy file that carries lists, threshold and mode to the agents.

#![forbid(unsafe_code)]

pub mod breach;
pub mod fuse;
pub mod signed;

use std::collections::{BTreeSet, HashMap};

use aho_corasick::{AhoCorasick, MatchKind};
use serde::Serialize;
use zeroize::Zeroizing;

/// The default threshold: a score below it rejects (Microsoft's 5 points).
pub const DEFAULT_THRESHOLD: u32 = 5;
/// Identity words shorter than this are ignored.
pub const MIN_IDENTITY_WORD: usize = 4;

/// The character map applied after lower-casing.
#[derive(Clone, Copy, Debug, Default, Eq, PartialEq, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Profile {
    /// Microsoft's map: `0→o 1→l |→l !→l i→l $→s 5→s @→a 3→e 2→z`.
    #[default]
    Compatible,
    /// The compatible map plus `4→a 6→g 7→t 8→b 9→g €→e §→s ^→a (→c`.
    Extended,
}

impl Profile {
    fn map(self, c: char) -> char {
        match c {
            '0' => 'o',
            '1' | '|' | '!' | 'i' => 'l',
            '$' | '5' => 's',
            '@' => 'a',
            '3' => 'e',
            '2' => 'z',
            _ if self == Self::Compatible => c,
            '4' | '^' => 'a',
            '6' | '9' => 'g',
            '7' => 't',
            '8' => 'b',
            '€' => 'e',
            '§' => 's',
            '(' => 'c',
            _ => c,
        }
    }
}

/// Lower case (Unicode, locale-independent), then the profile's character map.
pub fn normalize(s: &str, profile: Profile) -> String {
    s.chars()
        .flat_map(char::to_lowercase)
        .map(|c| profile.map(c))
        .collect()
}

/// Which lists a term comes from.
#[derive(Clone, Copy, Debug, Default, Eq, PartialEq)]
struct Lists {
    global: bool,
    custom: bool,
}

impl Lists {
    fn union(self, o: Self) -> Self {
        Self {
            global: self.global || o.global,
            custom: self.custom || o.custom,
        }
    }

    fn reason(self) -> Option<Reason> {
        match (self.global, self.custom) {
            (true, true) => Some(Reason::BannedBoth),
            (true, false) => Some(Reason::BannedGlobal),
            (false, true) => Some(Reason::BannedCustom),
            (false, false) => None,
        }
    }
}

/// A policy ready to evaluate passwords: the normalised terms of both lists in one automaton.
#[derive(Clone, Debug)]
pub struct Policy {
    terms: Vec<(String, Lists)>,
    automaton: Option<AhoCorasick>,
    /// Term indices by length in characters (for the edit-distance step).
    by_len: HashMap<usize, Vec<usize>>,
    /// A score below this rejects.
    pub threshold: u32,
    /// Reject any password that contains a banned term, whatever its score.
    pub strict: bool,
    /// The normalisation profile.
    pub profile: Profile,
}

/// Why a policy cannot be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PolicyError {
    /// The term automaton could not be built (too many or too long terms).
    #[error("banned terms: {0}")]
    Automaton(String),
}

impl Policy {
    /// A policy from the global and custom lists (any case, any substitutions: they are
    /// normalised here; empty terms are ignored).
    pub fn new<'a>(
        global: impl IntoIterator<Item = &'a str>,
        custom: impl IntoIterator<Item = &'a str>,
        profile: Profile,
    ) -> Result<Self, PolicyError> {
        let mut index: HashMap<String, usize> = HashMap::new();
        let mut terms: Vec<(String, Lists)> = Vec::new();
        let mut add = |t: &str, lists: Lists| {
            let n = normalize(t.trim(), profile);
            if n.is_empty() {
                return;
            }
            match index.get(&n) {
                Some(&i) => terms[i].1 = terms[i].1.union(lists),
                None => {
                    index.insert(n.clone(), terms.len());
                    terms.push((n, lists));
                }
            }
        };
        for t in global {
            add(
                t,
                Lists {
                    global: true,
                    custom: false,
                },
            );
        }
        for t in custom {
            add(
                t,
                Lists {
                    global: false,
                    custom: true,
                },
            );
        }
        let automaton = if terms.is_empty() {
            None
        } else {
            Some(
                AhoCorasick::builder()
                    .match_kind(MatchKind::Standard)
                    .build(terms.iter().map(|(t, _)| t.as_str()))
                    .map_err(|e| PolicyError::Automaton(e.to_string()))?,
            )
        };
        let mut by_len: HashMap<usize, Vec<usize>> = HashMap::new();
        for (i, (t, _)) in terms.iter().enumerate() {
            by_len.entry(t.chars().count()).or_default().push(i);
        }
        Ok(Self {
            terms,
            automaton,
            by_len,
            threshold: DEFAULT_THRESHOLD,
            strict: false,
            profile,
        })
    }

    /// How many distinct normalised terms.
    pub fn len(&self) -> usize {
        self.terms.len()
    }

    /// True without terms.
    pub fn is_empty(&self) -> bool {
        self.terms.is_empty()
    }
}

/// Who the password is for: each field is split into identity words.
#[derive(Clone, Debug, Default)]
pub struct Identity<'a> {
    /// The account (sAMAccountName, uid).
    pub account: Option<&'a str>,
    /// The display or full name.
    pub full_name: Option<&'a str>,
    /// The user principal name; its local part counts (the domain part is the realm).
    pub upn: Option<&'a str>,
}

impl Identity<'_> {
    /// The normalised identity words of 4 or more characters.
    pub fn words(&self, profile: Profile) -> Vec<Zeroizing<String>> {
        let upn_local = self.upn.map(|u| u.split('@').next().unwrap_or(u));
        let mut out: Vec<Zeroizing<String>> = Vec::new();
        for field in [self.account, self.full_name, upn_local]
            .into_iter()
            .flatten()
        {
            for w in field.split(|c: char| !c.is_alphanumeric()) {
                if w.chars().count() >= MIN_IDENTITY_WORD {
                    let n = Zeroizing::new(normalize(w, profile));
                    if !out.iter().any(|o| **o == *n) {
                        out.push(n);
                    }
                }
            }
        }
        out
    }
}

/// Why a password is rejected.
#[derive(Clone, Copy, Debug, Eq, PartialEq, Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Reason {
    /// It contains an identity word.
    UserName,
    /// Terms of the global list only.
    BannedGlobal,
    /// Terms of the custom list only.
    BannedCustom,
    /// Terms of both lists.
    BannedBoth,
    /// In the breached-password store (the shell's lookup, [`breach`]; never from
    /// [`evaluate`]).
    Breached,
}

impl Reason {
    /// `user-name`, `banned-global`, `banned-custom`, `banned-both`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::UserName => "user-name",
            Self::BannedGlobal => "banned-global",
            Self::BannedCustom => "banned-custom",
            Self::BannedBoth => "banned-both",
            Self::Breached => "breached",
        }
    }
}

/// Which step decided a rejection.
#[derive(Clone, Copy, Debug, Eq, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Rule {
    /// An identity word (step 2).
    UserName,
    /// The score under the threshold (step 3).
    Score,
    /// A banned term in strict mode (step 3).
    Strict,
    /// The whole password within edit distance 1 of a term (step 4).
    EditDistance,
    /// Found in the breached-password store.
    Breach,
}

/// The evaluation of one password.
#[derive(Clone, Debug, Eq, PartialEq, Serialize)]
pub struct Verdict {
    /// Accepted by the policy.
    pub accepted: bool,
    /// The score when a banned term occurs in the password; `None` otherwise.
    pub score: Option<u32>,
    /// Why it is rejected (`None` when accepted).
    pub reason: Option<Reason>,
    /// The step that rejected it.
    pub rule: Option<Rule>,
    /// The normalised banned terms found (or the one within edit distance 1), sorted. Identity
    /// words are not listed: they are the user's own data.
    pub terms: Vec<String>,
}

impl Verdict {
    /// Marks an accepted password as breached (found in the store by the shell): rejected with
    /// its own reason. A password the policy already rejects keeps that reason.
    pub fn breached(&mut self) {
        if self.accepted {
            self.accepted = false;
            self.reason = Some(Reason::Breached);
            self.rule = Some(Rule::Breach);
        }
    }
}

/// Evaluates `password` for `identity` under `policy`.
pub fn evaluate(policy: &Policy, password: &str, identity: &Identity<'_>) -> Verdict {
    let norm = Zeroizing::new(normalize(password, policy.profile));
    // Step 2: identity words first.
    if identity
        .words(policy.profile)
        .iter()
        .any(|w| norm.contains(w.as_str()))
    {
        return Verdict {
            accepted: false,
            score: None,
            reason: Some(Reason::UserName),
            rule: Some(Rule::UserName),
            terms: Vec::new(),
        };
    }
    // Step 3: every occurrence, overlapping.
    let mut found: BTreeSet<usize> = BTreeSet::new();
    let mut matches: Vec<(usize, usize)> = Vec::new();
    if let Some(ac) = &policy.automaton {
        for m in ac.find_overlapping_iter(norm.as_str()) {
            found.insert(m.pattern().as_usize());
            matches.push((m.start(), m.end()));
        }
    }
    if !found.is_empty() {
        let score = min_score(&norm, &mut matches);
        let lists = found
            .iter()
            .fold(Lists::default(), |a, &i| a.union(policy.terms[i].1));
        let terms: Vec<String> = found
            .iter()
            .map(|&i| policy.terms[i].0.clone())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let rule = if policy.strict {
            Some(Rule::Strict)
        } else if score < policy.threshold {
            Some(Rule::Score)
        } else {
            None
        };
        return Verdict {
            accepted: rule.is_none(),
            score: Some(score),
            reason: rule.and_then(|_| lists.reason()),
            rule,
            terms,
        };
    }
    // Step 4: the whole password within edit distance 1 of a term.
    let len = norm.chars().count();
    let lengths: BTreeSet<usize> = [len.saturating_sub(1), len, len + 1].into();
    for l in lengths {
        for &i in policy.by_len.get(&l).into_iter().flatten() {
            let (term, lists) = &policy.terms[i];
            if within_one(&norm, term) {
                return Verdict {
                    accepted: false,
                    score: None,
                    reason: lists.reason(),
                    rule: Some(Rule::EditDistance),
                    terms: vec![term.clone()],
                };
            }
        }
    }
    Verdict {
        accepted: true,
        score: None,
        reason: None,
        rule: None,
        terms: Vec::new(),
    }
}

/// The minimum over segmentations: a term occurrence (`start..end` in bytes) costs one point,
/// any other character one point.
fn min_score(norm: &str, matches: &mut [(usize, usize)]) -> u32 {
    const INF: u32 = u32::MAX;
    let n = norm.len();
    let mut best = vec![INF; n + 1];
    best[0] = 0;
    matches.sort_unstable_by_key(|m| m.0);
    let mut next_match = 0;
    let mut boundaries: Vec<usize> = norm.char_indices().map(|(i, _)| i).collect();
    boundaries.push(n);
    for w in boundaries.windows(2) {
        let (at, next) = (w[0], w[1]);
        if best[at] == INF {
            continue;
        }
        let here = best[at];
        best[next] = best[next].min(here + 1);
        while next_match < matches.len() && matches[next_match].0 < at {
            next_match += 1;
        }
        let mut k = next_match;
        while k < matches.len() && matches[k].0 == at {
            let end = matches[k].1;
            best[end] = best[end].min(here + 1);
            k += 1;
        }
    }
    best[n]
}

/// Levenshtein distance of at most 1 (one substitution, insertion or deletion), by characters.
pub fn within_one(a: &str, b: &str) -> bool {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let (short, long) = if a.len() <= b.len() {
        (&a, &b)
    } else {
        (&b, &a)
    };
    match long.len() - short.len() {
        0 => {
            short
                .iter()
                .zip(long.iter())
                .filter(|(x, y)| x != y)
                .count()
                <= 1
        }
        1 => {
            // Skip the first difference in the longer one; the rest must be equal.
            let i = short
                .iter()
                .zip(long.iter())
                .position(|(x, y)| x != y)
                .unwrap_or(short.len());
            short[i..] == long[i + 1..]
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn score_is_the_minimum_segmentation() {
        // Overlapping terms: `abc` and `bcd` in `abcd`: abc + d = 2, a + bcd = 2.
        let p = Policy::new(["abc", "bcd"], [], Profile::Compatible).unwrap();
        let v = evaluate(&p, "abcd", &Identity::default());
        assert_eq!(v.score, Some(2));
        // A longer term beats its parts.
        let p = Policy::new(["ab", "cd", "abcd"], [], Profile::Compatible).unwrap();
        assert_eq!(evaluate(&p, "abcdx", &Identity::default()).score, Some(2));
    }

    #[test]
    fn edit_distance_one() {
        assert!(within_one("abcdef", "abcdeg"));
        assert!(within_one("abcdef", "abcde"));
        assert!(within_one("abcde", "abcdef"));
        assert!(within_one("abcdef", "xabcdef"));
        assert!(within_one("abc", "abc"));
        assert!(!within_one("abcdef", "abcdgh"));
        assert!(!within_one("abcdef", "abcd"));
        assert!(within_one("", "a"));
        assert!(!within_one("ab", "ba"));
    }
}
