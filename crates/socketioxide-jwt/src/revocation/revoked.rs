//! What is revoked, and for how long: the entries a list holds ([`Held`], under one lock) and
//! the rules that keep each long enough (a user or session revocation outlives every token it
//! could refuse, the leeway included). No sockets, no store: [`RevocationList`](super) ties
//! these to the live sockets and the backend.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::Duration;

use super::held::{Held, TokenKeys};
use super::{Revocation, RevocationCounts};
use crate::claims::RegisteredClaims;

/// How often expired entries are dropped (each is ignored once expired anyway).
const PURGE_EVERY_SECS: u64 = 60;

/// The revoked tokens, users and sessions of one list.
pub(super) struct Revoked {
    held: RwLock<Held>,
    /// When expired entries are next dropped (seconds since the epoch): at most once a
    /// minute, so that applying one revocation stays O(1).
    next_purge: AtomicU64,
    max_token_lifetime: Duration,
    /// The latest `exp` of any token checked here (`u64::MAX` once a token without `exp` was):
    /// a user revocation is kept at least until then (see
    /// [`RevocationList::revoke_user`](super::RevocationList::revoke_user)).
    latest_exp: AtomicU64,
    /// The largest leeway of the configurations using this list (whole seconds): a token is
    /// accepted until `exp` + leeway, so its revocation is kept that long.
    leeway_secs: AtomicU64,
}

impl Revoked {
    pub(super) fn new(max_token_lifetime: Duration) -> Self {
        Self {
            held: RwLock::default(),
            next_purge: AtomicU64::new(0),
            max_token_lifetime,
            latest_exp: AtomicU64::new(0),
            leeway_secs: AtomicU64::new(0),
        }
    }

    /// How long a token may live: a user revocation lasts at least this long.
    pub(super) fn max_token_lifetime(&self) -> Duration {
        self.max_token_lifetime
    }

    pub(super) fn read(&self) -> RwLockReadGuard<'_, Held> {
        self.held.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, Held> {
        self.held.write().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether a token with these claims is revoked at `now`; remembers its `exp`.
    pub(super) fn revokes(&self, claims: &RegisteredClaims, now: u64) -> bool {
        let exp = claims.exp.unwrap_or(u64::MAX);
        if exp > self.latest_exp() {
            self.latest_exp.fetch_max(exp, Ordering::Relaxed);
        }
        self.read().revokes(&TokenKeys::of(claims), now)
    }

    pub(super) fn counts(&self) -> RevocationCounts {
        self.read().counts()
    }

    /// How long a user or session revocation made at `now` is kept: the list's lifetime, or
    /// until the latest `exp` checked here, plus the leeway.
    pub(super) fn keep_until(&self, now: u64) -> u64 {
        now.saturating_add(self.max_token_lifetime.as_secs())
            .max(self.latest_exp())
            .saturating_add(self.leeway_secs())
    }

    /// Records that a configuration accepts tokens `leeway` past their `exp`.
    pub(super) fn accept_leeway(&self, leeway: Duration) {
        self.leeway_secs
            .fetch_max(crate::time::whole_secs_up(leeway), Ordering::Relaxed);
    }

    pub(super) fn leeway_secs(&self) -> u64 {
        self.leeway_secs.load(Ordering::Relaxed)
    }

    fn latest_exp(&self) -> u64 {
        self.latest_exp.load(Ordering::Relaxed)
    }

    /// Records `revocations` under one lock. Returns each as held now (merged with an earlier
    /// one for the same token, user or session; an expired one as given, and not held) and the
    /// batch of those held, to find the sockets they revoke.
    pub(super) fn insert_all(
        &self,
        revocations: Vec<Revocation>,
        now: u64,
    ) -> (Vec<Revocation>, Held) {
        let mut batch = Held::default();
        let mut held = self.write();
        let applied = revocations
            .into_iter()
            .map(|revocation| {
                if revocation.until() < now {
                    return revocation;
                }
                let revocation = self.kept_long_enough(revocation);
                batch.insert(revocation.clone());
                held.insert(revocation)
            })
            .collect();
        (applied, batch)
    }

    /// Replaces the entries with `stored` plus those held that `stored` lacks; returns those.
    /// Built outside the lock, swapped in under it: O(stored + held).
    pub(super) fn replace_with(&self, stored: Vec<Revocation>, now: u64) -> Vec<Revocation> {
        let mut fresh = Held::sized_for(&stored);
        for revocation in stored {
            if revocation.until() >= now {
                fresh.absorb(self.kept_long_enough(revocation));
            }
        }
        let mut held = self.write();
        held.forget_expired(now);
        let missing = held.missing_from(&fresh);
        for revocation in &missing {
            fresh.insert(revocation.clone());
        }
        *held = fresh;
        missing
    }

    /// A user or session revocation kept at least while a token checked here could still be
    /// accepted; capped at [`Revocation::MAX_UNTIL`], as a store caps it.
    fn kept_long_enough(&self, revocation: Revocation) -> Revocation {
        let revocation = match revocation {
            Revocation::Token { .. } => revocation,
            other => {
                let until = self.latest_exp().saturating_add(self.leeway_secs());
                other.with_until_at_least(until)
            }
        };
        revocation.with_until_at_most(Revocation::MAX_UNTIL)
    }

    /// Whether expired entries are due to be dropped at `now` (once a minute, to one caller);
    /// when so, drops them.
    pub(super) fn purge_if_due(&self, now: u64) -> bool {
        let due = self.next_purge.load(Ordering::Relaxed);
        if now < due
            || self
                .next_purge
                .compare_exchange(
                    due,
                    now + PURGE_EVERY_SECS,
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                )
                .is_err()
        {
            return false;
        }
        self.write().forget_expired(now);
        true
    }
}
