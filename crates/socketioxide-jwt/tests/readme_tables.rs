//! The crate README's tables name everything a reader can configure or turn on: every method of
//! the builder in "Configuration", every feature in "Feature flags", every public module and
//! root item in "Crate layout". A setting added without its row fails here.

const README: &str = include_str!("../README.md");

/// The README's section under `## {title}`, up to the next `## `.
fn section(title: &str) -> &'static str {
    let start = README
        .find(&format!("\n## {title}\n"))
        .unwrap_or_else(|| panic!("README has no section {title}"));
    let rest = &README[start + title.len() + 5..];
    &rest[..rest.find("\n## ").unwrap_or(rest.len())]
}

/// The names after `pub fn ` in `source`, or after `pub mod ` / `pub use` at the root.
fn names_after<'a>(source: &'a str, prefix: &str) -> Vec<&'a str> {
    source
        .lines()
        .filter_map(|line| line.trim_start().strip_prefix(prefix))
        .map(|rest| {
            rest.split(|c: char| !c.is_alphanumeric() && c != '_')
                .next()
                .unwrap_or("")
        })
        .filter(|name| !name.is_empty())
        .collect()
}

#[test]
fn every_builder_method_has_a_row() {
    let sources = [
        include_str!("../src/builder.rs"),
        include_str!("../src/builder/tokens.rs"),
        include_str!("../src/builder/limits.rs"),
    ];
    let table = section("Configuration");
    let missing: Vec<&str> = sources
        .iter()
        .flat_map(|s| names_after(s, "pub fn "))
        .filter(|name| !matches!(*name, "new" | "builder" | "build"))
        .filter(|name| {
            !table.contains(&format!("`{name}")) && !table.contains(&format!(".{name}("))
        })
        .collect();
    assert!(
        missing.is_empty(),
        "README \"Configuration\" lacks: {missing:?}"
    );
}

#[test]
fn every_feature_has_a_row() {
    let manifest = include_str!("../Cargo.toml");
    let features = &manifest[manifest.find("[features]").expect("features")..];
    let features = &features[..features[1..].find("\n[").map_or(features.len(), |i| i + 1)];
    let table = section("Feature flags");
    let missing: Vec<&str> = features
        .lines()
        .filter_map(|l| l.split_once(" = ").map(|(name, _)| name.trim()))
        .filter(|name| *name != "default" && !name.starts_with('#'))
        .filter(|name| !table.contains(&format!("| `{name}` |")))
        .collect();
    assert!(
        missing.is_empty(),
        "README \"Feature flags\" lacks: {missing:?}"
    );
}

#[test]
fn every_public_module_and_root_item_is_named() {
    let lib = include_str!("../src/lib.rs");
    let layout = section("Crate layout");
    let mut names = names_after(lib, "pub mod ");
    for line in lib.lines().filter(|l| l.starts_with("pub use ")) {
        let items = line.trim_start_matches("pub use ").trim_end_matches(';');
        let items = items
            .split_once('{')
            .map_or(items, |(_, rest)| rest.trim_end_matches('}'));
        for item in items.split(',') {
            let item = item.trim().rsplit("::").next().unwrap_or("").trim();
            let item = item.rsplit(" as ").next().unwrap_or(item);
            if !item.is_empty() && item != "self" {
                names.push(item);
            }
        }
    }
    names.retain(|name| *name != "__fuzz");
    let missing: Vec<&&str> = names
        .iter()
        .filter(|name| !layout.contains(&format!("`{name}`")))
        .collect();
    assert!(
        missing.is_empty(),
        "README \"Crate layout\" lacks: {missing:?}"
    );
    // The root stays small: what a quick start names, each once.
    let root_items = names.len() - names_after(lib, "pub mod ").len();
    assert!(root_items <= 20, "{root_items} names at the crate root");
}
