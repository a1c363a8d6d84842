//! The dependency arrows between the crate's top-level modules run one way. Read from the
//! source: a module depends on another when its non-test code names `crate::<other>`. No
//! cycle anywhere, and the arrows the design forbids are absent.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Top-level module -> the modules it names.
fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut sources = BTreeMap::new();
    for entry in std::fs::read_dir(&src).expect("src/") {
        let path = entry.expect("an entry").path();
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        if matches!(name.as_str(), "lib" | "main") || path.extension().is_some_and(|e| e != "rs") {
            continue;
        }
        let mut files = Vec::new();
        collect(&path, &mut files);
        let code: Vec<String> = files
            .iter()
            .map(|f| {
                let text = std::fs::read_to_string(f).expect("a source file");
                // Inline test modules come last in a file; their imports are not the module's.
                text.split("#[cfg(test)]")
                    .next()
                    .unwrap_or_default()
                    .to_owned()
            })
            .collect();
        sources.insert(name, code);
    }
    let modules: BTreeSet<String> = sources.keys().cloned().collect();
    sources
        .into_iter()
        .map(|(name, code)| {
            let deps = code
                .iter()
                .flat_map(|text| named(text))
                .filter(|dep| *dep != name && modules.contains(dep))
                .collect();
            (name, deps)
        })
        .collect()
}

/// The top-level modules a text names: `crate::x`, and each `x` of `crate::{x, y::z}`.
fn named(text: &str) -> Vec<String> {
    let ident = |s: &str| -> String {
        s.trim_start()
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect()
    };
    let mut out = Vec::new();
    for (i, _) in text.match_indices("crate::") {
        let rest = &text[i + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            // Top-level items of the group: split at commas outside nested braces.
            let mut depth = 0;
            let mut item_start = true;
            for (j, c) in group.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => item_start = true,
                    c if item_start && !c.is_whitespace() => {
                        out.push(ident(&group[j..]));
                        item_start = false;
                    }
                    _ => {}
                }
            }
        } else {
            out.push(ident(rest));
        }
    }
    out
}

/// Every `.rs` file of a module, but test files (`tests.rs`, `*/tests/*`).
fn collect(path: &Path, out: &mut Vec<PathBuf>) {
    if path.is_dir() {
        if path.file_name().is_some_and(|n| n == "tests") {
            return;
        }
        for entry in std::fs::read_dir(path).expect("a module folder") {
            collect(&entry.expect("an entry").path(), out);
        }
    } else if path.extension().is_some_and(|e| e == "rs")
        && path.file_name().is_some_and(|n| n != "tests.rs")
    {
        out.push(path.to_owned());
    }
}

/// A cycle through `start`, if there is one: the path back to it.
fn cycle_from(
    graph: &BTreeMap<String, BTreeSet<String>>,
    start: &str,
    at: &str,
    path: &mut Vec<String>,
) -> Option<Vec<String>> {
    for next in graph.get(at).into_iter().flatten() {
        if next == start {
            let mut found = path.clone();
            found.push(next.clone());
            return Some(found);
        }
        if !path.contains(next) {
            path.push(next.clone());
            if let Some(c) = cycle_from(graph, start, next, path) {
                return Some(c);
            }
            path.pop();
        }
    }
    None
}

#[test]
fn no_module_depends_on_itself_through_others() {
    let graph = graph();
    assert!(graph.contains_key("audit") && graph.contains_key("bindings"));
    for module in graph.keys() {
        let mut path = vec![module.clone()];
        if let Some(cycle) = cycle_from(&graph, module, module, &mut path) {
            panic!("module cycle: {}", cycle.join(" -> "));
        }
    }
}

#[test]
fn the_leaves_and_the_forbidden_arrows() {
    let graph = graph();
    let deps = |m: &str| graph.get(m).cloned().unwrap_or_default();
    assert!(
        deps("keyspace").is_empty(),
        "keyspace is a leaf: {:?}",
        deps("keyspace")
    );
    let config: Vec<String> = deps("config")
        .into_iter()
        .filter(|d| d != "secret" && d != "keyspace")
        .collect();
    assert!(
        config.is_empty(),
        "config is a leaf but for secret and keyspace: {config:?}"
    );
    for owner in ["elevation", "incidents", "bindings", "revocation", "review"] {
        assert!(!deps("audit").contains(owner), "audit depends on {owner}");
    }
    assert!(
        !deps("revocation").contains("elevation"),
        "revocation reaches into elevation"
    );
    assert!(
        !deps("bindings").contains("elevation"),
        "bindings reaches into elevation"
    );
    assert!(
        !deps("bindings").contains("revocation"),
        "bindings reaches into revocation"
    );
    for part in [
        "audit",
        "incidents",
        "elevation",
        "bindings",
        "revocation",
        "store",
    ] {
        assert!(!deps(part).contains("http"), "{part} depends on http");
    }
}

#[test]
fn grouped_imports_count() {
    let found = named(
        "use crate::{audit::Event, store::{Store, StoreError}, keyspace};\nx(crate::grants::y)",
    );
    assert_eq!(found, ["audit", "store", "keyspace", "grants"]);
}

#[test]
fn the_reader_of_the_source_sees_a_real_graph() {
    // The check above cannot pass by reading nothing: known arrows are found.
    let graph = graph();
    assert!(graph["elevation"].contains("bindings"));
    assert!(graph["incidents"].contains("audit"));
    assert!(graph["revocation"].contains("grants"));
}
