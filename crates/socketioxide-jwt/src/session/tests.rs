use super::*;
use crate::claims::RegisteredClaims;
use crate::limits::PendingGauge;

fn permit() -> PendingPermit {
    PendingGauge::default()
        .try_acquire(1, [None, None])
        .expect("an empty gauge has room")
}

#[test]
fn the_pending_place_is_held_until_the_pending_phase_ends() {
    let gauge = PendingGauge::default();
    let t0 = Instant::now();
    let mut s = SessionState::pending(
        t0,
        Duration::from_secs(5),
        gauge.try_acquire(1, [None, None]).unwrap(),
        Namespace::new("/"),
    );
    assert_eq!(gauge.current(), 1);
    assert!(
        gauge.try_acquire(1, [None, None]).is_err(),
        "the place is taken"
    );
    s.try_begin_verification();
    s.finish_verification(Ok(verified("alice", UNIX + 60)), t0, at(UNIX), RULES);
    assert_eq!(gauge.current(), 0, "authenticated: the place is free");
    let mut refused = SessionState::<String>::pending(
        t0,
        Duration::from_secs(5),
        gauge.try_acquire(1, [None, None]).unwrap(),
        Namespace::new("/"),
    );
    refused.close();
    assert_eq!(gauge.current(), 0, "closed: the place is free");
}

/// A pending session started at `t0` with a 5 s authentication timeout.
fn pending(t0: Instant) -> SessionState<String> {
    SessionState::pending(t0, Duration::from_secs(5), permit(), Namespace::new("/"))
}

fn verified(sub: &str, exp: u64) -> Verified<String> {
    Verified {
        claims: Arc::new(sub.to_owned()),
        registered: RegisteredClaims {
            exp: Some(exp),
            ..Default::default()
        },
        user: Some(crate::identity::UserId::new(None, sub)),
        checked_at: at(UNIX),
    }
}

const UNIX: u64 = 1_000_000;

/// No leeway, no warning.
const RULES: ExpiryRules = ExpiryRules {
    leeway: Duration::ZERO,
    warning: None,
    max_session_age: None,
};

/// The error of a refusal that is due, if one is.
fn refusal(due: Option<Due>) -> Option<AuthError> {
    match due {
        Some(Due::Refuse(err)) => Some(err),
        Some(Due::Warn(w)) => panic!("expected a refusal, got a warning {w:?}"),
        None => None,
    }
}

fn authenticated(t0: Instant, exp: u64, warning: Duration) -> SessionState<String> {
    let mut s = SessionState::pending(t0, Duration::from_secs(5), permit(), Namespace::new("/"));
    s.try_begin_verification();
    let rules = ExpiryRules {
        leeway: Duration::ZERO,
        warning: Some(warning),
        max_session_age: None,
    };
    s.finish_verification(Ok(verified("alice", exp)), t0, at(UNIX), rules);
    s
}

/// The server's half of the refresh rule, from the table both clients' tests read
/// (`protocol/scenarios.json`, "server_warning").
#[test]
fn the_warning_follows_the_shared_table() {
    #[derive(serde::Deserialize)]
    struct Case {
        name: String,
        lifetime_ms: u64,
        warning_ms: Option<u64>,
        warn_after_ms: Option<u64>,
    }
    #[derive(serde::Deserialize)]
    struct Table {
        server_warning: Vec<Case>,
    }
    let table: Table =
        serde_json::from_str(include_str!("../../../../protocol/scenarios.json")).unwrap();
    for case in table.server_warning {
        let t0 = Instant::now();
        let mut s =
            SessionState::pending(t0, Duration::from_secs(5), permit(), Namespace::new("/"));
        s.try_begin_verification();
        let rules = ExpiryRules {
            leeway: Duration::ZERO,
            warning: case.warning_ms.map(Duration::from_millis),
            max_session_age: None,
        };
        let exp = UNIX + case.lifetime_ms / 1000;
        s.finish_verification(Ok(verified("alice", exp)), t0, at(UNIX), rules);
        let expected = case.warn_after_ms.unwrap_or(case.lifetime_ms);
        assert_eq!(
            s.deadline(),
            Some(t0 + Duration::from_millis(expected)),
            "{}: the first deadline (the warning, else the expiry)",
            case.name
        );
    }
}

#[test]
fn the_warning_comes_once_before_expiry_then_the_expiry() {
    let t0 = Instant::now();
    let mut s = authenticated(t0, UNIX + 600, Duration::from_secs(60));
    assert_eq!(s.deadline(), Some(t0 + Duration::from_secs(540)));
    assert!(s
        .on_deadline(t0 + Duration::from_secs(539), at(UNIX + 539))
        .is_none());
    match s.on_deadline(
        t0 + Duration::from_secs(540),
        at(UNIX + 540) + Duration::from_millis(250),
    ) {
        Some(Due::Warn(w)) => assert_eq!((w.exp, w.expires_in_ms), (UNIX + 600, 59_750)),
        other => panic!("expected the warning, got {other:?}"),
    }
    assert_eq!(
        s.deadline(),
        Some(t0 + Duration::from_secs(600)),
        "next: the expiry"
    );
    assert!(
        s.on_deadline(t0 + Duration::from_secs(541), at(UNIX + 541))
            .is_none(),
        "once"
    );
    let err = refusal(s.on_deadline(t0 + Duration::from_secs(600), at(UNIX + 600))).unwrap();
    assert_eq!(err.code(), ErrorCode::TokenExpired);
}

#[test]
fn a_short_token_is_warned_at_half_its_remaining_lifetime() {
    let t0 = Instant::now();
    let s = authenticated(t0, UNIX + 30, Duration::from_secs(60));
    assert_eq!(s.deadline(), Some(t0 + Duration::from_secs(15)));
}

#[test]
fn a_refreshed_token_is_warned_again_the_same_one_is_not() {
    let t0 = Instant::now();
    let rules = ExpiryRules {
        leeway: Duration::ZERO,
        warning: Some(Duration::from_secs(10)),
        max_session_age: None,
    };
    let mut s = authenticated(t0, UNIX + 100, Duration::from_secs(10));
    let t1 = t0 + Duration::from_secs(90);
    assert!(matches!(
        s.on_deadline(t1, at(UNIX + 90)),
        Some(Due::Warn(_))
    ));
    s.try_begin_verification();
    s.finish_verification(Ok(verified("alice", UNIX + 100)), t1, at(UNIX + 90), rules);
    assert_eq!(
        s.deadline(),
        Some(t0 + Duration::from_secs(100)),
        "same exp: no new warning"
    );
    s.try_begin_verification();
    s.finish_verification(Ok(verified("alice", UNIX + 200)), t1, at(UNIX + 90), rules);
    assert_eq!(
        s.deadline(),
        Some(t1 + Duration::from_secs(100)),
        "new token: warned 10 s before"
    );
}

fn at(secs: u64) -> Duration {
    Duration::from_secs(secs)
}

#[test]
fn pending_times_out_at_deadline_only() {
    let t0 = Instant::now();
    let mut s = pending(t0);
    assert_eq!(s.deadline(), Some(t0 + Duration::from_secs(5)));
    assert!(refusal(s.on_deadline(t0 + Duration::from_secs(4), at(UNIX))).is_none());
    let err = refusal(s.on_deadline(t0 + Duration::from_secs(5), at(UNIX))).unwrap();
    assert_eq!(err.code(), ErrorCode::Timeout);
    assert_eq!(s.deadline(), None);
    assert!(
        s.try_begin_verification().is_none(),
        "a closed session verifies nothing"
    );
}

#[test]
fn authentication_sets_expiry_with_leeway() {
    let t0 = Instant::now();
    let mut s = SessionState::pending(t0, Duration::from_secs(5), permit(), Namespace::new("/"));
    assert_eq!(s.try_begin_verification(), Some(Stage::First));
    assert!(
        s.try_begin_verification().is_none(),
        "one verification at a time"
    );
    let out = s.finish_verification(
        Ok(verified("alice", UNIX + 60)),
        t0,
        at(UNIX),
        ExpiryRules {
            leeway: Duration::from_secs(10),
            warning: None,
            max_session_age: None,
        },
    );
    assert!(matches!(out, Outcome::FirstAuthentication(_)));
    assert_eq!(s.deadline(), Some(t0 + Duration::from_secs(70)));
    assert!(refusal(s.on_deadline(t0 + Duration::from_secs(69), at(UNIX))).is_none());
    assert_eq!(
        refusal(s.on_deadline(t0 + Duration::from_secs(70), at(UNIX)))
            .unwrap()
            .code(),
        ErrorCode::TokenExpired
    );
}

#[test]
fn expiry_is_exact_to_the_sub_second() {
    let t0 = Instant::now();
    let mut s = SessionState::pending(t0, Duration::from_secs(5), permit(), Namespace::new("/"));
    s.try_begin_verification();
    let now_wall = at(UNIX) + Duration::from_millis(700);
    s.finish_verification(Ok(verified("alice", UNIX + 10)), t0, now_wall, RULES);
    assert_eq!(s.deadline(), Some(t0 + Duration::from_millis(9300)));
}

#[test]
fn refresh_moves_expiry_and_keeps_session() {
    let t0 = Instant::now();
    let mut s = SessionState::pending(t0, Duration::from_secs(5), permit(), Namespace::new("/"));
    s.try_begin_verification();
    s.finish_verification(Ok(verified("alice", UNIX + 10)), t0, at(UNIX), RULES);
    let t1 = t0 + Duration::from_secs(8);
    assert!(matches!(
        s.try_begin_verification(),
        Some(Stage::Refresh(_))
    ));
    let out = s.finish_verification(Ok(verified("alice", UNIX + 100)), t1, at(UNIX + 8), RULES);
    assert!(matches!(out, Outcome::Refreshed(_)));
    assert!(
        refusal(s.on_deadline(t0 + Duration::from_secs(10), at(UNIX))).is_none(),
        "old expiry no longer applies"
    );
    assert_eq!(s.deadline(), Some(t1 + Duration::from_secs(92)));
}

#[test]
fn refresh_for_another_subject_is_refused() {
    let t0 = Instant::now();
    let mut s = SessionState::pending(t0, Duration::from_secs(5), permit(), Namespace::new("/"));
    s.try_begin_verification();
    s.finish_verification(Ok(verified("alice", UNIX + 10)), t0, at(UNIX), RULES);
    s.try_begin_verification();
    match s.finish_verification(Ok(verified("mallory", UNIX + 10)), t0, at(UNIX), RULES) {
        Outcome::Refused(e) => assert_eq!(e.code(), ErrorCode::InvalidToken),
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert!(s.claims().is_none());
}

#[test]
fn failure_closes_and_later_results_are_ignored() {
    let t0 = Instant::now();
    let mut s = pending(t0);
    s.try_begin_verification();
    let out = s.finish_verification(Err(ErrorCode::InvalidToken.into()), t0, at(UNIX), RULES);
    assert!(matches!(out, Outcome::Refused(_)));
    let out = s.finish_verification(Ok(verified("alice", UNIX + 10)), t0, at(UNIX), RULES);
    assert!(matches!(out, Outcome::Ignored));
}

#[test]
fn timeout_also_bounds_a_running_verification() {
    let t0 = Instant::now();
    let mut s = pending(t0);
    s.try_begin_verification();
    let err = refusal(s.on_deadline(t0 + Duration::from_secs(6), at(UNIX))).unwrap();
    assert_eq!(err.code(), ErrorCode::Timeout);
    let out = s.finish_verification(
        Ok(verified("alice", UNIX + 10)),
        t0 + Duration::from_secs(6),
        at(UNIX),
        RULES,
    );
    assert!(
        matches!(out, Outcome::Ignored),
        "a late success does not revive the socket"
    );
}

mod hostile_times {
    //! Any `exp` a token can carry, at any wall-clock time: no panic, no overflow, and the
    //! expiry is enforced when it is due (the deadline queue included, beyond its range).
    use super::*;
    use crate::deadlines::{Armed, Deadlines, Expire, MAX_QUEUE_WAIT};
    use crate::time::FAR_FUTURE;
    use proptest::prelude::*;
    use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

    /// `exp` values from every class: past, near, far (beyond the queue's ~795 days), and the
    /// extremes.
    fn any_exp() -> impl Strategy<Value = u64> {
        prop_oneof![
            Just(0u64),
            Just(u64::MAX),
            Just(u64::MAX - 1),
            Just(i64::MAX as u64),
            (i64::MAX as u64)..=u64::MAX,
            0u64..=4_000_000_000,
            any::<u64>(),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]
        #[test]
        fn any_exp_gives_a_deadline_that_is_enforced(
            exp in any_exp(),
            now_unix in prop_oneof![Just(0u64), 0u64..=4_000_000_000, any::<u64>()],
            leeway_ms in prop_oneof![Just(0u64), 0u64..=3_600_000, any::<u64>()],
            warning_ms in prop_oneof![Just(None), (1u64..=u64::MAX).prop_map(Some)],
        ) {
            let t0 = Instant::now();
            let now_wall = Duration::from_secs(now_unix);
            let rules = ExpiryRules {
                leeway: Duration::from_millis(leeway_ms),
                warning: warning_ms.map(Duration::from_millis),
                max_session_age: None,
            };
            let mut s =
                SessionState::pending(t0, Duration::from_secs(5), permit(), Namespace::new("/"));
            s.try_begin_verification();
            let out = s.finish_verification(Ok(verified("alice", exp)), t0, now_wall, rules);
            prop_assert!(matches!(out, Outcome::FirstAuthentication(_)));
            let deadline = s.deadline().expect("an exp gives a deadline");
            prop_assert!(deadline >= t0);
            prop_assert!(deadline <= t0 + FAR_FUTURE);
            // The expiry, exactly when it is within the timer's range.
            let left = until_unix(exp, rules.leeway, now_wall);
            if left < FAR_FUTURE {
                let expiry = t0 + left;
                prop_assert!(deadline <= expiry);
                if expiry > t0 {
                    let before = s.on_deadline(expiry - Duration::from_nanos(1), now_wall);
                    prop_assert!(!matches!(before, Some(Due::Refuse(_))));
                }
                let due = s.on_deadline(expiry, now_wall + left);
                prop_assert!(
                    matches!(due, Some(Due::Refuse(ref e)) if e.code() == ErrorCode::TokenExpired),
                    "refused at exp + leeway, got {due:?}"
                );
            } else {
                // Beyond 30 years: still authenticated a year from now.
                let year = Duration::from_secs(365 * 24 * 3600);
                let due = s.on_deadline(t0 + year, now_wall + year);
                prop_assert!(!matches!(due, Some(Due::Refuse(_))), "{due:?}");
                prop_assert!(s.is_authenticated());
            }
        }
    }

    /// A session whose deadline entry counts what came due, driven by the real queue.
    struct Probe {
        deadlines: Arc<Deadlines>,
        session: std::sync::Weak<Session<String>>,
        wall_base: Duration,
        t0: Instant,
        wakes: AtomicUsize,
        warned: AtomicUsize,
        expired_at_ms: AtomicU64,
        armed: Armed,
    }

    impl Expire for Probe {
        fn deadlines(&self) -> &Arc<Deadlines> {
            &self.deadlines
        }
        fn armed(&self) -> &Armed {
            &self.armed
        }
        fn expire(self: Arc<Self>) {
            self.wakes.fetch_add(1, Ordering::SeqCst);
            let Some(session) = self.session.upgrade() else {
                return;
            };
            let now = Instant::now();
            let wall = self.wall_base + (now - self.t0);
            match session.update(|st| st.on_deadline(now, wall)) {
                Some(Due::Warn(_)) => {
                    self.warned.fetch_add(1, Ordering::SeqCst);
                }
                Some(Due::Refuse(_)) => {
                    let ms = u64::try_from((now - self.t0).as_millis()).unwrap_or(u64::MAX);
                    self.expired_at_ms.store(ms, Ordering::SeqCst);
                }
                None => {}
            }
        }
    }

    fn session_with(
        deadlines: &Arc<Deadlines>,
        exp: u64,
        warning: Option<Duration>,
    ) -> (Arc<Session<String>>, Arc<Probe>) {
        let t0 = Instant::now();
        let wall_base = Duration::from_secs(UNIX);
        let probe = std::cell::RefCell::new(None);
        let session = Session::new(
            SessionState::pending(t0, Duration::from_secs(5), permit(), Namespace::new("/")),
            None,
            |me| {
                let p = Arc::new(Probe {
                    deadlines: deadlines.clone(),
                    session: me,
                    wall_base,
                    t0,
                    wakes: AtomicUsize::new(0),
                    warned: AtomicUsize::new(0),
                    expired_at_ms: AtomicU64::new(0),
                    armed: Armed::default(),
                });
                *probe.borrow_mut() = Some(p.clone());
                p
            },
        );
        session.update(|st| {
            st.try_begin_verification();
            let rules = ExpiryRules {
                leeway: Duration::ZERO,
                warning,
                max_session_age: None,
            };
            st.finish_verification(Ok(verified("alice", exp)), t0, wall_base, rules)
        });
        let probe = probe.into_inner().expect("the probe was made");
        (session, probe)
    }

    /// 900 days (beyond the queue's ~795-day range): no panic, one re-check a day, the
    /// warning and the expiry exactly on time.
    #[tokio::test(start_paused = true)]
    async fn a_token_for_900_days_expires_on_time() {
        let deadlines = Arc::new(Deadlines::default());
        let days = |n: u64| Duration::from_secs(n * 24 * 3600);
        let (session, probe) = session_with(
            &deadlines,
            UNIX + days(900).as_secs(),
            Some(Duration::from_secs(60)),
        );
        tokio::time::sleep(days(3) + Duration::from_secs(1)).await;
        assert_eq!(probe.wakes.load(Ordering::SeqCst), 3, "one re-check a day");
        assert!(session.read(|st| st.is_authenticated()));
        tokio::time::sleep(days(897) - Duration::from_secs(2)).await;
        assert_eq!(
            probe.warned.load(Ordering::SeqCst),
            1,
            "warned 60 s before exp"
        );
        assert_eq!(probe.expired_at_ms.load(Ordering::SeqCst), 0);
        tokio::time::sleep(Duration::from_secs(2)).await;
        let expired_ms = probe.expired_at_ms.load(Ordering::SeqCst);
        assert_eq!(
            expired_ms,
            days(900).as_millis() as u64,
            "refused at exp exactly"
        );
        assert!(!session.read(|st| st.is_authenticated()));
        drop(session);
        assert_eq!(format!("{deadlines:?}"), "Deadlines { armed: 0 }");
    }

    /// The extremes: queued at the horizon, re-armed, and dropped without a trace.
    #[tokio::test(start_paused = true)]
    async fn extreme_exps_never_panic_and_leave_nothing_behind() {
        let deadlines = Arc::new(Deadlines::default());
        let mut held = Vec::new();
        for exp in [
            u64::MAX,
            u64::MAX - 1,
            i64::MAX as u64,
            UNIX + 10 * 365 * 24 * 3600,
        ] {
            held.push(session_with(&deadlines, exp, Some(Duration::from_secs(60))));
        }
        // And a near one beside them, which must fire on time.
        let (near, near_probe) = session_with(&deadlines, UNIX + 2, None);
        tokio::time::sleep(MAX_QUEUE_WAIT * 2 + Duration::from_secs(1)).await;
        assert_eq!(near_probe.expired_at_ms.load(Ordering::SeqCst), 2000);
        for (session, probe) in &held {
            assert_eq!(probe.wakes.load(Ordering::SeqCst), 2);
            assert!(session.read(|st| st.is_authenticated()));
        }
        drop((held, near));
        assert_eq!(format!("{deadlines:?}"), "Deadlines { armed: 0 }");
    }
}

/// Handshake mode: authenticated in the middleware, live once in the connect handler, never if
/// the session closed in between.
#[test]
fn the_connect_handler_goes_live_once() {
    let t0 = Instant::now();
    let pending =
        || SessionState::pending(t0, Duration::from_secs(5), permit(), Namespace::new("/"));
    let mut s = pending();
    assert_eq!(s.try_begin_verification(), Some(Stage::First));
    let result = Ok((verified("alice", UNIX + 60), Holdings::default()));
    let out = s.finish_verification_with(result, Stage::First, GoLive::InConnectHandler, t0, RULES);
    assert!(matches!(out, Outcome::FirstAuthentication(_)));
    let live = s.take_live(|| Duration::ZERO).expect("live once");
    assert_eq!(
        (live.user.as_ref().map(|u| u.sub()), live.exp),
        (Some("alice"), Some(UNIX + 60))
    );
    assert!(s.take_live(|| Duration::ZERO).is_none(), "not twice");

    let mut s = pending();
    s.try_begin_verification();
    let result = Ok((verified("alice", UNIX + 60), Holdings::default()));
    s.finish_verification_with(result, Stage::First, GoLive::InConnectHandler, t0, RULES);
    s.close();
    assert!(s.take_live(|| Duration::ZERO).is_none(), "closed meanwhile");

    let mut s = pending();
    s.try_begin_verification();
    s.finish_verification(Ok(verified("alice", UNIX + 60)), t0, at(UNIX), RULES);
    assert!(
        s.take_live(|| Duration::ZERO).is_none(),
        "message mode went live in the update"
    );
}

/// Handshake mode: a refresh that arrives before the connect handler ran does not make the
/// socket skip going live.
#[test]
fn a_refresh_before_the_connect_handler_keeps_it_going_live() {
    let t0 = Instant::now();
    let mut s = SessionState::pending(t0, Duration::from_secs(5), permit(), Namespace::new("/"));
    s.try_begin_verification();
    let result = Ok((verified("alice", UNIX + 60), Holdings::default()));
    s.finish_verification_with(result, Stage::First, GoLive::InConnectHandler, t0, RULES);
    assert!(matches!(
        s.try_begin_verification(),
        Some(Stage::Refresh(_))
    ));
    let out = s.finish_verification(Ok(verified("alice", UNIX + 120)), t0, at(UNIX), RULES);
    assert!(matches!(out, Outcome::Refreshed(_)));
    let live = s.take_live(|| Duration::ZERO).expect("still to go live");
    assert_eq!(live.exp, Some(UNIX + 120));
}

#[test]
fn a_refresh_after_max_session_age_is_refused_unless_a_new_login_restarted_it() {
    let t0 = Instant::now();
    let rules = ExpiryRules {
        max_session_age: Some(Duration::from_secs(3600)),
        ..RULES
    };
    let start = || {
        let mut s =
            SessionState::pending(t0, Duration::from_secs(5), permit(), Namespace::new("/"));
        s.try_begin_verification();
        // No auth_time: the session starts at this first authentication.
        let out = s.finish_verification(Ok(verified("alice", UNIX + 600)), t0, at(UNIX), rules);
        assert!(matches!(out, Outcome::FirstAuthentication(_)));
        s
    };
    let refresh = |s: &mut SessionState<String>, wall: u64, auth_time: Option<u64>| {
        s.try_begin_verification();
        let mut v = verified("alice", wall + 600);
        v.registered.auth_time = auth_time;
        s.finish_verification(Ok(v), t0, at(wall), rules)
    };
    let mut s = start();
    assert!(
        matches!(refresh(&mut s, UNIX + 3600, None), Outcome::Refreshed(_)),
        "at the limit"
    );
    match refresh(&mut s, UNIX + 3601, None) {
        Outcome::Refused(e) => assert_eq!(e.code(), ErrorCode::TokenExpired),
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert!(s.is_closed());
    // A refreshed token from a new login (a later auth_time) starts a new session.
    let mut s = start();
    let out = refresh(&mut s, UNIX + 7000, Some(UNIX + 6900));
    assert!(matches!(out, Outcome::Refreshed(_)), "{out:?}");
    assert!(matches!(
        refresh(&mut s, UNIX + 10_000, None),
        Outcome::Refreshed(_)
    ));
    match refresh(&mut s, UNIX + 10_501, None) {
        Outcome::Refused(e) => assert_eq!(e.code(), ErrorCode::TokenExpired),
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[test]
fn a_requested_refresh_needs_a_token_issued_since_within_the_grace_period() {
    let t0 = Instant::now();
    let grace = Duration::from_secs(30);
    let first = |s: &mut SessionState<String>| {
        s.try_begin_verification();
        let mut v = verified("alice", UNIX + 600);
        v.registered.iat = Some(UNIX - 10);
        s.finish_verification(Ok(v), t0, at(UNIX), RULES);
    };
    let refresh = |s: &mut SessionState<String>, iat: Option<u64>, exp: u64, wall: u64| {
        s.try_begin_verification();
        let mut v = verified("alice", exp);
        v.registered.iat = iat;
        s.finish_verification(
            Ok(v),
            t0 + Duration::from_secs(wall - UNIX),
            at(wall),
            RULES,
        )
    };
    // A pending timeout longer than the test's clock: a first token verified at `t1` is in time.
    let new = || SessionState::pending(t0, Duration::from_secs(600), permit(), Namespace::new("/"));
    // Pending sockets are not asked (their first token is checked as it comes).
    assert!(new().request_refresh(t0, UNIX, grace).is_none());

    let mut s = new();
    first(&mut s);
    let t1 = t0 + Duration::from_secs(100);
    let asked = s.request_refresh(t1, UNIX + 100, grace).expect("asked");
    assert_eq!((asked.exp, asked.expires_in_ms), (UNIX + 600, 0));
    assert_eq!(
        s.deadline(),
        Some(t1 + grace),
        "before the token's own expiry"
    );
    // The same token again (older iat) does not count; the deadline stands.
    assert!(matches!(
        refresh(&mut s, Some(UNIX - 10), UNIX + 600, UNIX + 101),
        Outcome::Refreshed(_)
    ));
    assert_eq!(s.deadline(), Some(t1 + grace));
    match s.on_deadline(t1 + grace, at(UNIX + 130)) {
        Some(Due::Refuse(e)) => assert_eq!(e.code(), ErrorCode::TokenExpired),
        other => panic!("expected a refusal, got {other:?}"),
    }

    // A token issued since the request does.
    let mut s = new();
    first(&mut s);
    s.request_refresh(t1, UNIX + 100, grace);
    assert!(matches!(
        refresh(&mut s, Some(UNIX + 100), UNIX + 700, UNIX + 101),
        Outcome::Refreshed(_)
    ));
    assert!(
        s.deadline().is_some_and(|d| d > t1 + grace),
        "back to the token's expiry"
    );
    assert!(s.on_deadline(t1 + grace, at(UNIX + 130)).is_none());
    // Without iat: another token (another exp) counts, the same one does not.
    let mut s = new();
    first(&mut s);
    s.request_refresh(t1, UNIX + 100, grace);
    refresh(&mut s, None, UNIX + 600, UNIX + 101);
    assert_eq!(s.deadline(), Some(t1 + grace));
    assert_eq!(s.refresh_awaited(), Some(UNIX + 600), "asked again");
    refresh(&mut s, None, UNIX + 800, UNIX + 102);
    assert!(s.deadline().is_some_and(|d| d > t1 + grace));
    assert_eq!(s.refresh_awaited(), None);
    // A few seconds of clock difference between the requester and the issuer are allowed.
    let mut s = new();
    first(&mut s);
    s.request_refresh(t1, UNIX + 100, grace);
    refresh(&mut s, Some(UNIX + 96), UNIX + 800, UNIX + 101);
    assert!(
        s.deadline().is_some_and(|d| d > t1 + grace),
        "within the margin"
    );

    // A later request (a later `since`) gives its own full grace period; a repeated one in the
    // same second keeps the first deadline.
    let mut s = new();
    first(&mut s);
    s.request_refresh(t1, UNIX + 100, grace);
    s.request_refresh(t1 + Duration::from_millis(500), UNIX + 100, grace);
    assert_eq!(s.deadline(), Some(t1 + grace));
    let t2 = t1 + Duration::from_secs(25);
    s.request_refresh(t2, UNIX + 125, grace);
    assert_eq!(s.deadline(), Some(t2 + grace));
    // A token issued between the two requests does not answer the second.
    refresh(&mut s, Some(UNIX + 110), UNIX + 900, UNIX + 126);
    assert_eq!(s.deadline(), Some(t2 + grace));

    // Asked while its first token was being verified: a token issued before is refused.
    let mut s = new();
    assert!(s.request_refresh(t1, UNIX + 100, grace).is_none());
    s.try_begin_verification();
    let mut v = verified("alice", UNIX + 600);
    v.registered.iat = Some(UNIX + 90);
    match s.finish_verification(Ok(v), t1, at(UNIX + 100), RULES) {
        Outcome::Refused(e) => assert_eq!(e.code(), ErrorCode::TokenExpired),
        other => panic!("expected a refusal, got {other:?}"),
    }
    let mut s = new();
    s.request_refresh(t1, UNIX + 100, grace);
    s.try_begin_verification();
    let mut v = verified("alice", UNIX + 600);
    v.registered.iat = Some(UNIX + 100);
    let out = s.finish_verification(Ok(v), t1, at(UNIX + 100), RULES);
    assert!(matches!(out, Outcome::FirstAuthentication(_)), "{out:?}");
}

#[test]
fn a_refresh_requested_before_the_connect_handler_is_asked_when_the_socket_goes_live() {
    let t0 = Instant::now();
    let mut s = SessionState::pending(t0, Duration::from_secs(5), permit(), Namespace::new("/"));
    s.try_begin_verification();
    let v = verified("alice", UNIX + 600);
    let out = s.finish_verification_with(
        Ok((v, Holdings::default())),
        Stage::First,
        GoLive::InConnectHandler,
        t0,
        RULES,
    );
    assert!(matches!(out, Outcome::FirstAuthentication(_)));
    // Not live yet: nothing to send now, but the deadline runs.
    assert!(s
        .request_refresh(t0, UNIX + 1, Duration::from_secs(30))
        .is_none());
    assert_eq!(s.deadline(), Some(t0 + Duration::from_secs(30)));
    assert_eq!(s.refresh_awaited(), None, "not live yet");
    s.take_live(|| at(UNIX + 1)).expect("goes live");
    assert_eq!(
        s.refresh_awaited(),
        Some(UNIX + 600),
        "asked once it is told it is in"
    );
}

/// The bytes a held socket's session keeps (listed in bench/README.md): printed with
/// `cargo test -p socketioxide-jwt --lib per_socket_sizes -- --nocapture`.
#[test]
fn per_socket_sizes() {
    use std::mem::size_of;
    let rows = [
        (
            "Session<StandardClaims>",
            size_of::<super::Session<crate::StandardClaims>>(),
        ),
        (
            "SessionState<StandardClaims>",
            size_of::<SessionState<crate::StandardClaims>>(),
        ),
        ("StandardClaims", size_of::<crate::StandardClaims>()),
        ("UserId", size_of::<crate::identity::UserId>()),
        ("LiveTicket", size_of::<crate::revocation::LiveTicket>()),
        ("Attempts", size_of::<crate::limits::Attempts>()),
        ("PendingPermit", size_of::<crate::limits::PendingPermit>()),
        ("TimerSlot", size_of::<crate::deadlines::TimerSlot>()),
    ];
    for (name, size) in rows {
        println!("{name}: {size} B");
    }
}

/// A first verification that finishes past the authentication timeout is refused with
/// `timeout`, whether or not a timer fired meanwhile (handshake mode arms none for a
/// verification that blocked in its first poll).
#[test]
fn a_first_verification_finished_past_the_timeout_is_refused() {
    let t0 = Instant::now();
    let mut s = pending(t0);
    s.try_begin_verification();
    let late = t0 + Duration::from_secs(5);
    let out = s.finish_verification(Ok(verified("alice", UNIX + 60)), late, at(UNIX), RULES);
    let Outcome::Refused(err) = out else {
        panic!("expected a refusal, got {out:?}");
    };
    assert_eq!(err.code(), ErrorCode::Timeout);
    assert!(s.is_closed());
    // Just in time: in.
    let mut s = pending(t0);
    s.try_begin_verification();
    let in_time = t0 + Duration::from_millis(4_999);
    let out = s.finish_verification(Ok(verified("alice", UNIX + 60)), in_time, at(UNIX), RULES);
    assert!(matches!(out, Outcome::FirstAuthentication(_)), "{out:?}");
}

/// Refresh requests merge by their `since`: a later request with an older `since` keeps the
/// earlier one (its deadline too), pending or authenticated.
#[test]
fn a_refresh_request_with_an_older_since_keeps_the_newer_one() {
    let t0 = Instant::now();
    let grace = Duration::from_secs(30);
    // Pending: the first token must be issued since the newest request.
    let mut s = pending(t0);
    s.request_refresh(t0, UNIX + 20, grace);
    s.request_refresh(t0, UNIX + 10, grace);
    s.try_begin_verification();
    let mut old = verified("alice", UNIX + 600);
    old.registered.iat = Some(UNIX + 12); // 8 s before, beyond the 5 s clock margin
    let out = s.finish_verification(Ok(old), t0, at(UNIX + 30), RULES);
    assert!(
        matches!(out, Outcome::Refused(_)),
        "issued before the newer request: {out:?}"
    );
    // Authenticated: the first request's deadline stands.
    let mut s = authenticated(t0, UNIX + 600, Duration::ZERO);
    s.request_refresh(t0, UNIX + 20, grace);
    let first = s.deadline();
    s.request_refresh(t0 + Duration::from_secs(10), UNIX + 10, grace);
    assert_eq!(s.deadline(), first, "an older request moves nothing");
    assert_eq!(first, Some(t0 + grace));
}

/// A refresh that started before one already applied changes nothing when it finishes, however
/// slow it was: the socket keeps the later one's claims and `exp`. At most two refreshes are
/// verified at once.
#[test]
fn a_slow_refresh_finishing_after_a_later_one_does_not_roll_back() {
    let t0 = Instant::now();
    let mut s = pending(t0);
    s.try_begin_verification();
    s.finish_verification(Ok(verified("alice", UNIX + 60)), t0, at(UNIX), RULES);
    let slow = s.try_begin_verification().expect("a first refresh");
    let fast = s.try_begin_verification().expect("a second beside it");
    assert!(s.try_begin_verification().is_none(), "two at most");
    let done = |s: &mut SessionState<String>, stage, exp| {
        let result = Ok((verified("alice", exp), Holdings::default()));
        s.finish_verification_with(result, stage, GoLive::Now, t0, RULES)
    };
    match done(&mut s, fast, UNIX + 200) {
        Outcome::Refreshed(r) => assert_eq!(r.live.exp, Some(UNIX + 200)),
        other => panic!("expected a refresh, got {other:?}"),
    }
    match done(&mut s, slow, UNIX + 100) {
        Outcome::KeptNewer(live) => assert_eq!(live.exp, Some(UNIX + 200), "what it holds"),
        other => panic!("expected the newer token kept, got {other:?}"),
    }
    assert!(s
        .on_deadline(t0 + Duration::from_secs(100), at(UNIX + 100))
        .is_none());
    assert!(refusal(s.on_deadline(t0 + Duration::from_secs(200), at(UNIX + 200))).is_some());

    // In order, both apply.
    let mut s = pending(t0);
    s.try_begin_verification();
    s.finish_verification(Ok(verified("alice", UNIX + 60)), t0, at(UNIX), RULES);
    let first = s.try_begin_verification().expect("a first refresh");
    let second = s.try_begin_verification().expect("a second beside it");
    assert!(matches!(
        done(&mut s, first, UNIX + 100),
        Outcome::Refreshed(_)
    ));
    assert!(matches!(
        done(&mut s, second, UNIX + 200),
        Outcome::Refreshed(_)
    ));
    // A superseded refresh that is refused still closes the socket (a refusal is a refusal).
    let late = s.try_begin_verification().expect("a refresh");
    let later = s.try_begin_verification().expect("another");
    assert!(matches!(
        done(&mut s, later, UNIX + 300),
        Outcome::Refreshed(_)
    ));
    let refused =
        s.finish_verification_with(Err(ErrorCode::Revoked.into()), late, GoLive::Now, t0, RULES);
    assert!(matches!(refused, Outcome::Refused(_)));
}

/// A refresh with a token issued before the held one (`iat`) changes nothing; one issued at
/// the same second, or without `iat`, replaces it as before.
#[test]
fn a_refresh_with_an_older_token_keeps_the_newer_one() {
    let t0 = Instant::now();
    let mut s = pending(t0);
    let with_iat = |iat: Option<u64>, exp: u64| {
        let mut v = verified("alice", exp);
        v.registered.iat = iat;
        v
    };
    s.try_begin_verification();
    s.finish_verification(Ok(with_iat(Some(UNIX), UNIX + 600)), t0, at(UNIX), RULES);
    match s.finish_verification(
        Ok(with_iat(Some(UNIX - 1), UNIX + 900)),
        t0,
        at(UNIX),
        RULES,
    ) {
        Outcome::KeptNewer(live) => assert_eq!(live.exp, Some(UNIX + 600)),
        other => panic!("expected the newer token kept, got {other:?}"),
    }
    let same_second = with_iat(Some(UNIX), UNIX + 700);
    assert!(matches!(
        s.finish_verification(Ok(same_second), t0, at(UNIX), RULES),
        Outcome::Refreshed(_)
    ));
    assert!(matches!(
        s.finish_verification(Ok(with_iat(None, UNIX + 800)), t0, at(UNIX), RULES),
        Outcome::Refreshed(_)
    ));
    // An `iat` past u32 seconds saturates: nothing later can be older than... itself.
    let far = with_iat(Some(u64::MAX), UNIX + 900);
    assert!(matches!(
        s.finish_verification(Ok(far), t0, at(UNIX), RULES),
        Outcome::Refreshed(_)
    ));
    assert!(matches!(
        s.finish_verification(
            Ok(with_iat(Some(UNIX + 1), UNIX + 950)),
            t0,
            at(UNIX),
            RULES
        ),
        Outcome::KeptNewer(_)
    ));
}

/// Refreshes kept out by an older token still count as finished in order: after many of them
/// (past the 256 the numbers wrap at), a newer token is applied.
#[test]
fn many_kept_refreshes_do_not_make_a_newer_one_look_old() {
    let t0 = Instant::now();
    let mut s = pending(t0);
    let with_iat = |iat: u64, exp: u64| {
        let mut v = verified("alice", exp);
        v.registered.iat = Some(iat);
        v
    };
    s.try_begin_verification();
    s.finish_verification(Ok(with_iat(UNIX, UNIX + 600)), t0, at(UNIX), RULES);
    for _ in 0..300 {
        let kept = s.finish_verification(Ok(with_iat(UNIX - 1, UNIX + 900)), t0, at(UNIX), RULES);
        assert!(matches!(kept, Outcome::KeptNewer(_)));
    }
    let newer = s.finish_verification(Ok(with_iat(UNIX + 10, UNIX + 1000)), t0, at(UNIX), RULES);
    assert!(matches!(newer, Outcome::Refreshed(_)), "{newer:?}");
}
