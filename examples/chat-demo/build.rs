//! Embeds the page's JS (the built `clients/js` package and socket.io-client's ESM bundle) into
//! the binary, so a release build can be copied anywhere and still serve a working page.
//!
//! The package is looked for at `CHAT_DEMO_JS_CLIENT` (default: `../../clients/js`). When it has
//! not been built, the binary embeds nothing and the page explains what to run instead.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// socket.io-client's browser ESM bundle, inside the package's `node_modules`.
const SOCKET_IO_BUNDLE: &str = "node_modules/socket.io-client/dist/socket.io.esm.min.js";

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=CHAT_DEMO_JS_CLIENT");
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let package = std::env::var_os("CHAT_DEMO_JS_CLIENT")
        .map(PathBuf::from)
        .unwrap_or_else(|| manifest.join("../../clients/js"));
    // The whole package directory: its `dist/` or `node_modules/` appearing triggers a rebuild.
    println!("cargo:rerun-if-changed={}", package.display());

    let assets = find_assets(&package);
    if assets.is_empty() {
        println!(
            "cargo:warning=the JS client in {} is not built: the demo page will only explain how \
             to build it (run ./scripts/demo.sh, or `npm ci && npm run build` in clients/js)",
            package.display()
        );
    }
    let mut code = String::from(
        "/// The page's scripts, embedded at build time: (URL path, content).\n\
         pub const CLIENT_ASSETS: &[(&str, &[u8])] = &[\n",
    );
    for (url, file) in &assets {
        let file = file.canonicalize().expect("the file was just listed");
        writeln!(code, "    ({url:?}, include_bytes!({:?})),", file.display()).expect("a String");
    }
    code.push_str("];\n");
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("set by cargo"));
    std::fs::write(out.join("client_assets.rs"), code).expect("OUT_DIR is writable");
}

/// Every file the page loads, or none when any is missing (a half-built package is not served).
fn find_assets(package: &Path) -> Vec<(String, PathBuf)> {
    let bundle = package.join(SOCKET_IO_BUNDLE);
    let dist = package.join("dist");
    if !bundle.is_file() || !dist.join("index.js").is_file() {
        return Vec::new();
    }
    let mut assets = vec![(
        "/vendor/socket.io-client/socket.io.esm.min.js".to_owned(),
        bundle,
    )];
    let mut scripts: Vec<PathBuf> = std::fs::read_dir(&dist)
        .expect("dist/ was just found")
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.extension().is_some_and(|ext| ext == "js"))
        .collect();
    scripts.sort();
    for script in scripts {
        let name = script
            .file_name()
            .and_then(|n| n.to_str())
            .expect("a .js file name")
            .to_owned();
        assets.push((format!("/vendor/socketioxide-jwt-client/{name}"), script));
    }
    assets
}
