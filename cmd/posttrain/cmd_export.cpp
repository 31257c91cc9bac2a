#include "cmd/posttrain/commands.h"
#include "train/consolidate.h"

namespace pt::cmd {

void add_export_command(CLI::App& app) {
  auto* sub = app.add_subcommand("export", "Write a checkpoint as one Hugging Face model (joins fsdp ZeRO-3 shards)");
  static std::string checkpoint, out;
  sub->add_option("checkpoint", checkpoint, "checkpoint directory (RUN/checkpoints/step-N)")
      ->required()
      ->check(CLI::ExistingDirectory);
  sub->add_option("out", out, "new directory for the HF model")->required();
  sub->callback([] {
    train::export_checkpoint(checkpoint, out);
    exit_code() = 0;
  });
}

}  // namespace pt::cmd
