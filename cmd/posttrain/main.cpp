#include <csignal>
#include <iostream>

#include "cmd/posttrain/commands.h"
#include "core/error.h"
#include "core/log.h"
#include "core/malloc_tuning.h"

namespace pt::cmd {
int& exit_code() {
  static int code = 0;
  return code;
}
std::vector<std::string>& command_line() {
  static std::vector<std::string> argv;
  return argv;
}
}  // namespace pt::cmd

int main(int argc, char** argv) {
  pt::tune_malloc();  // before the first large allocation (core/malloc_tuning.h says why)
  pt::cmd::command_line().assign(argv, argv + argc);
  CLI::App app{"posttrain: LLM post-training (SFT, DPO, GRPO, distillation) from declarative recipes"};
  app.require_subcommand(1);
  std::string level = "info";
  app.add_option("--log-level", level, "trace, debug, info, warn, error, off")->capture_default_str();
  app.parse_complete_callback([&] { pt::log::init(0, 1, level); });

  using namespace pt::cmd;
  add_version_command(app);
  add_run_command(app);
  add_validate_command(app);
  add_print_command(app);
  add_diff_command(app);
  add_list_command(app);
  add_schema_command(app);
  add_verify_model_command(app);
  add_tokenize_command(app);
  add_inspect_command(app);
  add_plot_command(app);
  add_generate_command(app);
  add_export_command(app);
  add_eval_command(app);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const pt::Error& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 2;
  }
  return exit_code();
}
