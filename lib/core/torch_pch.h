#pragma once
// Precompiled for pt_torch and the binary: the ATen/autograd surface we use. The fmt shim dir is
// first on the include path, so <fmt/...> here resolves to the fmt spdlog was built against.
#include <ATen/ATen.h>
#include <torch/csrc/autograd/autograd.h>
#include <torch/csrc/autograd/generated/variable_factories.h>
#include <spdlog/spdlog.h>
