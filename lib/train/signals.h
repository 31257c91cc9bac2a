#pragma once
// SIGTERM / SIGUSR1 (Slurm's preemption and --signal warnings) request a checkpoint and a clean
// exit; the trainer polls between optimizer steps, so a step is never cut in half.
namespace pt::train {

// posttrain exits with this code after a signal-requested checkpoint, so a batch script can tell
// "requeue me" from success (0) and failure (1): EX_TEMPFAIL.
constexpr int kExitRequeue = 75;

void install_stop_handlers();
bool stop_requested();
int stop_signal();  // the signal that asked, 0 if none

}  // namespace pt::train
