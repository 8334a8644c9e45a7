// The arithmetic of a backend's matrix products: `fp32` (IEEE single), `tf32` (tensor
// cores with 10-bit mantissa inputs, fp32 accumulation), `bf16` (operands rounded to
// bfloat16, fp32 accumulation; weights, gradients and optimizer state stay fp32, so the
// fp32 weights are the master copy). Elementwise work is fp32 in every mode. The CPU
// backend computes fp32 only.
#pragma once

#include <optional>
#include <string_view>

namespace conveyor::compute {

enum class precision { fp32, tf32, bf16 };

inline std::optional<precision> parse_precision(std::string_view s) {
  if (s == "fp32") return precision::fp32;
  if (s == "tf32") return precision::tf32;
  if (s == "bf16") return precision::bf16;
  return std::nullopt;
}

inline const char* to_string(precision p) {
  switch (p) {
  case precision::fp32: return "fp32";
  case precision::tf32: return "tf32";
  case precision::bf16: return "bf16";
  }
  return "fp32";
}

} // namespace conveyor::compute
