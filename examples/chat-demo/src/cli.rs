//! Command-line flags (`chat-demo --help`).

use std::net::IpAddr;
use std::path::PathBuf;

use clap::{Parser, ValueEnum};

/// A chat whose Socket.IO connections are authenticated with the JWT issued by its REST login.
// No `Debug`: the settings hold secrets, and nothing should be able to print them whole.
#[derive(Parser)]
#[command(name = "chat-demo", version, about, long_about = None, after_long_help = IDENTITY_HELP)]
pub struct Args {
    /// Port to listen on (0 picks a free one; the chosen URL is printed).
    #[arg(long, default_value_t = 3000)]
    pub port: u16,

    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    pub host: IpAddr,

    /// How sockets authenticate: `message` (emit `authenticate` after connecting) or `handshake`
    /// (the Socket.IO `auth` payload).
    #[arg(long, value_enum, default_value_t = Mode::Message)]
    pub mode: Mode,

    /// HMAC secret that signs and verifies tokens (HS256). Default: generated at first start and
    /// kept in the data directory. A flag shows in `ps`: prefer JWT_SECRET or --secret-file.
    /// Repeat it to rotate: the first signs, every one verifies (keep a replaced secret until
    /// the tokens it signed have expired).
    #[arg(long, env = "JWT_SECRET", hide_env_values = true)]
    pub secret: Vec<String>,

    /// Read the HMAC secret from this file (one trailing newline ignored), instead of --secret
    /// or JWT_SECRET.
    #[arg(long, value_name = "FILE")]
    pub secret_file: Option<PathBuf>,

    /// PEM public key (RSA, EC P-256 or Ed25519) to verify tokens with, instead of a secret.
    /// Verification only: `/login` then answers 501.
    #[arg(long, value_name = "FILE")]
    pub public_key: Option<PathBuf>,

    /// Verify with the keys of a JWKS (an https URL, or a file), as issued by an identity
    /// provider. Verification only: `/login` then answers 501.
    #[arg(long, value_name = "URL_OR_FILE", conflicts_with = "public_key")]
    pub jwks: Option<String>,

    /// Also accept the tokens of an OpenID Connect provider (its keys found at
    /// `<URL>/.well-known/openid-configuration`), verified with its keys only; repeat for
    /// several. The demo's own `/login` keeps working beside them (its tokens carry --issuer).
    #[arg(long, value_name = "URL", conflicts_with_all = ["public_key", "jwks"])]
    pub oidc_issuer: Vec<String>,

    /// This app's client id at the --oidc-issuer providers: accept their OpenID Connect
    /// Back-Channel Logout tokens (`aud` = this id) at `POST /backchannel-logout`, which
    /// disconnects the sockets of the login session (`sid`) or user (`sub`) they name.
    #[arg(long, value_name = "ID", requires = "oidc_issuer")]
    pub oidc_client_id: Option<String>,

    /// Milliseconds a socket has to authenticate (message mode).
    #[arg(long, default_value_t = 5000)]
    pub auth_timeout_ms: u64,

    /// Milliseconds between Engine.IO pings (socketioxide's `ping_interval`). Behind a proxy,
    /// keep its read timeout above this: the pings are what keep an idle socket's connection
    /// open through it.
    #[arg(long, default_value_t = 25_000, value_parser = clap::value_parser!(u64).range(100..))]
    pub ping_interval_ms: u64,

    /// Issuer put in and required from tokens (`iss`). Without it, the demo's own tokens carry
    /// `iss: "chat-demo"` and no `iss` is required.
    #[arg(long)]
    pub issuer: Option<String>,

    /// Audience put in and required from tokens (`aud`). Required with --jwks and
    /// --oidc-issuer (an identity provider signs the tokens of all its clients with the same
    /// keys). Without it, a token that carries any `aud` is refused.
    #[arg(long)]
    pub audience: Option<String>,

    /// Accept tokens whatever their `aud` (instead of --audience): every token the identity
    /// provider issued for any of its clients authenticates here. Unsafe unless all of them are
    /// meant for this app.
    #[arg(long, conflicts_with = "audience")]
    pub any_audience: bool,

    /// Clock-skew leeway for `exp` and `nbf`, in seconds.
    #[arg(long, default_value_t = 0)]
    pub leeway_secs: u64,

    /// Lifetime of the tokens `/login` and `/token/refresh` issue, in seconds.
    #[arg(long, default_value_t = 900)]
    pub token_ttl_secs: u64,

    /// End login sessions older than this many seconds (from the login, `auth_time`): a
    /// refresh after it is refused, and the socket with it. 0: no limit.
    #[arg(long, default_value_t = 0)]
    pub max_session_age_secs: u64,

    /// Where the user database and the generated secret live.
    #[arg(long, default_value = "chat-demo-data")]
    pub data_dir: PathBuf,

    /// Where a handshake (and a REST call) may carry the token, in order (repeatable):
    /// `auth` (the Socket.IO `auth` payload), `header` (`Authorization: Bearer`), `cookie` (the
    /// --token-cookie). Default: `auth`, `header`, then `cookie` with --token-cookie.
    /// `--credential-source header` alone is socketio-jwt's `auth_header_required`.
    #[arg(long = "credential-source", value_enum, value_name = "SOURCE")]
    pub credential_sources: Vec<SourceArg>,

    /// Lifetime of the room tokens `POST /rooms/{room}/token` issues (a socket joins the room
    /// with one: `join { room, token }`, until it expires).
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub room_token_ttl_secs: u64,

    /// Sockets that do not authenticate stay, as guests: they are in the `lobby` room
    /// (authenticated users can post there: `chat message` `{ room: "lobby" }`), `whoami` acks
    /// `{ "guest": true }`, their `chat message` is refused `forbidden`, and a later
    /// `authenticate` works as usual.
    #[arg(long)]
    pub allow_guests: bool,

    /// The claim that names users (for presence, the per-user cap, revocations by user, logs)
    /// when it is not `sub`: Azure AD's `oid`, an `email`.
    #[arg(long, value_name = "CLAIM", default_value = "sub")]
    pub identity_claim: String,

    /// Also set the token in this `HttpOnly; SameSite=Strict` cookie at `/login` and
    /// `/token/refresh` (`Secure` when every --allowed-origin is https; `/logout` clears it),
    /// and accept it on socket handshakes and REST requests from the page's origins
    /// (--allowed-origin, else this server's address): the page keeps no token. Needs
    /// `--mode handshake`.
    #[arg(long, value_name = "NAME")]
    pub token_cookie: Option<String>,

    /// Origin allowed to open sockets (repeatable), e.g. `--allowed-origin https://chat.example.com`.
    /// When given, Socket.IO requests from any other browser origin get 403. Include the demo's
    /// own URL.
    #[arg(long = "allowed-origin", value_name = "ORIGIN")]
    pub allowed_origins: Vec<String>,

    /// At most this many sockets may be waiting to authenticate; beyond, new connections are
    /// refused with `server_busy`. Default: the library's (10 000).
    #[arg(long)]
    pub max_pending: Option<usize>,

    /// The Socket.IO endpoint path (socket.io-client's `path` option), e.g. `/socket.io-client`
    /// for a client that connects with `io('', { path: '/socket.io-client' })`.
    #[arg(long, default_value = "/socket.io", value_parser = parse_path)]
    pub path: String,

    /// The Socket.IO packet format: `json` (socket.io-client's default) or `msgpack`
    /// (socket.io-msgpack-parser clients). One server speaks one; the demo page speaks JSON.
    #[arg(long, value_enum, default_value_t = PacketFormat::Json)]
    pub parser: PacketFormat,

    /// At most this many sockets from one client address (IPv6: one /64) may be waiting to
    /// authenticate; beyond, that address gets `server_busy` and everyone else still gets in.
    /// Default: the library's (1 % of --max-pending, at least 10).
    #[arg(long)]
    pub max_pending_per_address: Option<usize>,

    /// Largest Socket.IO message accepted, in bytes (bounds what an unauthenticated socket can
    /// make the server buffer).
    #[arg(long, default_value_t = 64 * 1024)]
    pub max_message_bytes: usize,

    /// Redis URL to run several instances: broadcasts and revocations are shared through it.
    /// `redis://host:port/`, or `rediss://` for TLS; an ACL user as `rediss://user:password@host:port/`.
    /// Without it, one process with in-memory revocations. A flag shows in `ps`, password
    /// included: prefer REDIS_URL or --redis-file.
    #[arg(long, value_name = "URL", env = "REDIS_URL", hide_env_values = true)]
    pub redis: Option<String>,

    /// Read the Redis URL (with its password) from this file (one trailing newline ignored),
    /// instead of --redis or REDIS_URL.
    #[arg(long, value_name = "FILE")]
    pub redis_file: Option<PathBuf>,

    /// With a `rediss://` URL: the CA (PEM) that signed the Redis server's certificate, instead
    /// of the system's trust store.
    #[arg(long, value_name = "FILE")]
    pub redis_ca: Option<PathBuf>,

    /// With a `rediss://` URL: a client certificate (PEM) for servers that require one
    /// (`tls-auth-clients yes`); with --redis-key.
    #[arg(long, value_name = "FILE", requires = "redis_key")]
    pub redis_cert: Option<PathBuf>,

    /// A Sentinel (`HOST:PORT`, repeat for each) that names the Redis master, followed through
    /// failovers; with --redis-sentinel-master. --redis then gives the user, password and
    /// scheme for the data nodes (its host is not used) and may be left out.
    #[arg(long, value_name = "HOST:PORT", requires = "redis_sentinel_master")]
    pub redis_sentinel: Vec<String>,

    /// A node of a Redis Cluster (`HOST:PORT`, repeat for several; the others are found from
    /// them). Broadcasts then go over sharded pub/sub. --redis then gives the user, password
    /// and scheme (its host is not used) and may be left out.
    #[arg(long, value_name = "HOST:PORT", conflicts_with = "redis_sentinel")]
    pub redis_cluster: Vec<String>,

    /// The master's name in the Sentinels' configuration (`sentinel monitor NAME ...`).
    #[arg(long, value_name = "NAME", requires = "redis_sentinel")]
    pub redis_sentinel_master: Option<String>,

    /// The client certificate's private key (PEM); with --redis-cert.
    #[arg(long, value_name = "FILE", requires = "redis_cert")]
    pub redis_key: Option<PathBuf>,

    /// Serve the page's scripts from this built JS client package (`clients/js` after
    /// `npm ci && npm run build`) instead of the copy embedded at build time: for working on the
    /// client without rebuilding the server.
    #[arg(long, value_name = "DIR")]
    pub client_dir: Option<PathBuf>,

    /// Serve `GET /metrics` in the Prometheus text format (authentications by outcome, sockets
    /// by state, verify time, revocations, JWKS fetches). Expose it to your scraper only.
    #[arg(long)]
    pub metrics: bool,

    /// Send `token_expiring` this many seconds before a socket's token expires (at most half
    /// its remaining lifetime), so the page refreshes even when its own timers were throttled.
    /// 0 turns it off.
    #[arg(long, default_value_t = 60)]
    pub expiry_warning_secs: u64,

    /// At most this many authenticated sockets per user (`sub`); one more is refused with
    /// `forbidden`. Counted across every instance with --redis.
    #[arg(long)]
    pub max_sockets_per_user: Option<usize>,

    /// Require a local account (a user in the demo's database) for every token, also for tokens
    /// the demo did not issue. Without it, see "Identity" below.
    #[arg(long)]
    pub require_account: bool,

    /// Also give admin rights (`POST /admin/revoke`, `POST /admin/rooms`) to the tokens of this
    /// issuer (their exact `iss`) whose `role` or `roles` claim holds "admin"; repeat for
    /// several. Without it, only the demo's own admin account is an admin: see "Admins" below.
    #[arg(long = "admin-issuer", value_name = "ISS")]
    pub admin_issuers: Vec<String>,

    /// A reverse proxy in front of the demo (an address, or a CIDR range; repeat for several):
    /// the client's address of a request from one of them is read from its `Forwarded` or
    /// `X-Forwarded-For` header, right to left; from anyone else those headers are ignored.
    /// The per-address limits (`/login`, `/backchannel-logout`, the pending sockets) and the
    /// logs then see clients, not the proxy.
    #[arg(long = "trusted-proxy", value_name = "CIDR")]
    pub trusted_proxies: Vec<String>,

    /// The header the --trusted-proxy proxies write the client's address in; the other one is
    /// never read (a proxy passes on what a client put in the header it does not write).
    #[arg(long, value_enum, default_value_t = ForwardingHeaderArg::XForwardedFor)]
    pub forwarded_header: ForwardingHeaderArg,

    /// The password of the demo's `admin` account, set at start (the account is created with
    /// it, or its password changed). Default: `admin-password` on a new database, unchanged on
    /// an existing one.
    #[arg(long, env = "CHAT_DEMO_ADMIN_PASSWORD", hide_env_values = true)]
    pub admin_password: Option<String>,

    /// Read the admin password from this file (one trailing newline ignored), instead of
    /// --admin-password or CHAT_DEMO_ADMIN_PASSWORD.
    #[arg(long, value_name = "FILE")]
    pub admin_password_file: Option<PathBuf>,

    /// Receive the security events (OpenID Shared Signals: CAEP, RISC) of this transmitter,
    /// found at `<ISSUER>/.well-known/ssf-configuration`; repeat for several. Its events close
    /// the sockets of a revoked session or account, or ask them for a fresh token, on every
    /// instance (docs/OPERATING.md). Accept its users' tokens with --oidc-issuer.
    #[arg(long = "ssf-transmitter", value_name = "ISSUER")]
    pub ssf_transmitters: Vec<String>,

    /// The bearer token transmitters push events with (`POST /ssf/events`,
    /// `Authorization: Bearer <TOKEN>`); without it, push is off.
    #[arg(long, env = "CHAT_DEMO_SSF_PUSH_TOKEN", hide_env_values = true)]
    pub ssf_push_token: Option<String>,

    /// The bearer token the demo presents to transmitters to read its stream and poll it;
    /// with it, a transmitter that offers poll delivery (and whose stream is delivered so) is
    /// polled.
    #[arg(long, env = "CHAT_DEMO_SSF_POLL_TOKEN", hide_env_values = true)]
    pub ssf_poll_token: Option<String>,

    /// The `aud` the events must carry. Default: --audience.
    #[arg(long, value_name = "AUD")]
    pub ssf_audience: Option<String>,
}

impl Args {
    /// Reads the secrets given as files (`--secret-file`, `--redis-file`,
    /// `--admin-password-file`) into their settings; an empty one given otherwise counts as
    /// none. A secret given twice (a file and a flag or
    /// its environment variable) is refused: which one counts would be a guess.
    pub fn read_secret_files(&mut self) -> Result<(), String> {
        self.secret.retain(|s| !s.is_empty());
        let mut signing = self.secret.first().cloned();
        read_into(
            &mut signing,
            &self.secret_file,
            "--secret-file",
            "--secret / JWT_SECRET",
        )?;
        if let (Some(secret), true) = (signing, self.secret.is_empty()) {
            self.secret.push(secret);
        }
        read_into(
            &mut self.redis,
            &self.redis_file,
            "--redis-file",
            "--redis / REDIS_URL",
        )?;
        read_into(
            &mut self.admin_password,
            &self.admin_password_file,
            "--admin-password-file",
            "--admin-password / CHAT_DEMO_ADMIN_PASSWORD",
        )
    }
}

/// Sets `value` from the file at `file`, if one is named (its content less one trailing
/// newline); never puts the value in an error.
fn read_into(
    value: &mut Option<String>,
    file: &Option<PathBuf>,
    file_flag: &str,
    other: &str,
) -> Result<(), String> {
    // An empty flag or variable (a compose file's unset `${SECRET}`) gives nothing.
    if value.as_deref() == Some("") {
        *value = None;
    }
    let Some(path) = file else {
        return Ok(());
    };
    if value.is_some() {
        return Err(format!("{file_flag} and {other} both give it: give one"));
    }
    let content = std::fs::read_to_string(path)
        .map_err(|e| format!("{file_flag} {}: {e}", path.display()))?;
    let content = content
        .strip_suffix('\n')
        .map(|c| c.strip_suffix('\r').unwrap_or(c))
        .unwrap_or(&content);
    if content.is_empty() {
        return Err(format!("{file_flag} {}: the file is empty", path.display()));
    }
    *value = Some(content.to_owned());
    Ok(())
}

/// `--forwarded-header`.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ForwardingHeaderArg {
    /// `X-Forwarded-For` (nginx's `$proxy_add_x_forwarded_for`, most load balancers).
    XForwardedFor,
    /// RFC 7239's `Forwarded`.
    Forwarded,
}

/// The identity rule, printed by `--help`.
const IDENTITY_HELP: &str = "\
Identity:
  Tokens the demo issued itself (its /login and /token/refresh, signed with its own secret) carry
  its issuer name in `iss` (--issuer, default \"chat-demo\"). They are checked against the user
  database: a deleted user is refused with `forbidden`.
  Tokens it did not issue (--public-key, --jwks, --oidc-issuer, or a --secret shared with another
  issuer whose tokens carry another or no `iss`) authenticate on their verified claims alone: the
  demo has no account for them and needs none. --require-account asks for a local account for
  every token.

Admins:
  POST /admin/revoke and POST /admin/rooms are for the demo's admins only: the holders of a token
  the demo issued itself (its `iss`) with the admin role, for a user who is an admin in its
  database. A token of another issuer is no admin, whatever `role` or `roles` it claims (an
  identity provider's admins are not the demo's), unless that issuer is named with
  --admin-issuer ISS (repeatable): then its tokens whose `role` is \"admin\" or whose `roles`
  contain \"admin\" are admins. Others get 403 `forbidden`.
  POST /admin/revoke takes { \"sub\", \"iss\"? } (a user), { \"sid\", \"iss\"? } (a login session),
  { \"jti\", \"exp\" } (one token, revoked until its `exp` in seconds since the epoch; a past `exp`
  needs no revocation: 200 with \"expired\": true) or { \"token\": \"<jwt>\" } (one token handed in
  whole, verified, then revoked by its `jti` until its `exp`).

Rooms:
  Tokens carry a `rooms` claim (an array of strings): the chat rooms their holder may read and
  write. The demo's own tokens grant alice general and tea-party, bob general and workshop, and
  admin all three; tokens of other issuers bring their own. A socket joins its rooms when it is
  authenticated and again at every refresh; `chat message` with a `room` reaches that room's
  members only (`forbidden` for a room the token does not grant).

Logging:
  RUST_LOG sets the filter (default: info). Frame- and packet-level logs of tungstenite,
  tokio_tungstenite, engineioxide, socketioxide and socketioxide_redis print message contents,
  tokens included; they stay at warn unless RUST_LOG names the target.";

/// The `iss` of the tokens the demo issues when `--issuer` is not given.
pub const DEFAULT_OWN_ISSUER: &str = "chat-demo";

/// `--parser`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PacketFormat {
    /// Socket.IO's default text format (every socket.io-client, 1.x to 4.x).
    Json,
    /// MessagePack (socket.io-msgpack-parser 3.x with socket.io-client 3.x/4.x).
    Msgpack,
}

/// `--path`: absolute, no trailing slash, no query.
fn parse_path(path: &str) -> Result<String, String> {
    let trimmed = path.trim_end_matches('/');
    if !path.starts_with('/') || trimmed.is_empty() || path.contains(['?', '#', ' ']) {
        return Err("expected an absolute path such as /socket.io or /socket.io-client".into());
    }
    Ok(trimmed.to_owned())
}

/// `--credential-source`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SourceArg {
    /// The Socket.IO `auth` payload's `token`.
    Auth,
    /// `Authorization: Bearer`.
    Header,
    /// The --token-cookie.
    Cookie,
}

/// `--mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Mode {
    /// Connect, then emit `authenticate` with `{ token }`.
    Message,
    /// Send the token in the handshake's `auth` payload.
    Handshake,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Message => "message",
            Mode::Handshake => "handshake",
        }
    }
}
