//! The HMAC signing secret: from the flag or env, else generated once and kept on disk.

use std::io::Write;
use std::path::Path;

use rand::RngCore;

const SECRET_FILE: &str = "jwt-secret";

/// Reads `<data_dir>/jwt-secret`, creating it (32 random bytes, hex, mode 0600) if missing.
///
/// Several instances started at once on one directory all end up with the same secret: each
/// writes its candidate to a file of its own and links it into place, which fails for all but the
/// first; the others then read the winner's.
pub fn load_or_create(data_dir: &Path) -> std::io::Result<String> {
    let path = data_dir.join(SECRET_FILE);
    if let Some(secret) = read(&path)? {
        return Ok(secret);
    }
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let candidate = data_dir.join(format!("{SECRET_FILE}.{}.tmp", std::process::id()));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(&candidate)?;
    file.write_all(hex::encode(bytes).as_bytes())?;
    file.sync_all()?;
    drop(file);
    let linked = std::fs::hard_link(&candidate, &path);
    std::fs::remove_file(&candidate)?;
    match linked {
        Ok(()) => tracing::info!(path = %path.display(), "generated a new signing secret"),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(e),
    }
    read(&path)?.ok_or_else(|| std::io::Error::other(format!("{} is empty", path.display())))
}

/// The secret in `path`, if the file exists and is not empty.
fn read(path: &Path) -> std::io::Result<Option<String>> {
    match std::fs::read_to_string(path) {
        Ok(s) if !s.trim().is_empty() => Ok(Some(s.trim().to_owned())),
        Ok(_) => Ok(None),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}
