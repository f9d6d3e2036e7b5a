//! Revocations of a user or a login session, for any issuer or for one.

use std::collections::HashMap;

/// Entries keyed by a user's `sub` or a session's `sid`: for every issuer (a revocation that
/// names none), or for one issuer's (`iss`, key) pair. A lookup finds both: the first matches
/// any token with that key, the second only tokens of that issuer.
#[derive(Debug)]
pub(super) struct ByIssuer<V> {
    any: HashMap<Box<str>, V>,
    of: HashMap<Box<str>, HashMap<Box<str>, V>>,
}

impl<V> Default for ByIssuer<V> {
    fn default() -> Self {
        Self {
            any: HashMap::new(),
            of: HashMap::new(),
        }
    }
}

impl<V: Copy> ByIssuer<V> {
    /// Adds `value` under (`iss`, `key`), or merges it into the entry there; returns what the
    /// entry holds now.
    pub(super) fn upsert(
        &mut self,
        iss: Option<&str>,
        key: impl AsRef<str> + Into<Box<str>>,
        value: V,
        merge: impl FnOnce(V, V) -> V,
    ) -> V {
        let map = match iss {
            None => &mut self.any,
            Some(iss) => match self.of.get_mut(iss) {
                Some(keys) => keys,
                None => self.of.entry(iss.into()).or_default(),
            },
        };
        match map.get_mut(key.as_ref()) {
            Some(old) => {
                *old = merge(*old, value);
                *old
            }
            None => {
                map.insert(key.into(), value);
                value
            }
        }
    }

    /// Room for `additional` more entries for every issuer (those of one issuer grow as they come).
    pub(super) fn reserve(&mut self, additional: usize) {
        self.any.reserve(additional);
    }

    /// The entries that apply to a token of `iss` with this `key`: the one for every issuer
    /// and the one for `iss`. No allocation.
    pub(super) fn matching(&self, iss: Option<&str>, key: &str) -> impl Iterator<Item = V> + '_ {
        let of_issuer = iss
            .and_then(|iss| self.of.get(iss))
            .and_then(|keys| keys.get(key));
        self.any.get(key).into_iter().chain(of_issuer).copied()
    }

    /// Keeps the entries `keep` accepts.
    pub(super) fn retain(&mut self, mut keep: impl FnMut(&V) -> bool) {
        self.any.retain(|_, v| keep(v));
        self.of.retain(|_, keys| {
            keys.retain(|_, v| keep(v));
            !keys.is_empty()
        });
    }

    /// Every entry: (`iss`, key, value).
    pub(super) fn iter(&self) -> impl Iterator<Item = (Option<&str>, &str, V)> + '_ {
        let any = self.any.iter().map(|(k, v)| (None, &**k, *v));
        let of = self
            .of
            .iter()
            .flat_map(|(iss, keys)| keys.iter().map(move |(k, v)| (Some(&**iss), &**k, *v)));
        any.chain(of)
    }

    /// The entry under exactly (`iss`, `key`).
    pub(super) fn get(&self, iss: Option<&str>, key: &str) -> Option<V> {
        match iss {
            None => self.any.get(key).copied(),
            Some(iss) => self.of.get(iss)?.get(key).copied(),
        }
    }

    pub(super) fn len(&self) -> usize {
        self.any.len() + self.of.values().map(HashMap::len).sum::<usize>()
    }

    pub(super) fn is_empty(&self) -> bool {
        self.any.is_empty() && self.of.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::ByIssuer;

    #[test]
    fn an_issuer_entry_matches_that_issuer_only_and_any_matches_all() {
        let mut map = ByIssuer::default();
        map.upsert(Some("A"), "42", 1u64, u64::max);
        assert_eq!(map.matching(Some("A"), "42").collect::<Vec<_>>(), [1]);
        assert_eq!(map.matching(Some("B"), "42").count(), 0);
        assert_eq!(map.matching(None, "42").count(), 0);
        map.upsert(None, "42", 5, u64::max);
        assert_eq!(map.matching(Some("B"), "42").collect::<Vec<_>>(), [5]);
        assert_eq!(map.matching(Some("A"), "42").collect::<Vec<_>>(), [5, 1]);
        map.upsert(Some("A"), "42", 3, u64::max);
        assert_eq!(map.len(), 2);
        map.retain(|v| *v > 4);
        assert_eq!(map.len(), 1);
        assert!(
            map.of.is_empty(),
            "an issuer left without entries is dropped"
        );
    }
}
