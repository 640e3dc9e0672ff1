//! README.md documents every subcommand and every flag with its environment variable: the table
//! is the one place a user looks, so it must not fall behind the binary.
//!
//! docs/conventions.md shows the Python start signals in full: the code shown must be the code
//! of their files, which tests/tests/python_start_signal.rs runs.

use std::path::PathBuf;

use clap::CommandFactory;

fn readme() -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../README.md");
    std::fs::read_to_string(&path).expect("README.md")
}

/// The table row documenting `--flag`, if any.
fn row<'a>(readme: &'a str, long: &str) -> Option<&'a str> {
    let cell = format!("| `--{long}` (");
    readme.lines().find(|line| line.starts_with(&cell))
}

#[test]
fn the_readme_lists_every_subcommand_and_every_flag_with_its_variable() {
    let readme = readme();
    let cli = tasklens::Cli::command();
    let mut missing = Vec::new();
    for subcommand in cli.get_subcommands() {
        let name = subcommand.get_name();
        if name == "help" {
            continue;
        }
        if !readme.contains(&format!("`tasklens {name}`")) {
            missing.push(format!("subcommand `tasklens {name}`"));
        }
        for arg in subcommand.get_arguments() {
            let Some(long) = arg.get_long() else { continue };
            if long == "help" || long == "version" {
                continue;
            }
            let Some(line) = row(&readme, long) else {
                missing.push(format!("flag --{long} of {name}"));
                continue;
            };
            let (commands, _) = line
                .split_once(") |")
                .expect("the flag cell lists its commands in parentheses");
            // The row may be one of several for the same flag name (demo's --rate vs up's).
            let rows_for_command = readme.lines().filter(|l| {
                l.starts_with(&format!("| `--{long}` (")) && {
                    let cell = l.split(") |").next().unwrap_or_default();
                    cell.split(['(', ',', ' ']).any(|word| word == name)
                }
            });
            let mut documented = false;
            for candidate in rows_for_command {
                let env_ok = match arg.get_env().and_then(|e| e.to_str()) {
                    Some(env) => candidate.contains(&format!("`{env}`")),
                    None => true,
                };
                documented |= env_ok;
            }
            if !documented {
                missing.push(format!(
                    "--{long} of {name} (row: {commands}) with its variable {:?}",
                    arg.get_env()
                ));
            }
        }
    }
    assert!(missing.is_empty(), "README.md lacks: {missing:#?}");
}

/// `docs/conventions.md` shows the Python start signals in full, each after a
/// `<!-- file: PATH -->` marker: the shown code must be the file's, so the two never drift, and
/// every module of `integrations/python/tasklens_start/` but the package's `__init__.py` is shown.
#[test]
fn the_conventions_show_the_python_start_signals_as_they_are() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let doc = std::fs::read_to_string(root.join("docs/conventions.md")).expect("conventions.md");
    let mut shown = Vec::new();
    let mut rest = doc.as_str();
    while let Some((_, after)) = rest.split_once("<!-- file: ") {
        let (path, after) = after.split_once(" -->").expect("a marker ends with -->");
        let block = after
            .trim_start_matches('\n')
            .strip_prefix("```python\n")
            .unwrap_or_else(|| panic!("no python code block right after the marker of {path}"));
        let (code, after) = block
            .split_once("\n```\n")
            .unwrap_or_else(|| panic!("the code block of {path} does not end"));
        let file =
            std::fs::read_to_string(root.join(path)).unwrap_or_else(|e| panic!("{path}: {e}"));
        assert_eq!(
            format!("{code}\n"),
            file,
            "docs/conventions.md shows another {path} than the file"
        );
        shown.push(path.to_owned());
        rest = after;
    }
    let folder = "integrations/python/tasklens_start";
    let mut modules: Vec<String> = std::fs::read_dir(root.join(folder))
        .expect("the start signals' folder")
        .map(|entry| {
            entry
                .expect("entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .filter(|name| name.ends_with(".py") && name != "__init__.py")
        .map(|name| format!("{folder}/{name}"))
        .collect();
    modules.sort();
    shown.sort();
    assert_eq!(
        shown, modules,
        "docs/conventions.md must show each module once"
    );
}
