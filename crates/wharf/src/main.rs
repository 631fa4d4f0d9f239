//! The `wharf` command.

use std::process::ExitCode;

use clap::Parser;
use std::sync::Arc;
use wharf::cli::{Cli, Command};
use wharf::daemon;

use wharf::dataplane::linux::{LinuxConfig, LinuxDataplane};
use wharf::dataplane::Dataplane;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match &cli.command {
        Command::Serve(args) => {
            daemon::init_logging(args.debug, args.log_format);
            daemon::serve(args, || {
                let linux = LinuxDataplane::new(LinuxConfig {
                    route_protocol: args.route_protocol,
                    route_table: args.route_table()?,
                    ovsdb: args.ovsdb.clone(),
                    ..LinuxConfig::default()
                })
                .map_err(|e| e.to_string())?;
                Ok(Dataplane::from_one(Arc::new(linux)))
            })
        }
        Command::Status(args) => daemon::status(args).map(|text| print!("{text}")),
        Command::Bgp(args) => daemon::bgp(args).map(|text| print!("{text}")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("wharf: {message}");
            ExitCode::FAILURE
        }
    }
}
