//! The codebase's shape, checked like its behaviour: no import circle inside a crate and no
//! hand-written source file over 800 lines. A failure names what to fix.
//!
//! The module graph of a crate: A -> B when code of A (a `use`, a path in code or in a macro's
//! tokens) names B through `crate::`, `super::`, `self::` or the name of a child module. B is the
//! deepest module the path reaches (a path to an item of B counts as B); when the item is one
//! that B imports (a re-export), the edge goes on to the module that defines it. Declaring
//! `mod b;` is no edge, and neither is a `pub use` that the module's own code does not name (a
//! facade re-exporting its children). `#[cfg(test)]` items are left out.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use proc_macro2::{Spacing, TokenStream, TokenTree};
use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::visit::{self, Visit};
use syn::{Item, UseTree};

/// Crates that must have no import circle; the others are reported but not failed. Add a crate
/// here once it is clean.
const CHECKED_CRATES: &[&str] = &[
    "store",
    "collector",
    "dashboard-api",
    "model",
    "service",
    "instrumentation",
    "bench",
    "cli",
];

const MAX_LINES: usize = 800;

/// Generated sources, exempt from the length rule.
const GENERATED: &[&str] = &["ui/src/api/schema.ts"];

/// Source files by path relative to the workspace root.
type Sources = BTreeMap<PathBuf, String>;

/// A module inside its crate: `[]` is the crate root, `["postgres", "bulk"]` is
/// `crate::postgres::bulk`.
type ModPath = Vec<String>;

fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The workspace members, from the root manifest's one-line `members = [...]`.
fn workspace_members(root: &Path) -> Vec<String> {
    let manifest = std::fs::read_to_string(root.join("Cargo.toml")).expect("root Cargo.toml");
    let list = manifest
        .lines()
        .find_map(|line| line.trim().strip_prefix("members"))
        .and_then(|rest| rest.split_once('[')?.1.split_once(']'))
        .map(|(list, _)| list)
        .expect("a one-line `members = [...]` in the root Cargo.toml");
    list.split(',')
        .map(|member| member.trim().trim_matches('"').to_owned())
        .filter(|member| !member.is_empty())
        .collect()
}

/// Reads every file under `dir` (relative to `root`) whose extension is one of `extensions`.
fn read_sources(root: &Path, dir: &Path, extensions: &[&str], sources: &mut Sources) {
    let Ok(entries) = std::fs::read_dir(root.join(dir)) else {
        return;
    };
    for entry in entries {
        let entry = entry.expect("a readable directory entry");
        let relative = dir.join(entry.file_name());
        let file_type = entry.file_type().expect("a file type");
        if file_type.is_dir() {
            if entry.file_name() != "node_modules" {
                read_sources(root, &relative, extensions, sources);
            }
        } else if relative
            .extension()
            .is_some_and(|ext| extensions.iter().any(|wanted| ext == *wanted))
        {
            let text = std::fs::read_to_string(root.join(&relative)).expect("a UTF-8 source file");
            sources.insert(relative, text);
        }
    }
}

/// The crate roots of a package: its library, its main binary and the binaries under `src/bin/`.
fn crate_roots(sources: &Sources, member: &str) -> Vec<(String, PathBuf)> {
    let src = Path::new(member).join("src");
    let mut roots = Vec::new();
    for (file, label) in [
        ("lib.rs", member.to_owned()),
        ("main.rs", format!("{member} (main.rs)")),
    ] {
        if sources.contains_key(&src.join(file)) {
            roots.push((label, src.join(file)));
        }
    }
    let bin = src.join("bin");
    for path in sources.keys() {
        let Ok(rest) = path.strip_prefix(&bin) else {
            continue;
        };
        let parts: Vec<_> = rest.iter().collect();
        let name = match parts.as_slice() {
            [file] => Path::new(file).file_stem(),
            [dir, main] if *main == "main.rs" => Some(*dir),
            _ => None,
        };
        if let Some(name) = name {
            roots.push((
                format!("{member} (bin {})", name.to_string_lossy()),
                path.clone(),
            ));
        }
    }
    roots
}

/// One binding a `use` brings into a module.
#[derive(Debug)]
struct Import {
    /// The name it binds; `None` for a glob.
    binding: Option<String>,
    /// The path it imports, as written.
    source: Vec<String>,
    public: bool,
    line: usize,
}

#[derive(Debug, Default)]
struct Module {
    /// The file holding it (for an inline module, the file around it).
    file: PathBuf,
    children: BTreeSet<String>,
    /// Names of the items it defines.
    items: BTreeSet<String>,
    imports: Vec<Import>,
    /// Paths of two segments or more in its code (not in its `use` items), with their lines.
    references: Vec<(Vec<String>, usize)>,
    /// First segments of every path in its code: which imported names the code itself uses.
    names_used: BTreeSet<String>,
}

/// A use of module `to` in module `from`, where the file says so.
#[derive(Debug, Clone)]
struct Edge {
    from: ModPath,
    to: ModPath,
    file: PathBuf,
    line: usize,
    path: String,
}

#[derive(Debug)]
struct Circle {
    modules: Vec<ModPath>,
    edges: Vec<Edge>,
}

#[derive(Debug)]
struct Analysis {
    modules: BTreeMap<ModPath, Module>,
    edges: Vec<Edge>,
    circles: Vec<Circle>,
    /// Files that are missing or do not parse.
    problems: Vec<String>,
}

fn analyze(sources: &Sources, root_file: &Path) -> Analysis {
    let mut loader = Loader {
        sources,
        modules: BTreeMap::new(),
        problems: Vec::new(),
    };
    let dir = root_file.parent().unwrap_or(Path::new("")).to_owned();
    loader.load_file(root_file, Vec::new(), dir);
    let graph = Graph {
        modules: &loader.modules,
    };
    let edges = graph.edges();
    let circles = circles(&loader.modules, &edges);
    Analysis {
        modules: loader.modules,
        edges,
        circles,
        problems: loader.problems,
    }
}

struct Loader<'a> {
    sources: &'a Sources,
    modules: BTreeMap<ModPath, Module>,
    problems: Vec<String>,
}

impl Loader<'_> {
    fn load_file(&mut self, file: &Path, path: ModPath, dir: PathBuf) {
        let Some(text) = self.sources.get(file) else {
            self.problems
                .push(format!("{}: no such file", file.display()));
            return;
        };
        match syn::parse_file(text) {
            Ok(parsed) => self.load_items(&parsed.items, file, path, dir),
            Err(error) => self.problems.push(format!(
                "{}:{}: does not parse: {error}",
                file.display(),
                error.span().start().line
            )),
        }
    }

    /// Loads the module `path` made of `items`; `dir` is where its `mod x;` files live.
    fn load_items(&mut self, items: &[Item], file: &Path, path: ModPath, dir: PathBuf) {
        let mut module = Module {
            file: file.to_owned(),
            ..Module::default()
        };
        let mut references = References::default();
        let mut submodules = Vec::new();
        for item in items {
            if test_only(item_attrs(item)) {
                continue;
            }
            match item {
                Item::Mod(submodule) => {
                    module.children.insert(submodule.ident.to_string());
                    submodules.push(submodule);
                }
                Item::Use(item_use) => {
                    let public = !matches!(item_use.vis, syn::Visibility::Inherited);
                    flatten_use(&item_use.tree, &mut Vec::new(), public, &mut module.imports);
                }
                // A `macro_rules!` body is a template, not code of this module.
                Item::Macro(mac) if mac.ident.is_some() => {
                    module
                        .items
                        .extend(mac.ident.as_ref().map(ToString::to_string));
                }
                other => {
                    module.items.extend(item_name(other));
                    references.visit_item(other);
                }
            }
        }
        module.references = references.paths;
        module.names_used = references.first_segments;
        self.modules.insert(path.clone(), module);
        for submodule in submodules {
            let name = submodule.ident.to_string();
            let mut child = path.clone();
            child.push(name.clone());
            let child_dir = dir.join(&name);
            match &submodule.content {
                Some((_, inner)) => self.load_items(inner, file, child, child_dir),
                None => {
                    let flat = dir.join(format!("{name}.rs"));
                    let nested = dir.join(&name).join("mod.rs");
                    let child_file = if self.sources.contains_key(&nested) {
                        nested
                    } else {
                        flat
                    };
                    self.load_file(&child_file, child, child_dir);
                }
            }
        }
    }
}

fn item_attrs(item: &Item) -> &[syn::Attribute] {
    match item {
        Item::Const(i) => &i.attrs,
        Item::Enum(i) => &i.attrs,
        Item::ExternCrate(i) => &i.attrs,
        Item::Fn(i) => &i.attrs,
        Item::ForeignMod(i) => &i.attrs,
        Item::Impl(i) => &i.attrs,
        Item::Macro(i) => &i.attrs,
        Item::Mod(i) => &i.attrs,
        Item::Static(i) => &i.attrs,
        Item::Struct(i) => &i.attrs,
        Item::Trait(i) => &i.attrs,
        Item::TraitAlias(i) => &i.attrs,
        Item::Type(i) => &i.attrs,
        Item::Union(i) => &i.attrs,
        Item::Use(i) => &i.attrs,
        _ => &[],
    }
}

fn item_name(item: &Item) -> Option<String> {
    let ident = match item {
        Item::Const(i) => &i.ident,
        Item::Enum(i) => &i.ident,
        Item::ExternCrate(i) => i.rename.as_ref().map_or(&i.ident, |(_, rename)| rename),
        Item::Fn(i) => &i.sig.ident,
        Item::Static(i) => &i.ident,
        Item::Struct(i) => &i.ident,
        Item::Trait(i) => &i.ident,
        Item::TraitAlias(i) => &i.ident,
        Item::Type(i) => &i.ident,
        Item::Union(i) => &i.ident,
        _ => return None,
    };
    Some(ident.to_string())
}

/// Whether the item is compiled only for tests: `#[cfg(test)]` or `#[cfg(all(test, ...))]`.
fn test_only(attrs: &[syn::Attribute]) -> bool {
    fn requires_test(meta: &syn::Meta) -> bool {
        match meta {
            syn::Meta::Path(path) => path.is_ident("test"),
            syn::Meta::List(list) if list.path.is_ident("all") => list
                .parse_args_with(Punctuated::<syn::Meta, syn::Token![,]>::parse_terminated)
                .is_ok_and(|metas| metas.iter().any(requires_test)),
            _ => false,
        }
    }
    attrs.iter().any(|attr| {
        attr.path().is_ident("cfg")
            && attr
                .parse_args::<syn::Meta>()
                .is_ok_and(|meta| requires_test(&meta))
    })
}

/// One `Import` per name a `use` tree binds.
fn flatten_use(tree: &UseTree, prefix: &mut Vec<String>, public: bool, out: &mut Vec<Import>) {
    let line = tree.span().start().line;
    let mut import = |binding: Option<String>, source: Vec<String>| {
        out.push(Import {
            binding,
            source,
            public,
            line,
        });
    };
    let with = |prefix: &[String], name: String| -> Vec<String> {
        let mut source = prefix.to_vec();
        if name != "self" {
            source.push(name);
        }
        source
    };
    match tree {
        UseTree::Path(use_path) => {
            prefix.push(use_path.ident.to_string());
            flatten_use(&use_path.tree, prefix, public, out);
            prefix.pop();
        }
        UseTree::Name(name) => {
            let source = with(prefix, name.ident.to_string());
            import(source.last().cloned(), source);
        }
        UseTree::Rename(rename) => {
            import(
                Some(rename.rename.to_string()),
                with(prefix, rename.ident.to_string()),
            );
        }
        UseTree::Glob(_) => import(None, prefix.clone()),
        UseTree::Group(group) => {
            for tree in &group.items {
                flatten_use(tree, prefix, public, out);
            }
        }
    }
}

/// Collects the paths in a module's code.
#[derive(Default)]
struct References {
    paths: Vec<(Vec<String>, usize)>,
    first_segments: BTreeSet<String>,
}

impl References {
    fn record(&mut self, segments: Vec<String>, line: usize) {
        if let Some(first) = segments.first() {
            self.first_segments.insert(first.clone());
        }
        if segments.len() >= 2 {
            self.paths.push((segments, line));
        }
    }

    /// Paths inside a macro's tokens, which syn leaves unparsed: runs of `ident :: ident ...`.
    fn scan_tokens(&mut self, tokens: TokenStream) {
        let tokens: Vec<TokenTree> = tokens.into_iter().collect();
        let separator = |at: usize| match (tokens.get(at), tokens.get(at + 1)) {
            (Some(TokenTree::Punct(a)), Some(TokenTree::Punct(b))) => {
                a.as_char() == ':' && a.spacing() == Spacing::Joint && b.as_char() == ':'
            }
            _ => false,
        };
        let mut at = 0;
        while at < tokens.len() {
            match &tokens[at] {
                TokenTree::Group(group) => {
                    self.scan_tokens(group.stream());
                    at += 1;
                }
                TokenTree::Ident(first) => {
                    let mut segments = vec![first.to_string()];
                    at += 1;
                    while separator(at) {
                        let Some(TokenTree::Ident(next)) = tokens.get(at + 2) else {
                            break;
                        };
                        segments.push(next.to_string());
                        at += 3;
                    }
                    self.record(segments, first.span().start().line);
                }
                _ => at += 1,
            }
        }
    }
}

impl<'ast> Visit<'ast> for References {
    fn visit_path(&mut self, path: &'ast syn::Path) {
        let segments = path.segments.iter().map(|s| s.ident.to_string()).collect();
        self.record(segments, path.span().start().line);
        visit::visit_path(self, path);
    }

    /// A `use` inside a function body.
    fn visit_item_use(&mut self, item: &'ast syn::ItemUse) {
        let mut imports = Vec::new();
        flatten_use(&item.tree, &mut Vec::new(), false, &mut imports);
        for import in imports {
            self.record(import.source, import.line);
        }
    }

    fn visit_item_mod(&mut self, _: &'ast syn::ItemMod) {}

    fn visit_item_macro(&mut self, item: &'ast syn::ItemMacro) {
        if item.ident.is_none() {
            visit::visit_item_macro(self, item);
        }
    }

    fn visit_macro(&mut self, mac: &'ast syn::Macro) {
        self.visit_path(&mac.path);
        self.scan_tokens(mac.tokens.clone());
    }

    /// `pub(in crate::x)` says who may see an item, not what it uses.
    fn visit_visibility(&mut self, _: &'ast syn::Visibility) {}

    fn visit_attribute(&mut self, _: &'ast syn::Attribute) {}
}

struct Graph<'a> {
    modules: &'a BTreeMap<ModPath, Module>,
}

/// Bounds the following of re-exports, which may (wrongly) name each other.
const MAX_DEPTH: usize = 16;

impl Graph<'_> {
    /// The module that `segments`, written in `context`, names; the context itself when the
    /// path leads out of the crate.
    fn resolve(&self, context: &[String], segments: &[String], depth: usize) -> Option<ModPath> {
        let (first, rest) = segments.split_first()?;
        let base = match first.as_str() {
            "crate" => Vec::new(),
            "self" => context.to_vec(),
            "super" => context.split_last()?.1.to_vec(),
            // A child module, a name the module imports, or (as the context itself, which makes
            // no edge) anything else: an item of its own, an outside crate.
            _ => return self.walk(context.to_vec(), segments, depth),
        };
        self.walk(base, rest, depth)
    }

    fn walk(&self, mut current: ModPath, rest: &[String], depth: usize) -> Option<ModPath> {
        if depth > MAX_DEPTH {
            return None;
        }
        for (index, segment) in rest.iter().enumerate() {
            if segment == "super" {
                current.pop()?;
                continue;
            }
            let module = self.modules.get(&current)?;
            if module.children.contains(segment) {
                current.push(segment.clone());
                continue;
            }
            if module.items.contains(segment) {
                return Some(current);
            }
            let onward = &rest[index..];
            let named = module
                .imports
                .iter()
                .find(|import| import.binding.as_ref() == Some(segment));
            if let Some(import) = named {
                let mut path = import.source.clone();
                path.extend_from_slice(&onward[1..]);
                return Some(self.resolve(&current, &path, depth + 1).unwrap_or(current));
            }
            for glob in module
                .imports
                .iter()
                .filter(|import| import.binding.is_none())
            {
                if let Some(source) = self.resolve(&current, &glob.source, depth + 1)
                    && self.binds(&source, segment)
                {
                    return self.walk(source, onward, depth + 1).or(Some(current));
                }
            }
            return Some(current);
        }
        Some(current)
    }

    fn binds(&self, module: &ModPath, name: &str) -> bool {
        self.modules.get(module).is_some_and(|module| {
            module.children.contains(name)
                || module.items.contains(name)
                || module
                    .imports
                    .iter()
                    .any(|import| import.binding.as_deref() == Some(name))
        })
    }

    /// Whether the module's own code uses what `import` brings in.
    fn used(&self, path: &ModPath, module: &Module, import: &Import) -> bool {
        match &import.binding {
            _ if !import.public => true,
            Some(name) => module.names_used.contains(name),
            None => self.resolve(path, &import.source, 0).is_some_and(|source| {
                module
                    .names_used
                    .iter()
                    .any(|name| self.binds(&source, name))
            }),
        }
    }

    fn edges(&self) -> Vec<Edge> {
        let mut edges = Vec::new();
        for (path, module) in self.modules {
            let imports = module
                .imports
                .iter()
                .filter(|import| self.used(path, module, import))
                .map(|import| (&import.source, import.line));
            let references = module
                .references
                .iter()
                .map(|(segments, line)| (segments, *line));
            for (segments, line) in imports.chain(references) {
                if let Some(to) = self.resolve(path, segments, 0)
                    && to != *path
                {
                    edges.push(Edge {
                        from: path.clone(),
                        to,
                        file: module.file.clone(),
                        line,
                        path: segments.join("::"),
                    });
                }
            }
        }
        edges
    }
}

/// The strongly connected components of more than one module, with the edges inside each.
fn circles(modules: &BTreeMap<ModPath, Module>, edges: &[Edge]) -> Vec<Circle> {
    let mut successors: BTreeMap<&ModPath, BTreeSet<&ModPath>> = BTreeMap::new();
    for edge in edges {
        successors.entry(&edge.from).or_default().insert(&edge.to);
    }
    let reachable = |start: &ModPath| -> BTreeSet<ModPath> {
        let mut seen = BTreeSet::new();
        let mut stack = vec![start.clone()];
        while let Some(node) = stack.pop() {
            for next in successors.get(&node).into_iter().flatten() {
                if seen.insert((*next).clone()) {
                    stack.push((*next).clone());
                }
            }
        }
        seen
    };
    let reach: BTreeMap<&ModPath, BTreeSet<ModPath>> = modules
        .keys()
        .map(|module| (module, reachable(module)))
        .collect();
    let mut assigned = BTreeSet::new();
    let mut found = Vec::new();
    for (module, from_here) in &reach {
        if assigned.contains(*module) || !from_here.contains(*module) {
            continue;
        }
        let members: Vec<ModPath> = from_here
            .iter()
            .filter(|other| reach.get(other).is_some_and(|back| back.contains(*module)))
            .cloned()
            .collect();
        assigned.extend(members.iter().cloned());
        let inside: BTreeSet<&ModPath> = members.iter().collect();
        let edges = edges
            .iter()
            .filter(|edge| inside.contains(&edge.from) && inside.contains(&edge.to))
            .cloned()
            .collect();
        found.push(Circle {
            modules: members,
            edges,
        });
    }
    found
}

fn module_name(path: &[String]) -> String {
    std::iter::once("crate")
        .chain(path.iter().map(String::as_str))
        .collect::<Vec<_>>()
        .join("::")
}

/// A circle as a list of what to fix: each edge between its modules and where it is written.
fn describe(label: &str, circle: &Circle) -> String {
    let names: Vec<String> = circle.modules.iter().map(|m| module_name(m)).collect();
    let mut text = format!("{label}: circle through {}\n", names.join(", "));
    let mut by_pair: BTreeMap<(&ModPath, &ModPath), Vec<&Edge>> = BTreeMap::new();
    for edge in &circle.edges {
        by_pair
            .entry((&edge.from, &edge.to))
            .or_default()
            .push(edge);
    }
    for ((from, to), uses) in by_pair {
        let _ = writeln!(text, "  {} -> {}", module_name(from), module_name(to));
        for edge in uses {
            let _ = writeln!(
                text,
                "    {}:{}  {}",
                edge.file.display(),
                edge.line,
                edge.path
            );
        }
    }
    text
}

#[test]
fn no_checked_crate_has_an_import_circle() {
    let root = workspace_root();
    let members = workspace_members(&root);
    for checked in CHECKED_CRATES {
        assert!(
            members.iter().any(|m| m == checked),
            "{checked} is not a workspace member"
        );
    }
    let mut failures = String::new();
    let mut notes = String::new();
    for member in &members {
        let mut sources = Sources::new();
        read_sources(&root, &Path::new(member).join("src"), &["rs"], &mut sources);
        let roots = crate_roots(&sources, member);
        assert!(
            !roots.is_empty() || !CHECKED_CRATES.contains(&member.as_str()),
            "{member} has no crate root under src/"
        );
        for (label, root_file) in roots {
            let analysis = analyze(&sources, &root_file);
            for problem in &analysis.problems {
                let _ = writeln!(failures, "{label}: {problem}");
            }
            let report = if CHECKED_CRATES.contains(&member.as_str()) {
                &mut failures
            } else {
                &mut notes
            };
            for circle in &analysis.circles {
                report.push_str(&describe(&label, circle));
            }
        }
    }
    if !notes.is_empty() {
        eprintln!("import circles in crates not checked yet:\n{notes}");
    }
    assert!(
        failures.is_empty(),
        "import circles (module A -> module B: where A names B; break one edge of each):\n{failures}"
    );
}

#[test]
fn no_hand_written_source_file_is_over_800_lines() {
    let root = workspace_root();
    let mut sources = Sources::new();
    for member in workspace_members(&root) {
        read_sources(
            &root,
            &Path::new(&member).join("src"),
            &["rs"],
            &mut sources,
        );
    }
    read_sources(&root, Path::new("ui/src"), &["ts", "tsx"], &mut sources);
    assert!(
        sources.contains_key(Path::new("store/src/lib.rs")),
        "the walk found the Rust sources"
    );
    assert!(
        sources.contains_key(Path::new("ui/src/api/schema.ts")),
        "the walk found the UI sources"
    );
    let long: Vec<String> = sources
        .iter()
        .filter(|(path, _)| {
            !GENERATED
                .iter()
                .any(|generated| *path == Path::new(generated))
        })
        .filter_map(|(path, text)| {
            let lines = text.lines().count();
            (lines > MAX_LINES).then(|| format!("  {}: {lines} lines", path.display()))
        })
        .collect();
    assert!(
        long.is_empty(),
        "source files over {MAX_LINES} lines (split them by concern):\n{}",
        long.join("\n")
    );
}

// The detector on small trees, so that a clean run above means something.

fn tree(files: &[(&str, &str)]) -> Sources {
    files
        .iter()
        .map(|(path, text)| (Path::new("src").join(path), (*text).to_owned()))
        .collect()
}

fn analyze_tree(files: &[(&str, &str)]) -> Analysis {
    let analysis = analyze(&tree(files), Path::new("src/lib.rs"));
    assert!(analysis.problems.is_empty(), "{:?}", analysis.problems);
    analysis
}

fn circles_in(files: &[(&str, &str)]) -> Vec<Vec<String>> {
    analyze_tree(files)
        .circles
        .iter()
        .map(|circle| circle.modules.iter().map(|m| module_name(m)).collect())
        .collect()
}

#[test]
fn the_detector_finds_two_modules_naming_each_other_through_crate_and_super() {
    let found = circles_in(&[
        ("lib.rs", "mod a; mod b;"),
        ("a.rs", "use crate::b::B; pub struct A(B);"),
        (
            "b.rs",
            "pub struct B; impl B { pub fn a(&self) -> super::a::A { unreachable!() } }",
        ),
    ]);
    assert_eq!(found, vec![vec!["crate::a", "crate::b"]]);
}

#[test]
fn the_detector_finds_a_circle_of_three_through_code_paths_uses_and_macros() {
    let analysis = analyze_tree(&[
        ("lib.rs", "mod a; mod b; mod c;"),
        ("a.rs", "pub fn a() { crate::b::b() }"),
        ("b/mod.rs", "use super::c::C; pub fn b() {}"),
        (
            "c.rs",
            "pub struct C; fn log() { tracing::info!(\"{:?}\", crate::a::a()) }",
        ),
    ]);
    let circle = analysis.circles.first().expect("a circle");
    let names: Vec<String> = circle.modules.iter().map(|m| module_name(m)).collect();
    assert_eq!(names, ["crate::a", "crate::b", "crate::c"]);
    let report = describe("demo", circle);
    assert!(report.contains("src/a.rs:1  crate::b::b"), "{report}");
    assert!(report.contains("src/b/mod.rs:1  super::c::C"), "{report}");
    assert!(report.contains("src/c.rs:1  crate::a::a"), "{report}");
}

#[test]
fn a_parent_and_a_child_that_use_each_other_are_a_circle() {
    let found = circles_in(&[
        ("lib.rs", "mod outer;"),
        (
            "outer/mod.rs",
            "mod inner;\nuse inner::Inner;\npub struct Outer;",
        ),
        ("outer/inner.rs", "pub struct Inner(super::Outer);"),
    ]);
    assert_eq!(found, vec![vec!["crate::outer", "crate::outer::inner"]]);
}

#[test]
fn a_path_through_a_re_export_depends_on_the_defining_module() {
    let found = circles_in(&[
        ("lib.rs", "mod a; mod b; pub use b::B;"),
        ("a.rs", "use crate::B; pub struct A;"),
        ("b.rs", "pub struct B(crate::a::A);"),
    ]);
    assert_eq!(found, vec![vec!["crate::a", "crate::b"]]);
}

#[test]
fn a_re_export_the_module_itself_uses_is_an_edge() {
    let found = circles_in(&[
        ("lib.rs", "mod a; pub use a::A; pub struct Root(A);"),
        ("a.rs", "pub struct A(crate::Root);"),
    ]);
    assert_eq!(found, vec![vec!["crate", "crate::a"]]);
}

#[test]
fn the_detector_finds_no_circle_in_an_acyclic_tree() {
    let analysis = analyze_tree(&[
        (
            "lib.rs",
            "mod a; mod b; mod c; pub use a::A; pub use c::*; pub struct Root;",
        ),
        (
            "a.rs",
            "use crate::b::B;\nuse crate::C;\npub struct A(B, C);",
        ),
        (
            "b.rs",
            "pub struct B(crate::Root);\n#[cfg(test)]\nmod tests { use super::*; use crate::a::A; }",
        ),
        (
            "c.rs",
            "pub struct C; mod inner { pub struct D(super::C); }",
        ),
    ]);
    let edges: BTreeSet<(String, String)> = analysis
        .edges
        .iter()
        .map(|edge| (module_name(&edge.from), module_name(&edge.to)))
        .collect();
    let expected = [
        ("crate::a", "crate::b"),
        ("crate::a", "crate::c"),
        ("crate::b", "crate"),
        ("crate::c::inner", "crate::c"),
    ];
    let expected: BTreeSet<(String, String)> = expected
        .iter()
        .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
        .collect();
    assert_eq!(edges, expected);
    assert!(analysis.circles.is_empty(), "{:?}", analysis.circles);
    assert_eq!(analysis.modules.len(), 5, "the tests module is left out");
}

#[test]
fn a_path_through_an_imported_module_name_reaches_the_module_it_names() {
    let found = circles_in(&[
        ("lib.rs", "mod routes; mod server;"),
        ("routes/mod.rs", "pub mod metrics;"),
        (
            "routes/metrics.rs",
            "use crate::server::State; pub fn metrics(_: State) {}",
        ),
        (
            "server.rs",
            "use crate::routes;\npub struct State;\nfn router() { routes::metrics::metrics(State) }",
        ),
    ]);
    assert_eq!(found, vec![vec!["crate::routes::metrics", "crate::server"]]);
}
