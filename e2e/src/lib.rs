//! Test harness: a real socketioxide server on a loopback port, and the stock Node
//! `socket.io-client` driven line by line (see `node/driver.mjs`).
//!
//! Every wait is bounded ([`WAIT`]); a failed wait panics with the client's recent log.

use socketioxide_jwt::keys::Keys;
use std::collections::VecDeque;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{json, Value};
use socketioxide::extract::{AckSender, Data, SocketRef};
use socketioxide::SocketIo;
use socketioxide_jwt::{Claims, JwtAuth, JwtLocalAdapter, StandardClaims};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, Command};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// The longest any single expectation may wait.
pub const WAIT: Duration = Duration::from_secs(10);

/// The HMAC secret the tests sign with (32+ bytes).
pub const SECRET: &[u8] = b"e2e-test-secret-0123456789abcdef";

/// The server's Socket.IO handle.
pub type Io = SocketIo<JwtLocalAdapter>;
/// The adapter every test server uses.
pub type A = JwtLocalAdapter;

/// Seconds since the Unix epoch.
pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs()
}

/// `{ "sub": sub, "exp": now + ttl }`.
pub fn claims(sub: &str, ttl_secs: i64) -> Value {
    json!({ "sub": sub, "exp": (now() as i64 + ttl_secs) })
}

/// An HS256 token signed with [`SECRET`].
pub fn sign(claims: &Value) -> String {
    sign_with(
        Header::new(Algorithm::HS256),
        &EncodingKey::from_secret(SECRET).expect("hmac key"),
        claims,
    )
}

/// A token signed with any header and key.
pub fn sign_with(header: Header, key: &EncodingKey, claims: &Value) -> String {
    jsonwebtoken::encode(&header, claims, key).expect("signing a test token")
}

/// Path of a key fixture (`e2e/fixtures/<name>`).
pub fn fixture(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

/// A running server; stopped when dropped.
pub struct Server {
    /// The Socket.IO handle, to broadcast and inspect from the test.
    pub io: Io,
    addr: std::net::SocketAddr,
    task: JoinHandle<()>,
}

impl Server {
    /// Starts a server on `127.0.0.1:0`; `configure` registers its namespaces.
    pub async fn start(configure: impl FnOnce(&Io)) -> Server {
        Self::start_with(configure, |app| app).await
    }

    /// Like [`Server::start`], with `wrap` adding layers around the app (an origin check, ...).
    pub async fn start_with(
        configure: impl FnOnce(&Io),
        wrap: impl FnOnce(axum::Router) -> axum::Router,
    ) -> Server {
        Self::start_at("127.0.0.1:0".parse().expect("an address"), configure, wrap).await
    }

    /// Like [`Server::start`], with REST `routes` served beside Socket.IO.
    pub async fn start_with_routes(configure: impl FnOnce(&Io), routes: axum::Router) -> Server {
        let addr = "127.0.0.1:0".parse().expect("an address");
        Self::serve(addr, configure, routes, |app| app).await
    }

    /// Starts a server on a given address (to restart one where it was).
    pub async fn start_at(
        addr: std::net::SocketAddr,
        configure: impl FnOnce(&Io),
        wrap: impl FnOnce(axum::Router) -> axum::Router,
    ) -> Server {
        Self::serve(addr, configure, axum::Router::new(), wrap).await
    }

    async fn serve(
        addr: std::net::SocketAddr,
        configure: impl FnOnce(&Io),
        routes: axum::Router,
        wrap: impl FnOnce(axum::Router) -> axum::Router,
    ) -> Server {
        init_tracing();
        let (layer, io) = SocketIo::builder()
            .with_adapter::<JwtLocalAdapter>(())
            .build_layer();
        configure(&io);
        let app = wrap(routes.layer(layer));
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .expect("binding a loopback port");
        let addr = listener.local_addr().expect("local addr");
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.expect("serving");
        });
        Server { io, addr, task }
    }

    /// The reference application twice, with the default configuration: message mode on `/`,
    /// handshake mode on `/hs`.
    pub async fn start_both_modes() -> Server {
        let message = auth().build().expect("message-mode config");
        let handshake = auth()
            .mode(socketioxide_jwt::AuthMode::Handshake)
            .build()
            .expect("handshake-mode config");
        Server::start(|io| {
            install_app(io, "/", &message);
            install_app(io, "/hs", &handshake);
        })
        .await
    }

    /// Disconnects every socket and stops serving.
    pub async fn stop(mut self) {
        self.io.close().await;
        self.task.abort();
        // Wait until the listener is really gone, so the address can be bound again.
        let _ = (&mut self.task).await;
    }

    /// The server's address.
    pub fn addr(&self) -> std::net::SocketAddr {
        self.addr
    }

    /// The URL of a namespace, e.g. `url("/")`.
    pub fn url(&self, ns: &str) -> String {
        format!("http://{}{}", self.addr, ns)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .with_test_writer()
        .try_init();
}

/// A default authentication config: HS256 with [`SECRET`].
pub fn auth() -> socketioxide_jwt::JwtAuthBuilder {
    JwtAuth::builder(Keys::hmac(SECRET))
}

/// The reference application: `whoami` (ack with the claims), `shout` (broadcast to everyone
/// else), `admin:ping` (needs role `admin`; ack `pong`).
pub fn install_app(io: &Io, ns: &'static str, auth: &JwtAuth) {
    let gate = auth.clone();
    io.ns(
        ns,
        auth.on_authenticated(async move |socket: SocketRef<A>| {
            socket.on(
                "whoami",
                async |Claims(c): Claims<StandardClaims>, ack: AckSender<A>| {
                    ack.send(&*c).ok();
                },
            );
            socket.on(
                "shout",
                async |socket: SocketRef<A>, Data(v): Data<Value>| {
                    socket.broadcast().emit("shout", &v).await.ok();
                },
            );
            socket.on(
                "admin:ping",
                gate.require(
                    |c: &StandardClaims| c.has_role("admin"),
                    async |ack: AckSender<A>| {
                        ack.send("pong").ok();
                    },
                ),
            );
        }),
    );
}

/// The stock Node `socket.io-client`, driven through `node/driver.mjs`.
pub struct Client {
    _child: Child,
    stdin: ChildStdin,
    rx: mpsc::UnboundedReceiver<Value>,
    unmatched: VecDeque<Value>,
    /// Every observation so far, in arrival order.
    pub log: Vec<Value>,
    seq: u64,
}

impl Client {
    /// Starts the Node driver. Panics with instructions if `npm ci` was not run.
    pub async fn start() -> Client {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("node");
        assert!(
            dir.join("node_modules/socket.io-client").exists(),
            "socket.io-client is not installed: run `npm ci --prefix e2e/node` (scripts/test.sh does)"
        );
        let mut child = Command::new("node")
            .arg(dir.join("driver.mjs"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .expect("starting node (is Node.js installed?)");
        let stdin = child.stdin.take().expect("stdin");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            let mut lines = BufReader::new(stdout).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                match serde_json::from_str::<Value>(&line) {
                    Ok(v) => {
                        if tx.send(v).is_err() {
                            break;
                        }
                    }
                    Err(_) => eprintln!("driver: {line}"),
                }
            }
        });
        Client {
            _child: child,
            stdin,
            rx,
            unmatched: VecDeque::new(),
            log: Vec::new(),
            seq: 0,
        }
    }

    /// Sends one driver command.
    pub async fn send(&mut self, cmd: Value) {
        let mut line = serde_json::to_vec(&cmd).expect("command json");
        line.push(b'\n');
        self.stdin.write_all(&line).await.expect("writing to node");
        self.stdin.flush().await.expect("flushing to node");
    }

    /// Opens socket `id` on `url` with extra client options.
    pub async fn connect(&mut self, id: &str, url: &str, opts: Value) {
        self.send(json!({"op": "connect", "id": id, "url": url, "opts": opts}))
            .await;
    }

    /// Opens socket `id` and waits for its `connect`; returns its socket id.
    pub async fn connected(&mut self, id: &str, url: &str, opts: Value) -> String {
        self.connect(id, url, opts).await;
        let msg = self.expect_kind(id, "connect").await;
        msg["sid"].as_str().unwrap_or_default().to_owned()
    }

    /// Emits `event` with `args` (a JSON array), without an ack.
    pub async fn emit(&mut self, id: &str, event: &str, args: Value) {
        self.send(json!({"op": "emit", "id": id, "event": event, "args": args}))
            .await;
    }

    /// Emits `event` with `args` and an ack labelled `ack`.
    pub async fn emit_ack(&mut self, id: &str, event: &str, args: Value, ack: &str) {
        self.send(json!({"op": "emit", "id": id, "event": event, "args": args, "ack": ack}))
            .await;
    }

    /// Emits `authenticate` with `{ token }` and waits for `authenticated`.
    pub async fn authenticate(&mut self, id: &str, token: &str) -> Value {
        self.emit(id, "authenticate", json!([{ "token": token }]))
            .await;
        self.expect_event(id, "authenticated").await
    }

    /// Connects `id` with `token`: handshake mode on `/hs` for ids starting with `hs`, message
    /// mode on `/` (connect, then `authenticate`) for the others.
    pub async fn connect_in_mode(&mut self, server: &Server, id: &str, token: &str) {
        if id.starts_with("hs") {
            let opts = json!({ "auth": { "token": token } });
            self.connected(id, &server.url("/hs"), opts).await;
        } else {
            self.login(id, &server.url("/"), token).await;
        }
    }

    /// Connects, authenticates (message mode) and returns the socket id.
    pub async fn login(&mut self, id: &str, url: &str, token: &str) -> String {
        let sid = self.connected(id, url, json!({})).await;
        self.authenticate(id, token).await;
        sid
    }

    /// A round trip to the driver: everything it printed before is in the log afterwards.
    pub async fn sync(&mut self) {
        self.seq += 1;
        let seq = self.seq;
        self.send(json!({"op": "ping", "seq": seq})).await;
        self.expect(|m| m["kind"] == "pong" && m["seq"] == seq, "pong")
            .await;
    }

    /// Waits for the first observation matching `pred` (earlier unmatched ones included).
    pub async fn expect(&mut self, pred: impl Fn(&Value) -> bool, what: &str) -> Value {
        if let Some(pos) = self.unmatched.iter().position(&pred) {
            return self.unmatched.remove(pos).expect("position is valid");
        }
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            match tokio::time::timeout_at(deadline, self.rx.recv()).await {
                Ok(Some(msg)) => {
                    self.log.push(msg.clone());
                    if pred(&msg) {
                        return msg;
                    }
                    self.unmatched.push_back(msg);
                }
                Ok(None) => panic!("node driver exited while waiting for {what}"),
                Err(_) => {
                    let tail: Vec<_> = self.log.iter().rev().take(15).rev().collect();
                    panic!("timed out after {WAIT:?} waiting for {what}; recent log: {tail:#?}")
                }
            }
        }
    }

    /// Waits for observation `kind` (`connect`, `disconnect`, `connect_error`) on socket `id`.
    pub async fn expect_kind(&mut self, id: &str, kind: &str) -> Value {
        self.expect(
            |m| m["id"] == id && m["kind"] == kind,
            &format!("{kind} on {id}"),
        )
        .await
    }

    /// Waits for event `event` on socket `id` and returns its first argument.
    pub async fn expect_event(&mut self, id: &str, event: &str) -> Value {
        let msg = self
            .expect(
                |m| m["id"] == id && m["kind"] == "event" && m["event"] == event,
                &format!("event {event} on {id}"),
            )
            .await;
        msg["args"][0].clone()
    }

    /// Waits for the ack labelled `ack` on socket `id` and returns its first argument.
    pub async fn expect_ack(&mut self, id: &str, ack: &str) -> Value {
        let msg = self
            .expect(
                |m| m["id"] == id && m["kind"] == "ack" && m["ack"] == ack,
                &format!("ack {ack} on {id}"),
            )
            .await;
        msg["args"][0].clone()
    }

    /// Every observation of socket `id` so far, in order.
    pub fn history(&self, id: &str) -> Vec<&Value> {
        self.log.iter().filter(|m| m["id"] == id).collect()
    }

    /// Names of the events socket `id` received so far, in order.
    pub fn events(&self, id: &str) -> Vec<String> {
        self.history(id)
            .into_iter()
            .filter(|m| m["kind"] == "event")
            .map(|m| m["event"].as_str().unwrap_or_default().to_owned())
            .collect()
    }

    /// Whether socket `id` got an ack labelled `ack`.
    pub fn got_ack(&self, id: &str, ack: &str) -> bool {
        self.history(id)
            .iter()
            .any(|m| m["kind"] == "ack" && m["ack"] == ack)
    }
}

/// Polls a condition until it holds, at most [`WAIT`] (for state no event announces).
pub async fn wait_until(cond: impl Fn() -> bool, what: &str) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while !cond() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Asserts `obj` is the contract's error object with `code`.
pub fn assert_error_object(obj: &Value, code: &str) {
    assert_eq!(obj["code"], code, "code in {obj}");
    assert_eq!(obj["type"], "UnauthorizedError", "type in {obj}");
    assert!(
        obj["message"].as_str().is_some_and(|m| !m.is_empty()),
        "message in {obj}"
    );
    assert_eq!(obj["data"]["code"], code, "data.code in {obj}");
    assert_eq!(
        obj["data"]["type"], "UnauthorizedError",
        "data.type in {obj}"
    );
    assert_eq!(
        obj["data"]["message"], obj["message"],
        "data.message in {obj}"
    );
}
