// stratus: the command line (serve, mock, check-config).
#include <CLI/CLI.hpp>

#include "cli/commands.h"

int main(int argc, char** argv) {
  CLI::App app{"Stratus: a multi-cloud AI gateway with an OpenAI-compatible API"};
  app.require_subcommand(1);
  stratus::cli::add_serve(app);
  stratus::cli::add_mock(app);
  stratus::cli::add_check_config(app);
  CLI11_PARSE(app, argc, argv);
  return stratus::cli::exit_code();
}
