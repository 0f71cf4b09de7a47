//! `cairn completion <shell>` and `cairn man [--dir DIR]`: generated from the clap
//! definitions (clap_complete, clap_mangen), so they always list the flags `cairn` accepts.

use std::io::Write as _;
use std::path::Path;

use anyhow::Context;
use clap::CommandFactory;

use super::{Cli, CliError};

/// Prints the completion script of `shell` (`source <(cairn completion bash)`).
pub(super) fn completion(shell: clap_complete::Shell) -> Result<(), CliError> {
    let mut command = Cli::command();
    let mut out = std::io::stdout().lock();
    clap_complete::generate(shell, &mut command, "cairn", &mut out);
    out.flush().context("writing the completion script")?;
    Ok(())
}

/// Prints `cairn.1`, or writes it and a `cairn-<command>.1` per subcommand into `dir`.
pub(super) fn man(dir: Option<&Path>) -> Result<(), CliError> {
    let command = Cli::command();
    let Some(dir) = dir else {
        let mut out = std::io::stdout().lock();
        clap_mangen::Man::new(command)
            .render(&mut out)
            .context("writing the man page")?;
        return Ok(());
    };
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    for (name, page) in pages(command) {
        let path = dir.join(format!("{name}.1"));
        let mut buffer = Vec::new();
        clap_mangen::Man::new(page)
            .render(&mut buffer)
            .context("rendering a man page")?;
        std::fs::write(&path, buffer).with_context(|| format!("writing {}", path.display()))?;
        println!("{}", path.display());
    }
    Ok(())
}

/// `cairn` and each command below it, named as `man` looks them up (`cairn-pin-add`).
fn pages(command: clap::Command) -> Vec<(String, clap::Command)> {
    let mut command = command;
    command.build();
    let mut out = Vec::new();
    collect("cairn", command, &mut out);
    out
}

fn collect(name: &str, command: clap::Command, out: &mut Vec<(String, clap::Command)>) {
    for sub in command.get_subcommands().filter(|s| s.get_name() != "help") {
        let sub_name = format!("{name}-{}", sub.get_name());
        collect(&sub_name, sub.clone().display_name(sub_name.clone()), out);
    }
    out.push((name.to_owned(), command.display_name(name.to_owned())));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_command_gets_a_page() {
        let names: Vec<String> = pages(Cli::command()).into_iter().map(|(n, _)| n).collect();
        for want in [
            "cairn",
            "cairn-add",
            "cairn-pin-add",
            "cairn-pin-update",
            "cairn-health-graph",
        ] {
            assert!(names.iter().any(|n| n == want), "{want} in {names:?}");
        }
        let mut roff = Vec::new();
        clap_mangen::Man::new(Cli::command())
            .render(&mut roff)
            .expect("renders");
        let roff = String::from_utf8(roff).expect("utf-8");
        assert!(
            roff.starts_with(".ie \\n(.g .ds Aq") || roff.contains(".TH cairn"),
            "{roff}"
        );
    }

    #[test]
    fn bash_completion_defines_the_cairn_function() {
        let mut out = Vec::new();
        clap_complete::generate(clap_complete::Shell::Bash, &mut Cli::command(), "cairn", &mut out);
        let script = String::from_utf8(out).expect("utf-8");
        assert!(script.contains("_cairn()"), "{script}");
        assert!(
            script.contains("--wrap-with-directory"),
            "add's flags are completed"
        );
    }
}
