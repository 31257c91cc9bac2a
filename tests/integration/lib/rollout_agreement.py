"""How long two RL runs that should draw the same rollouts actually do (grpo.sh, async_rl.sh).

A completion's seed is a function of its prompt's global index, so two runs whose weights agree draw
the same completions. Updates that differ only in the last bits (gradients summed over 2 ranks vs 1,
importance weights of 1 +- 1e-5) can, after a few steps, flip one sampled token; from the first step
whose completion lengths differ the runs have legitimately different data. Losses are compared up to
that step, and at least `min_steps` must agree.
"""


def agreeing_steps(rows_a, rows_b, min_steps=5):
    """The number of leading steps whose completion lengths agree (metrics rows of the two runs)."""
    la = [r["completion_length"] for r in rows_a]
    lb = [r["completion_length"] for r in rows_b]
    assert len(la) == len(lb), (len(la), len(lb))
    agree = next((i for i, (x, y) in enumerate(zip(la, lb)) if x != y), len(la))
    assert agree >= min_steps, f"completions agree for only {agree} steps (lengths {la} vs {lb})"
    return agree


def max_diff_while_agreeing(rows_a, rows_b, key, agree):
    return max(abs(a[key] - b[key]) for a, b in list(zip(rows_a, rows_b))[:agree])
