#pragma once
// Each subcommand lives in its own cmd_<name>.cpp, binds its flags and calls one library function.
// Adding a subcommand: write add_<name>_command and list it in main.cpp.
#include <CLI/CLI.hpp>

#include <string>
#include <vector>

namespace pt::cmd {

// Subcommand callbacks store their exit code here (CLI11 callbacks return void).
int& exit_code();
// The process's command line as given (recorded in a run's provenance).
std::vector<std::string>& command_line();

void add_version_command(CLI::App& app);
void add_run_command(CLI::App& app);
void add_validate_command(CLI::App& app);
void add_print_command(CLI::App& app);
void add_diff_command(CLI::App& app);
void add_list_command(CLI::App& app);
void add_schema_command(CLI::App& app);
void add_verify_model_command(CLI::App& app);
void add_tokenize_command(CLI::App& app);
void add_inspect_command(CLI::App& app);
void add_plot_command(CLI::App& app);
void add_generate_command(CLI::App& app);
void add_export_command(CLI::App& app);
void add_eval_command(CLI::App& app);

}  // namespace pt::cmd
