//! `fizzflow completions SHELL` and `fizzflow man`: generated from the
//! clap definition itself, so they name exactly the flags that parse.

use crate::cli::error::{Error, report};
use clap::Args;
use clap_complete::Shell;
use std::io::Write;

pub(crate) const COMPLETIONS_EXAMPLES: &str = "\
Examples:
  fizzflow completions bash > ~/.local/share/bash-completion/completions/fizzflow
  fizzflow completions zsh > ~/.zfunc/_fizzflow      (with fpath+=~/.zfunc before compinit)
  fizzflow completions fish > ~/.config/fish/completions/fizzflow.fish";

pub(crate) const MAN_EXAMPLES: &str = "\
Examples:
  fizzflow man | man -l -                  read it now
  fizzflow man > ~/.local/share/man/man1/fizzflow.1";

#[derive(Args, Debug, Clone)]
pub struct CompletionsArgs {
    /// The shell to complete for
    #[arg(value_enum)]
    pub shell: Shell,
}

pub fn completions(args: &CompletionsArgs, mut cmd: clap::Command) -> Result<(), Error> {
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut cmd, "fizzflow", &mut script);
    report(
        "completion script",
        crate::util::output::stdout_text(&String::from_utf8_lossy(&script)),
    )
}

/// One page for the whole program: the top command's, then a section per
/// subcommand with its synopsis, description and flags (one `man fizzflow`
/// to read, instead of pages that would each need installing).
pub fn man(mut cmd: clap::Command) -> Result<(), Error> {
    cmd.build();
    let mut page = Vec::new();
    let written = clap_mangen::Man::new(cmd.clone())
        .render(&mut page)
        .and_then(|()| sections(&cmd, "fizzflow", &mut page));
    report("man page", written)?;
    report(
        "man page",
        crate::util::output::stdout_text(&String::from_utf8_lossy(&page)),
    )
}

/// A section for each subcommand of `cmd` (and theirs), named by its path.
fn sections(cmd: &clap::Command, path: &str, page: &mut Vec<u8>) -> std::io::Result<()> {
    for sub in cmd
        .get_subcommands()
        .filter(|s| !s.is_hide_set() && s.get_name() != "help")
    {
        let path = format!("{path} {}", sub.get_name());
        writeln!(page, ".SH \"{}\"", path.to_uppercase())?;
        let man = clap_mangen::Man::new(sub.clone().bin_name(&path));
        man.render_synopsis_section(page)?;
        man.render_description_section(page)?;
        man.render_options_section(page)?;
        sections(sub, &path, page)?;
    }
    Ok(())
}
