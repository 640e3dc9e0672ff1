//! README.md documents every subcommand and every flag with its environment variable: the table
//! is the one place a user looks, so it must not fall behind the binary.

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
