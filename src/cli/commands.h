// Subcommands of the stratus binary.
#pragma once

namespace CLI {
class App;
}

namespace stratus::cli {

void add_serve(CLI::App& app);
void add_mock(CLI::App& app);
void add_check_config(CLI::App& app);
// keys create|list|revoke and usage (govern_commands.cpp).
void add_keys(CLI::App& app);
void add_usage(CLI::App& app);
// The exit code the subcommand that ran asked for.
int exit_code();
void set_exit_code(int code);

}  // namespace stratus::cli
