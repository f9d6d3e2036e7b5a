//! The machine against `protocol/scenarios.json` (the table the server's and the JS client's
//! tests read too), plus what only this client has. No sockets: the effects are recorded.

use std::collections::VecDeque;
use std::time::Duration;

use serde::Deserialize;
use serde_json::Value;
use tokio::time::Instant;

use super::*;
use crate::error::AuthError;
use crate::protocol::rules::{busy_backoff, refresh_delay, MAX_REFRESHES_PER_MINUTE};

const TABLE: &str = include_str!("../../../../protocol/scenarios.json");
/// The true time of the scenarios, in seconds since the epoch.
const TRUE_NOW: u64 = 1_800_000_000;

#[derive(Deserialize)]
struct Table {
    refresh_delay: Vec<RefreshCase>,
    busy_backoff: Vec<BackoffCase>,
    refusals: Vec<RefusalCase>,
    scenarios: Vec<Scenario>,
}

#[derive(Deserialize)]
struct RefreshCase {
    name: String,
    margin_ms: u64,
    expires_in_ms: Option<u64>,
    exp_in_s: Option<u64>,
    clock_skew_s: i64,
    delay_ms: Option<u64>,
}

#[derive(Deserialize)]
struct BackoffCase {
    attempt: u32,
    jitter: f64,
    delay_ms: u64,
}

#[derive(Deserialize)]
struct RefusalCase {
    name: String,
    payload: Value,
    code: String,
    recoverable: bool,
}

#[derive(Deserialize)]
struct Scenario {
    name: String,
    mode: String,
    #[serde(default)]
    margin_ms: Option<u64>,
    #[serde(default)]
    clock_skew_s: Option<i64>,
    tokens: Vec<String>,
    steps: Vec<Step>,
}

#[derive(Deserialize)]
struct Step {
    #[serde(rename = "do")]
    action: Option<String>,
    #[serde(default)]
    payload: Value,
    code: Option<String>,
    message: Option<String>,
    data: Option<Value>,
    ms: Option<u64>,
    expect: Option<Expect>,
}

#[derive(Deserialize)]
struct Expect {
    state: Option<String>,
    refusal: Option<String>,
    requests: Option<Vec<String>>,
    sent: Option<Vec<String>>,
    opened: Option<usize>,
}

fn table() -> Table {
    serde_json::from_str(TABLE).expect("protocol/scenarios.json")
}

#[test]
fn refresh_delays_follow_the_table() {
    for case in table().refresh_delay {
        let mut info = AuthenticatedPayload::new(None, case.exp_in_s.map(|s| TRUE_NOW + s));
        info.expires_in_ms = case.expires_in_ms;
        let local_now = TRUE_NOW.saturating_add_signed(case.clock_skew_s);
        let delay = refresh_delay(&info, Duration::from_millis(case.margin_ms), local_now);
        assert_eq!(
            delay,
            case.delay_ms.map(Duration::from_millis),
            "{}",
            case.name
        );
    }
}

#[test]
fn busy_backoffs_follow_the_table() {
    for case in table().busy_backoff {
        assert_eq!(
            busy_backoff(case.attempt, case.jitter),
            Duration::from_millis(case.delay_ms),
            "attempt {} jitter {}",
            case.attempt,
            case.jitter
        );
    }
}

#[test]
fn refusals_follow_the_table() {
    for case in table().refusals {
        let err = AuthError::from_refusal(&case.payload);
        assert_eq!(err.code, case.code.as_str(), "{}", case.name);
        assert_eq!(err.code.is_recoverable(), case.recoverable, "{}", case.name);
    }
}

/// Plays the glue: answers token requests from the scenario's list, records what goes out, and
/// keeps the timers.
struct Harness {
    machine: Machine,
    mode: Mode,
    tokens: VecDeque<String>,
    last_token: String,
    requests: Vec<&'static str>,
    sent: Vec<String>,
    opened: usize,
    timers: Vec<(Instant, Timer, u64)>,
    now: Instant,
    start: Instant,
    /// The local wall clock's error, in seconds.
    clock_skew_s: i64,
}

fn request_name(request: TokenRequest) -> &'static str {
    match request {
        TokenRequest::Connect => "connect",
        TokenRequest::Reconnect => "reconnect",
        TokenRequest::Refresh => "refresh",
        TokenRequest::Expired => "expired",
        TokenRequest::Revoked => "revoked",
    }
}

fn state_name(state: &State) -> &'static str {
    match state {
        State::Connecting { .. } => "connecting",
        State::Authenticated { .. } => "authenticated",
        State::Waiting => "waiting",
        State::Refused(_) => "refused",
        State::Closed => "closed",
    }
}

impl Harness {
    /// Message mode, a one-minute margin, three recoveries, and the source's one token `t`.
    fn message_with_one_token() -> Self {
        Self::new(
            Mode::Message,
            Duration::from_secs(60),
            Some(3),
            vec!["t".into()],
        )
    }

    fn new(mode: Mode, margin: Duration, max_recoveries: Option<u32>, tokens: Vec<String>) -> Self {
        let rules = Rules {
            mode,
            refresh_margin: margin,
            max_recoveries,
            reconnect: true,
        };
        let start = Instant::now();
        Self {
            machine: Machine::new(rules),
            mode,
            tokens: tokens.into(),
            last_token: String::new(),
            requests: Vec::new(),
            sent: Vec::new(),
            opened: 0,
            timers: Vec::new(),
            now: start,
            start,
            clock_skew_s: 0,
        }
    }

    /// The source's next answer: a token, or (`!why`) a failure.
    fn next_token(&mut self) -> Result<String, TokenError> {
        if let Some(token) = self.tokens.pop_front() {
            self.last_token = token;
        }
        match self.last_token.strip_prefix('!') {
            Some(why) => Err(TokenError::msg(why)),
            None => Ok(self.last_token.clone()),
        }
    }

    fn step(&mut self, input: Input) {
        let elapsed = self.now.duration_since(self.start).as_secs();
        let now = Now {
            instant: self.now,
            unix: (TRUE_NOW + elapsed).saturating_add_signed(self.clock_skew_s),
            jitter: 0.5,
        };
        let mut queue: VecDeque<Effect> = self.machine.step(input, now).into();
        while let Some(effect) = queue.pop_front() {
            match effect {
                Effect::FetchToken(request, id) => {
                    self.requests.push(request_name(request));
                    let token = self.next_token();
                    queue.extend(self.machine.step(Input::Token(request, id, token), now));
                }
                Effect::Authenticate(token) | Effect::SendRefresh(token) => self.sent.push(token),
                Effect::Open(token) => {
                    self.opened += 1;
                    self.sent.extend(token);
                }
                Effect::HandshakeToken(token) => self.sent.push(token),
                Effect::SetTimer(timer, delay, epoch) => {
                    self.timers.push((self.now + delay, timer, epoch));
                }
                Effect::Shutdown => {}
            }
        }
    }

    /// What the transport does by itself after a lost connection: in handshake mode, it asks
    /// for the token of its new handshake (as the driver's `reconnecting`).
    fn drop_connection(&mut self) {
        self.step(Input::ConnectionLost);
        if self.mode == Mode::Handshake {
            self.step(Input::HandshakeAuth);
        }
    }

    fn advance(&mut self, by: Duration) {
        let until = self.now + by;
        loop {
            self.timers.sort_by_key(|(at, ..)| *at);
            match self.timers.first() {
                Some((at, ..)) if *at <= until => {
                    let (at, timer, epoch) = self.timers.remove(0);
                    self.now = at;
                    self.step(Input::TimerFired(timer, epoch));
                }
                _ => break,
            }
        }
        self.now = until;
    }

    fn check(&self, expect: &Expect, what: &str) {
        let state = self.machine.state();
        if let Some(name) = &expect.state {
            assert_eq!(state_name(state), name, "{what}: state");
        }
        if let Some(code) = &expect.refusal {
            match state {
                State::Refused(refusal) => {
                    assert_eq!(refusal.code(), code.as_str(), "{what}: refusal")
                }
                other => panic!("{what}: expected a refusal, got {other:?}"),
            }
        }
        if let Some(requests) = &expect.requests {
            assert_eq!(&self.requests, requests, "{what}: token requests");
        }
        if let Some(sent) = &expect.sent {
            assert_eq!(&self.sent, sent, "{what}: tokens sent");
        }
        if let Some(opened) = expect.opened {
            assert_eq!(self.opened, opened, "{what}: connections opened");
        }
    }
}

#[test]
fn scenarios_follow_the_table() {
    for scenario in table().scenarios {
        let mode = match scenario.mode.as_str() {
            "handshake" => Mode::Handshake,
            _ => Mode::Message,
        };
        let margin = Duration::from_millis(scenario.margin_ms.unwrap_or(60_000));
        let mut h = Harness::new(mode, margin, Some(3), scenario.tokens);
        h.clock_skew_s = scenario.clock_skew_s.unwrap_or(0);
        h.step(Input::Start);
        for (i, step) in scenario.steps.iter().enumerate() {
            let what = format!("{} (step {i})", scenario.name);
            match step.action.as_deref() {
                Some("connected") => h.step(Input::Connected),
                Some("dropped") => h.drop_connection(),
                Some("authenticated") => {
                    let info = serde_json::from_value(step.payload.clone()).expect(&what);
                    h.step(Input::Authenticated(info));
                }
                Some("unauthorized") => {
                    h.step(Input::Unauthorized(AuthError::from_refusal(&step.payload)))
                }
                Some("connect_error") => {
                    // As the driver reads it: the `connect_error`'s message.
                    let message = step.message.as_deref().or(step.code.as_deref());
                    let mut payload = serde_json::json!({ "message": message.expect(&what) });
                    if let Some(data) = &step.data {
                        payload["data"] = data.clone();
                    }
                    h.step(Input::ConnectRefused(AuthError::from_connect_error(
                        &payload,
                    )));
                }
                Some("server_closed") => h.step(Input::ServerClosed),
                Some("transport_error") => h.step(Input::OpenFailed),
                Some("refresh") => h.step(Input::RefreshRequested),
                Some("token_expiring") => h.step(Input::TokenExpiring),
                Some("advance") => h.advance(Duration::from_millis(step.ms.expect(&what))),
                Some(other) => panic!("{what}: unknown action {other}"),
                None => {}
            }
            if let Some(expect) = &step.expect {
                h.check(expect, &what);
            }
        }
    }
}

// What only this client has.

fn authenticated_for(ms: u64) -> Input {
    Input::Authenticated(
        AuthenticatedPayload::new(Some("ada".into()), Some(TRUE_NOW + ms / 1000)).expires_in_ms(ms),
    )
}

#[test]
fn a_refresh_under_way_is_joined_whatever_asks() {
    let mut h = Harness::message_with_one_token();
    h.step(Input::Start);
    h.step(Input::Connected);
    h.step(authenticated_for(120_000));
    h.step(Input::TokenExpiring);
    h.step(Input::RefreshRequested);
    h.advance(Duration::from_secs(60));
    h.step(Input::TokenExpiring);
    assert_eq!(
        h.requests,
        ["connect", "refresh"],
        "one refresh until the server answers"
    );
    h.step(authenticated_for(120_000));
    h.step(Input::RefreshRequested);
    assert_eq!(h.requests, ["connect", "refresh", "refresh"]);
}

#[test]
fn at_most_eight_refreshes_a_minute_whatever_the_server_says() {
    let mut h = Harness::message_with_one_token();
    h.step(Input::Start);
    h.step(Input::Connected);
    // A server (or a clock) that asks for a refresh at once, every time.
    for _ in 0..20 {
        h.step(authenticated_for(600));
        h.advance(Duration::from_millis(500));
    }
    let refreshes = h.requests.iter().filter(|r| **r == "refresh").count();
    assert_eq!(refreshes, MAX_REFRESHES_PER_MINUTE, "in 10 s");
    h.advance(Duration::from_secs(60));
    assert_eq!(
        h.requests.iter().filter(|r| **r == "refresh").count(),
        MAX_REFRESHES_PER_MINUTE + 1,
        "the next one once the oldest left the minute"
    );
}

#[test]
fn nothing_happens_after_close() {
    let mut h = Harness::message_with_one_token();
    h.step(Input::Start);
    h.step(Input::Connected);
    h.step(authenticated_for(8_000));
    h.step(Input::Close);
    assert_eq!(h.machine.state(), &State::Closed);
    let before = (h.requests.len(), h.sent.len(), h.opened);
    h.advance(Duration::from_secs(3600));
    h.step(Input::TokenExpiring);
    h.step(Input::Connected);
    h.step(Input::ConnectRefused(AuthError::new("server_busy", "busy")));
    assert_eq!((h.requests.len(), h.sent.len(), h.opened), before);
    assert_eq!(h.machine.state(), &State::Closed);
}

/// The id of the one token request among `effects`.
fn fetched(effects: &[Effect]) -> (TokenRequest, u64) {
    match effects {
        [Effect::FetchToken(request, id)] => (*request, *id),
        other => panic!("expected one token request, got {other:?}"),
    }
}

fn rules(mode: Mode) -> Rules {
    Rules {
        mode,
        refresh_margin: Duration::from_secs(60),
        max_recoveries: Some(3),
        reconnect: true,
    }
}

#[test]
fn a_failing_source_ends_the_first_connection_and_retries_a_refresh() {
    let mut m = Machine::new(rules(Mode::Message));
    let now = Now {
        instant: Instant::now(),
        unix: TRUE_NOW,
        jitter: 0.0,
    };
    m.step(Input::Start, now);
    let (connect, id) = fetched(&m.step(Input::Connected, now));
    m.step(Input::Token(connect, id, Ok("t".into())), now);
    m.step(authenticated_for(600_000), now);
    let (refresh, id) = fetched(&m.step(Input::RefreshRequested, now));
    let failed = m.step(Input::Token(refresh, id, Err(TokenError::msg("down"))), now);
    assert!(
        matches!(m.state(), State::Authenticated { .. }),
        "still connected"
    );
    assert!(
        matches!(failed.as_slice(), [Effect::SetTimer(Timer::Refresh, d, _)] if *d == Duration::from_millis(500)),
        "tried again after a backoff: {failed:?}"
    );
    fetched(&m.step(Input::RefreshRequested, now));

    let mut m = Machine::new(rules(Mode::Handshake));
    let (connect, id) = fetched(&m.step(Input::Start, now));
    assert_eq!(
        m.step(Input::Token(connect, id, Err(TokenError::msg("down"))), now),
        [Effect::Shutdown]
    );
    assert!(matches!(m.state(), State::Refused(Refusal::Token(_))));
}

/// An answer to a request that a later one replaced changes nothing: a late failure does not
/// end a client that authenticated since, a late token opens nothing.
#[test]
fn an_answer_to_an_older_request_is_stale() {
    let now = Now {
        instant: Instant::now(),
        unix: TRUE_NOW,
        jitter: 0.0,
    };
    let mut m = Machine::new(rules(Mode::Message));
    m.step(Input::Start, now);
    let (first, first_id) = fetched(&m.step(Input::Connected, now));
    m.step(Input::ConnectionLost, now);
    let (second, second_id) = fetched(&m.step(Input::Connected, now));
    assert_eq!(
        m.step(Input::Token(second, second_id, Ok("t2".into())), now),
        [Effect::Authenticate("t2".into())]
    );
    m.step(authenticated_for(600_000), now);
    let late = m.step(
        Input::Token(first, first_id, Err(TokenError::msg("down"))),
        now,
    );
    assert!(late.is_empty(), "{late:?}");
    assert!(matches!(m.state(), State::Authenticated { .. }));

    let mut m = Machine::new(rules(Mode::Handshake));
    let (first, first_id) = fetched(&m.step(Input::Start, now));
    let wait = m.step(
        Input::ConnectRefused(AuthError::new("server_busy", "busy")),
        now,
    );
    let [Effect::SetTimer(Timer::BusyRetry, _, epoch)] = wait.as_slice() else {
        panic!("a wait: {wait:?}");
    };
    fetched(&m.step(Input::TimerFired(Timer::BusyRetry, *epoch), now));
    assert!(
        m.step(Input::Token(first, first_id, Ok("t1".into())), now)
            .is_empty(),
        "the first request was replaced by the retry's"
    );
}

/// While a new token is fetched after a refusal, a connection the transport made by itself
/// waits for it, and gets it: never the refused token from a `Reconnect` request.
#[test]
fn a_reconnect_during_a_recovery_waits_for_the_new_token() {
    let now = Now {
        instant: Instant::now(),
        unix: TRUE_NOW,
        jitter: 0.0,
    };
    for mode in [Mode::Message, Mode::Handshake] {
        let mut m = Machine::new(rules(mode));
        let start = m.step(Input::Start, now);
        let first = match mode {
            Mode::Message => fetched(&m.step(Input::Connected, now)),
            Mode::Handshake => fetched(&start),
        };
        m.step(Input::Token(first.0, first.1, Ok("old".into())), now);
        if mode == Mode::Handshake {
            m.step(Input::Connected, now);
        }
        m.step(authenticated_for(600_000), now);
        let refusal = AuthError::new("token_expired", "expired");
        let (expired, id) = fetched(&m.step(Input::Unauthorized(refusal), now));
        // The transport reconnects before the new token is there.
        m.step(Input::ConnectionLost, now);
        let waiting = match mode {
            Mode::Message => m.step(Input::Connected, now),
            Mode::Handshake => m.step(Input::HandshakeAuth, now),
        };
        assert!(waiting.is_empty(), "{mode:?}: {waiting:?}");
        let answer = m.step(Input::Token(expired, id, Ok("new".into())), now);
        let want = match mode {
            Mode::Message => Effect::Authenticate("new".into()),
            Mode::Handshake => Effect::HandshakeToken("new".into()),
        };
        assert_eq!(answer, [want], "{mode:?}");
    }
}

/// A server that keeps closing authenticated connections (a kick) is answered with a growing
/// wait, not a reconnect a second; one that lived a minute starts the count again.
#[test]
fn a_server_that_keeps_closing_is_waited_out_longer_each_time() {
    let mut h = Harness::message_with_one_token();
    h.step(Input::Start);
    let mut waits = Vec::new();
    for _ in 0..4 {
        h.step(Input::Connected);
        h.step(authenticated_for(600_000));
        h.step(Input::ServerClosed);
        let (at, ..) = h.timers.last().copied().expect("a wait");
        waits.push(at.duration_since(h.now));
        h.advance(Duration::from_secs(30));
    }
    assert_eq!(
        waits,
        [750, 1250, 2250, 4250].map(Duration::from_millis),
        "busy_backoff with jitter 0.5"
    );
    h.step(Input::Connected);
    h.step(authenticated_for(600_000));
    h.advance(Duration::from_secs(61));
    h.step(Input::ServerClosed);
    let (at, ..) = h.timers.last().copied().expect("a wait");
    assert_eq!(at.duration_since(h.now), Duration::from_millis(750));
}

#[test]
fn without_recovery_a_recoverable_code_is_final() {
    let mut h = Harness::new(
        Mode::Message,
        Duration::from_secs(60),
        None,
        vec!["t1".into(), "t2".into()],
    );
    h.step(Input::Start);
    h.step(Input::Connected);
    h.step(Input::Unauthorized(AuthError::new(
        "token_expired",
        "expired",
    )));
    assert!(matches!(h.machine.state(), State::Refused(r) if r.code() == "token_expired"));
    assert_eq!(h.requests, ["connect"]);
}

#[test]
fn a_connection_that_cannot_be_opened_is_waited_out_not_refused() {
    let mut h = Harness::message_with_one_token();
    h.step(Input::Start);
    assert_eq!(h.opened, 1);
    h.step(Input::OpenFailed);
    assert_eq!(h.machine.state(), &State::Waiting);
    h.advance(crate::protocol::rules::BUSY_BACKOFF_MIN);
    assert_eq!(h.opened, 2, "a new connection after the backoff");
    h.step(Input::Connected);
    h.step(authenticated_for(600_000));
    assert!(matches!(h.machine.state(), State::Authenticated { .. }));
}
