"""Pre-train notebook 02's small BERT and commit it as data/artifacts/mlm_encoder (seeded; ≈ 30 min on 2 cores).

    python scripts/pretrain_mlm.py

The recipe is ``helpers.mlm.PRETRAINING`` (WordPiece vocabulary with the ``tokenizers`` library, then masked
language modelling, ``helpers.mlm.pretrain_mlm``). The artifact's card records the recipe, the text's
fingerprint, the hash of the training code, the seconds, the loss curve and the held-out accuracy next to the
most-frequent-token baseline; ``helpers.mlm.pretrained_mlm`` refuses it once the code or text changes.
"""

from __future__ import annotations

import time

from helpers import artifacts, config, mlm


def main() -> None:
    key = mlm.artifact_key()  # of the code that runs, even if a file is edited while it trains
    start = time.perf_counter()
    value = mlm.train_pretrained(progress=True)
    seconds = time.perf_counter() - start
    history = value["history"]
    # The score of the stored (fp16) weights, on the held-out rows the history used.
    model = mlm.MaskedLM(mlm.EncoderConfig(**value["encoder_config"]))
    model.load_state_dict(value["state"])
    tokenizer = value["tokenizer"]
    _, held_out_texts = mlm.pretraining_split(mlm.pretraining_texts(), mlm.PRETRAINING["held_out_share"],
                                              mlm.PRETRAINING["seed"])
    held_out = mlm.chunk_texts(tokenizer, held_out_texts, mlm.PRETRAINING["sequence_length"])
    stored = mlm.masked_accuracy(model.eval(), tokenizer, held_out)
    scores = {"heldout_accuracy_fp32": float(history["heldout_accuracy"].iloc[-1]),
              "heldout_accuracy_fp16": stored["accuracy"], "unigram_baseline": history.attrs["unigram_baseline"],
              "parameters": sum(p.numel() for p in model.parameters())}
    path = artifacts.save("mlm_encoder", key, value, mlm.save_files, "python scripts/pretrain_mlm.py",
                          seconds, history=history.to_dict("list"), scores=scores)
    print(f"{path} in {seconds / 60:.1f} min on {config.device()}: {scores}")


if __name__ == "__main__":
    main()
