//! The workspace's shape, checked: no module cycle inside any crate, and the peer's top-level
//! modules only depend downwards in the layer order docs/architecture.md writes down.
//!
//! Dependencies are read from the source: every `crate::…`, `super::…` and `self::…` path,
//! `use` trees included, outside `#[cfg(test)]` code. A path names the deepest module it
//! reaches. A dependency between a module and one of its own ancestors is how Rust nests
//! modules and is allowed; any other is lifted to the two sibling modules that contain its
//! ends, and the siblings of each parent must form no cycle.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

type Module = Vec<String>;

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The workspace's library crates, by directory.
fn crates() -> Vec<PathBuf> {
    let root = workspace();
    let mut found: Vec<PathBuf> = std::fs::read_dir(&root)
        .expect("the workspace root lists")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.join("Cargo.toml").is_file() && p.join("src/lib.rs").is_file())
        .collect();
    found.sort();
    assert!(found.len() >= 3, "found crates {found:?}");
    found
}

/// Every non-test source file of a crate, by module path.
fn modules(src: &Path) -> BTreeMap<Module, String> {
    let mut found = BTreeMap::new();
    collect(src, &src.join("lib.rs"), Vec::new(), &mut found);
    found
}

fn collect(src: &Path, file: &Path, module: Module, found: &mut BTreeMap<Module, String>) {
    let text = std::fs::read_to_string(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    let code = without_tests(&text);
    let dir = match file.file_name().and_then(|n| n.to_str()) {
        Some("lib.rs" | "mod.rs") => file.parent().map(Path::to_path_buf),
        _ => Some(file.with_extension("")),
    }
    .unwrap_or_else(|| src.to_path_buf());
    for child in declared_modules(&code) {
        let as_file = dir.join(format!("{child}.rs"));
        let as_dir = dir.join(&child).join("mod.rs");
        let mut path = module.clone();
        path.push(child);
        if as_file.is_file() {
            collect(src, &as_file, path, found);
        } else if as_dir.is_file() {
            collect(src, &as_dir, path, found);
        }
    }
    found.insert(module, code);
}

/// `mod name;` declarations (test modules are gone already).
fn declared_modules(code: &str) -> Vec<String> {
    code.lines()
        .map(str::trim)
        .filter_map(|line| {
            let line = line.strip_prefix("pub ").unwrap_or(line);
            let line = line.strip_prefix("pub(crate) ").unwrap_or(line);
            line.strip_prefix("mod ")?.strip_suffix(';').map(str::to_owned)
        })
        .collect()
}

/// The source without `#[cfg(test)]` items (a test module declared by file, or inline).
fn without_tests(text: &str) -> String {
    let mut out = String::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        if line.trim() != "#[cfg(test)]" {
            out.push_str(line);
            out.push('\n');
            continue;
        }
        let Some(item) = lines.next() else { break };
        let mut depth = braces(item);
        while depth > 0 {
            let Some(inner) = lines.next() else { break };
            depth += braces(inner);
        }
    }
    out
}

fn braces(line: &str) -> i64 {
    let code = line.split("//").next().unwrap_or_default();
    code.matches('{').count() as i64 - code.matches('}').count() as i64
}

/// The module paths `code` (the file of `module`) refers to, absolute from the crate root.
fn references(module: &Module, code: &str) -> BTreeSet<Module> {
    let mut found = BTreeSet::new();
    let tokens = tokenize(code);
    let mut i = 0;
    while i < tokens.len() {
        let start = tokens[i].as_str();
        let follows = tokens.get(i + 1).is_some_and(|t| t == "::");
        let preceded = i > 0 && tokens[i - 1] == "::";
        if follows && !preceded && matches!(start, "crate" | "super" | "self") {
            let base = base_of(module, start);
            let (paths, next) = use_tree(&tokens, i + 2, base);
            found.extend(paths);
            i = next;
        } else {
            i += 1;
        }
    }
    found
}

/// Where a path starting with `crate`, `super` or `self` starts, in the file of `module`.
fn base_of(module: &Module, start: &str) -> Module {
    match start {
        "crate" => Vec::new(),
        "super" => module[..module.len().saturating_sub(1)].to_vec(),
        _ => module.clone(),
    }
}

/// Reads a path or use tree from `at`; every full path it names, and where it ends.
fn use_tree(tokens: &[String], mut at: usize, mut prefix: Module) -> (Vec<Module>, usize) {
    let mut paths = Vec::new();
    loop {
        match tokens.get(at).map(String::as_str) {
            Some("super") => {
                prefix.pop();
                at += 1;
            }
            Some("{") => {
                at += 1;
                loop {
                    let (inner, next) = use_tree(tokens, at, prefix.clone());
                    paths.extend(inner);
                    at = next;
                    match tokens.get(at).map(String::as_str) {
                        Some(",") => at += 1,
                        Some("}") => return (paths, at + 1),
                        _ => return (paths, at),
                    }
                    if tokens.get(at).is_some_and(|t| t == "}") {
                        return (paths, at + 1);
                    }
                }
            }
            Some(word) if is_ident(word) && word != "self" => {
                prefix.push(word.to_owned());
                at += 1;
            }
            Some("self") | Some("*") => at += 1,
            _ => break,
        }
        if tokens.get(at).is_some_and(|t| t == "::") {
            at += 1;
        } else {
            break;
        }
    }
    paths.push(prefix);
    (paths, at)
}

fn is_ident(word: &str) -> bool {
    word.chars().next().is_some_and(|c| c.is_alphabetic() || c == '_')
}

/// Identifiers, `::` and single punctuation; comments and string literals dropped.
fn tokenize(code: &str) -> Vec<String> {
    let mut tokens = Vec::new();
    for line in code.lines() {
        let line = line.split("//").next().unwrap_or_default();
        let mut chars = line.chars().peekable();
        let mut in_string = false;
        while let Some(c) = chars.next() {
            if in_string {
                match c {
                    '\\' => {
                        chars.next();
                    }
                    '"' => in_string = false,
                    _ => {}
                }
            } else if c == '"' {
                in_string = true;
            } else if c.is_alphanumeric() || c == '_' {
                let mut word = c.to_string();
                while let Some(&n) = chars.peek().filter(|n| n.is_alphanumeric() || **n == '_') {
                    word.push(n);
                    chars.next();
                }
                tokens.push(word);
            } else if c == ':' && chars.peek() == Some(&':') {
                chars.next();
                tokens.push("::".into());
            } else if !c.is_whitespace() {
                tokens.push(c.to_string());
            }
        }
    }
    tokens
}

/// The deepest known module `path` reaches.
fn resolve(path: &Module, known: &BTreeMap<Module, String>) -> Module {
    (0..=path.len())
        .rev()
        .map(|n| path[..n].to_vec())
        .find(|m| known.contains_key(m))
        .unwrap_or_default()
}

/// The crate's dependencies between sibling modules: parent → (from child → to children).
fn sibling_edges(known: &BTreeMap<Module, String>) -> BTreeMap<Module, BTreeMap<String, BTreeSet<String>>> {
    let mut edges: BTreeMap<Module, BTreeMap<String, BTreeSet<String>>> = BTreeMap::new();
    for (module, code) in known {
        for path in references(module, code) {
            let target = resolve(&path, known);
            let common = module.iter().zip(&target).take_while(|(a, b)| a == b).count();
            if common == module.len() || common == target.len() {
                continue; // to an ancestor or a descendant
            }
            let parent = module[..common].to_vec();
            edges
                .entry(parent)
                .or_default()
                .entry(module[common].clone())
                .or_default()
                .insert(target[common].clone());
        }
    }
    edges
}

/// A cycle in `graph`, if any, as the modules along it.
fn cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        done: &mut BTreeSet<String>,
        stack: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = stack.iter().position(|n| n == node) {
            let mut found = stack[at..].to_vec();
            found.push(node.to_owned());
            return Some(found);
        }
        if !done.insert(node.to_owned()) {
            return None;
        }
        stack.push(node.to_owned());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(found) = visit(next, graph, done, stack) {
                return Some(found);
            }
        }
        stack.pop();
        None
    }
    let mut done = BTreeSet::new();
    graph
        .keys()
        .find_map(|node| visit(node, graph, &mut done, &mut Vec::new()))
}

fn name(dir: &Path) -> String {
    dir.file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default()
        .to_owned()
}

#[test]
fn no_crate_has_a_module_cycle() {
    let mut cycles = Vec::new();
    for dir in crates() {
        let known = modules(&dir.join("src"));
        for (parent, graph) in sibling_edges(&known) {
            if let Some(found) = cycle(&graph) {
                cycles.push(format!(
                    "{}: in crate::{}: {}",
                    name(&dir),
                    parent.join("::"),
                    found.join(" → ")
                ));
            }
        }
    }
    assert!(cycles.is_empty(), "module cycles:\n{}", cycles.join("\n"));
}

/// The peer's layers from docs/architecture.md's `layers` block, top first.
fn layers() -> Vec<Vec<String>> {
    let doc =
        std::fs::read_to_string(workspace().join("docs/architecture.md")).expect("docs/architecture.md");
    let block = doc
        .split("```layers\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("docs/architecture.md has a ```layers block");
    block
        .lines()
        .map(|line| line.split('#').next().unwrap_or_default())
        .map(|line| line.split_whitespace().map(str::to_owned).collect::<Vec<_>>())
        .filter(|layer| !layer.is_empty())
        .collect()
}

#[test]
fn the_peers_modules_depend_only_on_lower_layers() {
    let layers = layers();
    let rank: BTreeMap<&str, usize> = layers
        .iter()
        .enumerate()
        .flat_map(|(i, layer)| layer.iter().map(move |m| (m.as_str(), i)))
        .collect();
    let known = modules(&workspace().join("peer/src"));
    let edges = sibling_edges(&known);
    let top: BTreeSet<&String> = known.keys().filter_map(|m| m.first()).collect();
    let unplaced: Vec<&&String> = top.iter().filter(|m| !rank.contains_key(m.as_str())).collect();
    assert!(
        unplaced.is_empty(),
        "modules missing from the layers of docs/architecture.md: {unplaced:?}"
    );
    let mut upward = Vec::new();
    for (from, to) in edges.get(&Vec::new()).into_iter().flatten() {
        for to in to {
            if rank[to.as_str()] <= rank[from.as_str()] {
                upward.push(format!("{from} → {to}"));
            }
        }
    }
    if std::env::var_os("CAIRN_SHOW_LAYERS").is_some() {
        for (from, to) in edges.get(&Vec::new()).into_iter().flatten() {
            eprintln!("{from} -> {}", to.iter().cloned().collect::<Vec<_>>().join(" "));
        }
    }
    assert!(
        upward.is_empty(),
        "dependencies against the layer order:\n{}",
        upward.join("\n")
    );
}

#[test]
fn the_checker_sees_a_cycle_and_a_nested_use_tree() {
    let graph = BTreeMap::from([
        ("a".to_owned(), BTreeSet::from(["b".to_owned()])),
        ("b".to_owned(), BTreeSet::from(["a".to_owned()])),
    ]);
    assert!(cycle(&graph).is_some());
    let module = vec!["cluster".to_owned(), "ops".to_owned()];
    let found = references(
        &module,
        "use super::{batcher::Outcome, Cluster};\nuse crate::rpc::{self, AtLeader};",
    );
    assert!(found.contains(&vec![
        "cluster".to_owned(),
        "batcher".to_owned(),
        "Outcome".to_owned()
    ]));
    assert!(found.contains(&vec!["rpc".to_owned(), "AtLeader".to_owned()]));
    let code = without_tests("fn a() {}\n#[cfg(test)]\nmod tests {\n    use crate::x;\n}\nfn b() {}\n");
    assert!(code.contains("fn b()") && !code.contains("crate::x"));
}
