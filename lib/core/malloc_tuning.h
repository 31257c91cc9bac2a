#pragma once
// The process's heap policy for training (glibc malloc), set once at start-up.
//
// By default glibc serves blocks above a threshold with mmap and returns them to the kernel when freed,
// and trims the heap's free top; a training step allocates and frees the same activation and gradient
// buffers every micro-batch, so each of them came back as fresh pages the kernel had to fault in and
// zero (clear_page_erms: 6% of a SmolLM2 GRPO step on CPU, with page-fault handling ~9% in all). With
// blocks up to 32 MiB (glibc's largest threshold) served from the heap and freed memory kept, they are
// reused instead. Peak memory is unchanged (the same buffers are live at the peak); what a run frees
// is kept for its next step rather than returned.
namespace pt {

// Applies the policy unless the user set GLIBC_TUNABLES (their settings stand). Returns whether it did.
bool tune_malloc();

}  // namespace pt
