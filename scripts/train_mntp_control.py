"""Train notebook 07's control for MNTP and commit its scores as data/artifacts/mntp_control (seeded).

    python scripts/train_mntp_control.py     # ≈ 31 min on 2 cores: 28 of training, then the test split

The control takes MNTP's LoRA, training windows, steps, batch, learning rate and seed (``helpers.llm2vec.RECIPE``)
and trains them with the causal next-token loss (``helpers.mntp_control``). The run is cached after each third of
its steps: a stopped run, started again, reads the chunks it finished and trains the rest. The card records the
training and held-out curves and the paired comparisons with the MNTP stage and with the untrained bidirectional
model, which notebook 07 recomputes from the artifact.
"""

from __future__ import annotations

import time

from helpers import artifacts, llm2vec, mntp_control
from helpers.evaluate import average_interval, compare, mini_mteb


def main() -> None:
    key = mntp_control.control_key()  # of the code that runs, even if a file is edited while it trains
    start = time.perf_counter()
    value = mntp_control.train_control(progress=True)
    seconds = time.perf_counter() - start
    control = value["results"][mntp_control.NAME]
    mntp, untrained = (mini_mteb(llm2vec.llm2vec_embedder(stage)) for stage in ("mntp", "bidirectional"))
    scores = {"test_average_control": average_interval(control),
              "mntp_minus_control": average_interval(compare(mntp, control)),
              "control_minus_bidirectional": average_interval(compare(control, untrained)),
              "held_out_mntp_loss": value["history"]["held_out"][-1][1]}
    path = artifacts.save(mntp_control.ARTIFACT, key, value, mntp_control.save_files, mntp_control.SCRIPT, seconds,
                          history=value["history"], scores=scores)
    print(f"{path} in {seconds / 60:.1f} min ({artifacts.size_mb():.2f} MB of committed artifacts): {scores}")


if __name__ == "__main__":
    main()
