//! The user store: SQLite, passwords hashed with argon2, seeded with demo accounts.

use std::path::Path;
use std::sync::{Arc, Mutex};

use argon2::password_hash::{
    rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString,
};
use argon2::Argon2;

use crate::hashing::{Busy, HashPool};
use rusqlite::{params, Connection, OptionalExtension};

/// The accounts created on first start: (username, password, role).
pub const DEMO_ACCOUNTS: &[(&str, &str, &str)] = &[
    ("alice", "wonderland", "user"),
    ("bob", "builder", "user"),
    ("admin", "admin-password", "admin"),
];

/// How long a query waits for another process's write lock before failing.
const BUSY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// A user who logged in.
#[derive(Debug, Clone)]
pub struct User {
    pub username: String,
    pub role: String,
}

/// Errors of the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error")]
    Db(#[from] rusqlite::Error),
    #[error("password hashing error: {0}")]
    Hash(String),
    #[error("background task failed")]
    Join(#[from] tokio::task::JoinError),
    #[error("cannot lock the database for its setup")]
    Lock(#[from] std::io::Error),
    /// Too many password hashes waiting (see [`crate::hashing`]).
    #[error(transparent)]
    Busy(#[from] Busy),
}

/// Cheap to clone; blocking work runs on tokio's blocking pool.
#[derive(Clone)]
pub struct UserStore {
    conn: Arc<Mutex<Connection>>,
    /// Verified against when the user does not exist, so both cases cost the same.
    dummy_hash: Arc<String>,
    /// Where passwords are hashed.
    hashing: HashPool,
}

impl UserStore {
    /// Opens (or creates and seeds) `<dir>/users.sqlite3`. Safe for several processes on one
    /// directory at once: WAL journal, a busy timeout, and seeding that inserts only what is
    /// missing.
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        // One instance at a time opens and sets up the database: SQLite can answer SQLITE_BUSY
        // at once, without waiting out the busy timeout, while another connection switches the
        // journal to WAL or writes the first schema (seen with instances started together on a
        // fresh directory). The lock (flock) is released when `init` is dropped, at the end.
        let init = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(dir.join("users.sqlite3.init-lock"))?;
        init.lock()?;
        let conn = Connection::open(dir.join("users.sqlite3"))?;
        // Other instances may hold the write lock for a moment (seeding, WAL switch).
        conn.busy_timeout(BUSY_TIMEOUT)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS users (
                username TEXT PRIMARY KEY,
                password_hash TEXT NOT NULL,
                role TEXT NOT NULL DEFAULT 'user'
            );",
        )?;
        let count: i64 = conn.query_row("SELECT COUNT(*) FROM users", [], |r| r.get(0))?;
        if count == 0 {
            let mut seeded = 0;
            for (username, password, role) in DEMO_ACCOUNTS {
                // Another instance started on the same directory may have seeded it meanwhile.
                seeded += conn.execute(
                    "INSERT OR IGNORE INTO users (username, password_hash, role) VALUES (?1, ?2, ?3)",
                    params![username, hash(password)?, role],
                )?;
            }
            if seeded > 0 {
                tracing::info!(accounts = seeded, "seeded the user database");
            }
        }
        Ok(Self {
            conn: Arc::new(Mutex::new(conn)),
            dummy_hash: Arc::new(hash("not-a-real-password")?),
            hashing: HashPool::new(),
        })
    }

    /// Sets `username`'s password (an `admin` account created with it if missing), on a
    /// blocking thread.
    pub async fn set_password(
        &self,
        username: String,
        password: String,
        role: &'static str,
    ) -> Result<(), StoreError> {
        let conn = self.conn.clone();
        tokio::task::spawn_blocking(move || {
            let hashed = hash(&password)?;
            let conn = conn.lock().unwrap_or_else(|e| e.into_inner());
            conn.execute(
                "INSERT INTO users (username, password_hash, role) VALUES (?1, ?2, ?3)
                 ON CONFLICT(username) DO UPDATE SET password_hash = excluded.password_hash",
                params![username, hashed, role],
            )?;
            Ok(())
        })
        .await?
    }

    /// The user, if the password is right.
    pub async fn verify(
        &self,
        username: String,
        password: String,
    ) -> Result<Option<User>, StoreError> {
        let store = self.clone();
        self.hashing
            .run(move || store.verify_blocking(&username, &password))
            .await?
    }

    /// The user's current role, if the user exists.
    pub async fn role(&self, username: String) -> Result<Option<String>, StoreError> {
        let conn = self.conn.clone();
        tokio::task::spawn_blocking(move || {
            let conn = conn.lock().unwrap_or_else(|e| e.into_inner());
            conn.query_row(
                "SELECT role FROM users WHERE username = ?1",
                params![username],
                |r| r.get(0),
            )
            .optional()
            .map_err(StoreError::from)
        })
        .await?
    }

    fn verify_blocking(&self, username: &str, password: &str) -> Result<Option<User>, StoreError> {
        let row: Option<(String, String)> = {
            let conn = self.conn.lock().unwrap_or_else(|e| e.into_inner());
            conn.query_row(
                "SELECT password_hash, role FROM users WHERE username = ?1",
                params![username],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?
        };
        let (stored, role) = match &row {
            Some((h, r)) => (h.as_str(), Some(r.clone())),
            None => (self.dummy_hash.as_str(), None),
        };
        let parsed = PasswordHash::new(stored).map_err(|e| StoreError::Hash(e.to_string()))?;
        let ok = Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok();
        Ok(match (ok, role) {
            (true, Some(role)) => Some(User {
                username: username.to_owned(),
                role,
            }),
            _ => None,
        })
    }
}

fn hash(password: &str) -> Result<String, StoreError> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| StoreError::Hash(e.to_string()))
}
