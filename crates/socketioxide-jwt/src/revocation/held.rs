//! What a list holds: the revoked tokens, users and login sessions, each until it may be
//! forgotten. One rule decides whether a token is revoked ([`Held::revokes`]), for a token being
//! verified and for a live socket alike; an insert merges with what is held (never weakens it).

use std::collections::HashMap;

use super::entries::ByIssuer;
use super::Revocation;
use crate::claims::RegisteredClaims;

/// Revocations, by kind. Building one from N revocations is O(N); an insert or a lookup is O(1).
#[derive(Debug, Default)]
pub(super) struct Held {
    /// `until` by `jti`.
    tokens: HashMap<Box<str>, u64>,
    /// (`issued_before`, `until`) by `sub`.
    users: ByIssuer<(u64, u64)>,
    /// `until` by `sid`.
    sessions: ByIssuer<u64>,
}

/// What revocations match a token by.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct TokenKeys<'a> {
    pub(super) sub: Option<&'a str>,
    pub(super) iss: Option<&'a str>,
    pub(super) jti: Option<&'a str>,
    pub(super) sid: Option<&'a str>,
    /// When its login session began, as far as the token tells: the earlier of `iat` and
    /// `auth_time` (`None` without `iat`). A user revoked at `t` loses every token whose session
    /// began by `t`, so a token refreshed later from such a session (same `auth_time`, a new
    /// `iat`) is refused too.
    pub(super) session_start: Option<u64>,
}

impl<'a> TokenKeys<'a> {
    pub(super) fn of(claims: &'a RegisteredClaims) -> Self {
        Self {
            sub: claims.sub.as_deref(),
            iss: claims.iss.as_deref(),
            jti: claims.jti.as_deref(),
            sid: claims.sid.as_deref(),
            session_start: session_start(claims.iat, claims.auth_time),
        }
    }
}

/// The earlier of `iat` and `auth_time`; `None` without `iat` (such a token is revoked with its
/// user whenever it was issued).
pub(super) fn session_start(iat: Option<u64>, auth_time: Option<u64>) -> Option<u64> {
    iat.map(|iat| auth_time.map_or(iat, |auth_time| auth_time.min(iat)))
}

fn later((a_before, a_until): (u64, u64), (b_before, b_until): (u64, u64)) -> (u64, u64) {
    (a_before.max(b_before), a_until.max(b_until))
}

impl Held {
    /// Holds `revocation` (merged with what is held under its key: the later `issued_before`
    /// and `until` of the two); returns the entry as held now.
    pub(super) fn insert(&mut self, revocation: Revocation) -> Revocation {
        self.absorb(revocation.clone());
        match revocation {
            Revocation::Token { jti, until } => {
                let until = self.tokens.get(jti.as_str()).copied().unwrap_or(until);
                Revocation::Token { jti, until }
            }
            Revocation::User {
                sub,
                iss,
                issued_before,
                until,
            } => {
                let held = self.users.get(iss.as_deref(), &sub);
                let (issued_before, until) = held.unwrap_or((issued_before, until));
                Revocation::User {
                    sub,
                    iss,
                    issued_before,
                    until,
                }
            }
            Revocation::Session { sid, iss, until } => {
                let until = self.sessions.get(iss.as_deref(), &sid).unwrap_or(until);
                Revocation::Session { sid, iss, until }
            }
        }
    }

    /// Empty, with room for `revocations` without growing.
    pub(super) fn sized_for(revocations: &[Revocation]) -> Self {
        let mut held = Self::default();
        let count = |kind: fn(&Revocation) -> bool| revocations.iter().filter(|r| kind(r)).count();
        held.tokens
            .reserve(count(|r| matches!(r, Revocation::Token { .. })));
        held.users
            .reserve(count(|r| matches!(r, Revocation::User { iss: None, .. })));
        held.sessions.reserve(count(|r| {
            matches!(r, Revocation::Session { iss: None, .. })
        }));
        held
    }

    /// Holds `revocation` as [`insert`](Self::insert) does, moving its strings in: for loading
    /// many, where the merged entry is not needed back.
    pub(super) fn absorb(&mut self, revocation: Revocation) {
        match revocation {
            Revocation::Token { jti, until } => {
                let held = self.tokens.entry(jti.into_boxed_str()).or_insert(until);
                *held = (*held).max(until);
            }
            Revocation::User {
                sub,
                iss,
                issued_before,
                until,
            } => {
                self.users
                    .upsert(iss.as_deref(), sub, (issued_before, until), later);
            }
            Revocation::Session { sid, iss, until } => {
                self.sessions.upsert(iss.as_deref(), sid, until, u64::max);
            }
        }
    }

    /// Whether a token with these keys is revoked by an entry still valid at `now`.
    pub(super) fn revokes(&self, token: &TokenKeys<'_>, now: u64) -> bool {
        let by_token = token
            .jti
            .and_then(|jti| self.tokens.get(jti))
            .is_some_and(|until| *until >= now);
        let by_user = || {
            token.sub.is_some_and(|sub| {
                !self.users.is_empty()
                    && self.users.matching(token.iss, sub).any(|(before, until)| {
                        until >= now && token.session_start.is_none_or(|s| s <= before)
                    })
            })
        };
        let by_session = || {
            token.sid.is_some_and(|sid| {
                !self.sessions.is_empty()
                    && self
                        .sessions
                        .matching(token.iss, sid)
                        .any(|until| until >= now)
            })
        };
        by_token || by_user() || by_session()
    }

    /// What this holds that `other` does not cover, as revocations (only those are copied).
    pub(super) fn missing_from(&self, other: &Held) -> Vec<Revocation> {
        let tokens = self
            .tokens
            .iter()
            .filter(|(jti, until)| other.tokens.get(&**jti).is_none_or(|u| u < until))
            .map(|(jti, until)| Revocation::Token {
                jti: jti.to_string(),
                until: *until,
            });
        let users = self.users.iter().filter(|(iss, sub, (before, until))| {
            other
                .users
                .get(*iss, sub)
                .is_none_or(|(b, u)| b < *before || u < *until)
        });
        let users = users.map(|(iss, sub, (issued_before, until))| Revocation::User {
            sub: sub.to_owned(),
            iss: iss.map(String::from),
            issued_before,
            until,
        });
        let sessions = self
            .sessions
            .iter()
            .filter(|(iss, sid, until)| other.sessions.get(*iss, sid).is_none_or(|u| u < *until))
            .map(|(iss, sid, until)| Revocation::Session {
                sid: sid.to_owned(),
                iss: iss.map(String::from),
                until,
            });
        tokens.chain(users).chain(sessions).collect()
    }

    /// Drops the entries no longer valid at `now`.
    pub(super) fn forget_expired(&mut self, now: u64) {
        self.tokens.retain(|_, until| *until >= now);
        self.users.retain(|(_, until)| *until >= now);
        self.sessions.retain(|until| *until >= now);
    }

    /// How many of each kind.
    pub(super) fn counts(&self) -> super::RevocationCounts {
        super::RevocationCounts {
            tokens: self.tokens.len(),
            users: self.users.len(),
            sessions: self.sessions.len(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(issued_before: u64, until: u64) -> Revocation {
        Revocation::User {
            sub: "42".into(),
            iss: None,
            issued_before,
            until,
        }
    }

    #[test]
    fn a_user_revocation_covers_a_session_that_began_before_it_whatever_the_iat() {
        let mut held = Held::default();
        held.insert(user(100, 1000));
        let token = |iat, auth_time| TokenKeys {
            sub: Some("42"),
            session_start: session_start(Some(iat), auth_time),
            ..TokenKeys::default()
        };
        assert!(held.revokes(&token(90, None), 500));
        assert!(!held.revokes(&token(110, None), 500), "a later login");
        assert!(
            held.revokes(&token(110, Some(80)), 500),
            "refreshed after the revocation from a login that began before it"
        );
        assert!(
            held.revokes(&token(90, Some(200)), 500),
            "an auth_time ahead of iat does not move the session's start"
        );
        assert!(!held.revokes(&token(110, Some(105)), 500));
        assert!(!held.revokes(&token(90, None), 1001), "expired");
        assert!(held.revokes(
            &TokenKeys {
                sub: Some("42"),
                ..TokenKeys::default()
            },
            500
        ));
    }

    #[test]
    fn inserts_merge_and_never_weaken_and_missing_from_says_what_another_lacks() {
        let mut held = Held::default();
        assert_eq!(held.insert(user(100, 1000)), user(100, 1000));
        assert_eq!(held.insert(user(50, 2000)), user(100, 2000));
        let holding = |r: Revocation| {
            let mut other = Held::default();
            other.insert(r);
            other
        };
        assert!(held.missing_from(&holding(user(100, 2000))).is_empty());
        assert_eq!(held.missing_from(&holding(user(10, 10))), [user(100, 2000)]);
        assert_eq!(
            held.missing_from(&holding(user(101, 10))),
            [user(100, 2000)]
        );
        let token = Revocation::Token {
            jti: "j".into(),
            until: 7,
        };
        held.insert(token.clone());
        assert_eq!(held.missing_from(&Held::default()).len(), 2);
        assert!(holding(token).missing_from(&held).is_empty());
        held.forget_expired(8);
        assert_eq!(held.counts().tokens, 0);
        assert_eq!(held.counts().users, 1);
    }
}
