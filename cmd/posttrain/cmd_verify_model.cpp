#include <iostream>

#include "cmd/posttrain/commands.h"
#include "model/verify.h"
#include "recipe/fields.h"

namespace pt::cmd {

void add_verify_model_command(CLI::App& app) {
  auto* sub = app.add_subcommand("verify-model", "Compare our logits with transformers' reference logits (parity gate)");
  static model::VerifyOptions o;
  static std::string dtype = "float32", attention = "sdpa";
  sub->add_option("model_dir", o.model_dir, "Hugging Face model directory or GGUF file")->required()->check(CLI::ExistingPath);
  sub->add_option("--reference", o.reference, "reference logits (default MODEL_DIR/reference.safetensors; beside a GGUF file FILE.reference.safetensors)");
  sub->add_option("--dtype", dtype, "float32, bfloat16 or float16")->capture_default_str();
  sub->add_option("--attention", attention, "eager or sdpa (flash needs CUDA)")->capture_default_str();
  sub->add_option("--atol", o.atol, "max abs tolerance (default 1e-4 fp32, 0.1 bf16/fp16)");
  sub->callback([] {
    recipe::Node d = recipe::Node::make_scalar(dtype), a = recipe::Node::make_scalar(attention);
    recipe::Parser::read(d, "--dtype", o.dtype, recipe::Spec(""));
    recipe::Parser::read(a, "--attention", o.attention, recipe::Spec(""));
    auto r = model::verify_model(o, std::cout);
    exit_code() = r.pass ? 0 : 1;
  });
}

}  // namespace pt::cmd
