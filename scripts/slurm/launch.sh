# Sourced by the sbatch templates (posttrain.sbatch, one-node.sbatch, multi-node.sbatch) as
#   source launch.sh RECIPE [--set k=v ...]
# Starts posttrain — one task directly, several with srun (one task per GPU; each rank takes the
# GPU of its node-local rank) — and forwards the batch shell's signals to it: Slurm sends SIGUSR1
# before the time limit (--signal=B:USR1@120) and SIGTERM on preemption; every rank then finishes
# its step, the ranks write one checkpoint together and exit 75, and this script requeues the job,
# which resumes from that checkpoint (--resume auto).
POSTTRAIN="${POSTTRAIN:-posttrain}"
recipe="${1:?usage: sbatch SCRIPT RECIPE [--set k=v ...]}"
shift
if [ "${SLURM_NTASKS:-1}" -gt 1 ]; then
  # The NCCL bootstrap (a c10d TCPStore) listens on the first node of the allocation.
  MASTER_ADDR="${MASTER_ADDR:-$(scontrol show hostnames "${SLURM_JOB_NODELIST:-localhost}" | head -n 1)}"
  export MASTER_ADDR
  # --kill-on-bad-exit: one failed rank ends the step at once (the others would wait on it).
  # shellcheck disable=SC2086
  ${SRUN:-srun} --kill-on-bad-exit=1 ${POSTTRAIN_SRUN_ARGS:-} "$POSTTRAIN" run "$recipe" --resume auto "$@" &
else
  "$POSTTRAIN" run "$recipe" --resume auto "$@" &
fi
pid=$!
# --signal=B: reaches this shell, not the job step: pass it on (srun hands it to every task).
trap 'kill -USR1 "$pid" 2>/dev/null' USR1
trap 'kill -TERM "$pid" 2>/dev/null' TERM
rc=0
# `wait` returns when a trapped signal arrives; keep waiting until posttrain itself exits.
while kill -0 "$pid" 2>/dev/null; do
  wait "$pid"
  rc=$?
done
if [ "$rc" -eq 75 ] && [ -n "${SLURM_JOB_ID:-}" ]; then
  echo "posttrain checkpointed after a signal; requeueing job $SLURM_JOB_ID"
  scontrol requeue "$SLURM_JOB_ID"
fi
exit "$rc"
