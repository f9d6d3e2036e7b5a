//! The HMAC signing secret: from the flag or env, else generated once and kept on disk.

use std::io::Write;
use std::path::Path;

use rand::RngCore;

const SECRET_FILE: &str = "jwt-secret";

/// Reads `<data_dir>/jwt-secret`, creating it (32 random bytes, hex, mode 0600) if missing.
pub fn load_or_create(data_dir: &Path) -> std::io::Result<String> {
    let path = data_dir.join(SECRET_FILE);
    match std::fs::read_to_string(&path) {
        Ok(s) if !s.trim().is_empty() => return Ok(s.trim().to_owned()),
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let secret = hex::encode(bytes);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(&path)?.write_all(secret.as_bytes())?;
    tracing::info!(path = %path.display(), "generated a new signing secret");
    Ok(secret)
}
