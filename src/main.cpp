// stratus: the command line (serve, mock, check-config, keys, usage).
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>

#include "cli/commands.h"

int main(int argc, char** argv) {
  // Operational messages go to stderr; stdout carries the access log.
  spdlog::set_default_logger(spdlog::stderr_color_mt("stratus"));
  CLI::App app{"Stratus: a multi-cloud AI gateway with an OpenAI-compatible API"};
  app.require_subcommand(1);
  stratus::cli::add_serve(app);
  stratus::cli::add_mock(app);
  stratus::cli::add_check_config(app);
  stratus::cli::add_keys(app);
  stratus::cli::add_usage(app);
  CLI11_PARSE(app, argc, argv);
  return stratus::cli::exit_code();
}
