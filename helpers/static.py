"""Static embeddings distilled from a transformer, Model2Vec-style (taught in notebook 12): static -> contextual ->
static again.

A transformer's tokens start as static vectors (one row per token id), become contextual inside the model, and
here become static again: every token of the teacher's vocabulary is read *alone* by the teacher, its output
becomes that token's row, and a text is the normalised mean of its tokens' rows. No training data, no training
step; embedding a text is a table lookup.

The recipe is Model2Vec's ``distill`` (MinishLab/model2vec, ``distill/distillation.py``, ``distill/inference.py``
and ``tokenizer/tokenizer.py``, read for this module):

1. **Vocabulary** (:func:`kept_token_ids`): every token id of the teacher's tokenizer except those no text can
   produce: the tokenizer's added special tokens (MiniLM's [PAD], [UNK], [CLS], [SEP], [MASK]; SmolLM2's 17, from
   ``<|endoftext|>`` to ``<empty_output>``), BERT's 994 ``[unusedN]`` tokens (Model2Vec's
   ``token_remove_pattern``), and WordPiece word tokens that the pre-tokenizer would split (MiniLM's ``...``:
   Model2Vec's unreachable-token rule; byte-level BPE tokens are not checked, as in Model2Vec). Model2Vec keeps
   [PAD] and [UNK] in its table and drops [UNK] when it embeds; here both are skipped (two rows fewer in the PCA
   fit and the ranks). Skipped tokens keep a row of zeros, so the table still has one row per token id and the
   teacher's tokenizer indexes it directly. Tokens are fed by id, never decoded to text and re-tokenised.
2. **Teacher states** (:func:`teacher_states`): each kept token alone, wrapped in the special tokens the
   tokenizer itself adds around a text (``[CLS] token [SEP]`` for MiniLM; nothing for SmolLM2, whose tokenizer
   adds none), through the teacher; the token's vector is the mean of the output states over all positions,
   special ones included (Model2Vec's ``create_embeddings``: the attention-mask mean of ``last_hidden_state``).
   For MiniLM that is the sentence transformer's own mean pooling before its ``Normalize``; for SmolLM2 the pooled
   state of :func:`helpers.decoder.smollm2_embedder` ``("mean")``, the single token's last-layer state, in float32
   (a distillation is a one-off computation, kept off the bfloat16 fast path as training is).
3. **PCA** (:func:`pca`) to 256 dimensions, fitted on the kept tokens' states (centred; scikit-learn's
   ``PCA(svd_solver="full")``, sign convention included).
4. **SIF weighting with Zipf frequencies** (:func:`sif_weights`): the kept tokens, in vocabulary (id) order, get
   ranks r = 2, 3, ... (Model2Vec's ``np.arange(2, n + 2)``), a probability p = (1/r) / sum(1/r), and the weight
   sif / (sif + p) with sif = 1e-4: the first tokens, taken to be the most frequent, are scaled towards zero.
5. **A text** (:class:`StaticEmbedder`): tokenised with the same tokenizer, no special tokens, its first 512 tokens
   (Model2Vec's ``encode`` default), the mean of its kept tokens' rows, normalised.

:func:`distilled_embedder` ``("minilm")`` distils all-MiniLM-L6-v2 (its 29,522 kept tokens through the
encoder take about half a minute on 2 cores, cached under the course cache with the teacher's states);
``("smollm2")`` loads SmolLM2's table from the committed artifact ``data/artifacts/static_smollm2`` (8 bits a value,
made by ``scripts/distil_static_embeddings.py``: 49,135 tokens through 30 layers is more than a notebook's budget).
:func:`export_sentence_transformer` saves a table as a sentence-transformers ``StaticEmbedding`` model.
"""

from __future__ import annotations

import functools
import hashlib
import re
import sys
from pathlib import Path

import numpy as np
import torch
from tokenizers import Tokenizer
from tokenizers.models import WordPiece

from helpers import artifacts, cache, config, models
from helpers.embed import Embedder
from helpers.word_vectors import WordVectors

TEACHERS = {"minilm": "all-MiniLM-L6-v2 (token embeddings, mean over [CLS] token [SEP])",
            "smollm2": "SmolLM2-135M-Instruct, smollm2_embedder('mean'), float32"}
LABELS = {"minilm": "MiniLM", "smollm2": "SmolLM2"}
RECIPE = {"pca_dims": 256, "sif_coefficient": 1e-4}  # Model2Vec's defaults
MAX_LENGTH = 512  # tokens of a text that are read (Model2Vec's StaticModel.encode default)
UNUSED = re.compile(r"\[unused\d+\]")  # Model2Vec's default token_remove_pattern
BATCH_SIZE = 512
ARTIFACTS = {"smollm2": "static_smollm2"}  # committed; MiniLM's table is distilled where it is used
SCRIPT = "python scripts/distil_static_embeddings.py"


def _check_teacher(teacher: str) -> str:
    if teacher not in TEACHERS:
        raise ValueError(f"Unknown teacher {teacher!r}: choose one of {sorted(TEACHERS)}.")
    return teacher


def plain_tokenizer(tokenizer: Tokenizer, max_length: int | None = None) -> Tokenizer:
    """A copy of ``tokenizer`` that pads nothing and truncates to ``max_length`` tokens (``None``: nothing).

    MiniLM's ``tokenizer.json`` pads every text to 128 tokens and truncates it there, settings made for the
    transformer; a static model reads every token of a text up to its own limit.
    """
    copy = Tokenizer.from_str(tokenizer.to_str())
    copy.no_padding()
    if max_length is None:
        copy.no_truncation()
    else:
        copy.enable_truncation(max_length)
    return copy


@functools.cache
def teacher_tokenizer(teacher: str) -> Tokenizer:
    """The teacher's own tokenizer (a ``tokenizers.Tokenizer``), padding and truncation off."""
    if _check_teacher(teacher) == "minilm":
        return plain_tokenizer(Tokenizer.from_file(str(models.minilm_path() / "tokenizer.json")))
    return plain_tokenizer(models.load_smollm2()[0].backend_tokenizer)


def kept_token_ids(tokenizer: Tokenizer) -> np.ndarray:
    """The token ids that get a distilled row, in vocabulary order: every id but the added special tokens,
    ``[unusedN]`` and WordPiece word tokens that the pre-tokenizer splits (no text can produce them)."""
    special = {token.content for token in tokenizer.get_added_tokens_decoder().values()}
    wordpiece = isinstance(tokenizer.model, WordPiece)
    prefix = tokenizer.model.continuing_subword_prefix if wordpiece else None
    kept = []
    for token, token_id in sorted(tokenizer.get_vocab(with_added_tokens=True).items(), key=lambda item: item[1]):
        if token in special or UNUSED.match(token):
            continue
        if wordpiece and not token.startswith(prefix) and len(tokenizer.pre_tokenizer.pre_tokenize_str(token)) != 1:
            continue
        kept.append(token_id)
    return np.array(kept, dtype=np.int64)


def wrapping(tokenizer: Tokenizer) -> tuple[list[int], list[int]]:
    """The ids a tokenizer puts before and after a text when it adds its special tokens (MiniLM: [CLS], [SEP];
    SmolLM2: none), found as Model2Vec does, by encoding ``"a"``."""
    plain = plain_tokenizer(tokenizer)
    full, bare = plain.encode("a", add_special_tokens=True).ids, plain.encode("a", add_special_tokens=False).ids
    if len(bare) != 1 or bare[0] not in full:
        raise ValueError(f"Cannot find the special tokens around a text: 'a' encodes to {full} / {bare}.")
    at = full.index(bare[0])
    return full[:at], full[at + 1:]


def _minilm_forward(batch: torch.Tensor) -> torch.Tensor:
    transformer = models.load_minilm()[0]  # the sentence transformer's Transformer module (BERT)
    features = transformer({"input_ids": batch, "attention_mask": torch.ones_like(batch),
                            "token_type_ids": torch.zeros_like(batch)})
    return features["token_embeddings"].mean(1)  # every position is a real token: the mask mean is the mean


def _smollm2_forward(batch: torch.Tensor) -> torch.Tensor:
    from helpers.decoder import smollm2_embedder
    from helpers.pooling import pool

    teacher = smollm2_embedder("mean")
    mask = torch.ones_like(batch)
    with config.using_precision("fp32"), teacher.forward_context():
        return pool(teacher.hidden_states(batch, mask), mask, teacher.pooling)


def teacher_states(teacher: str, ids, batch_size: int = BATCH_SIZE, progress: bool = True) -> np.ndarray:
    """The teacher's vector of each token id, read alone between the tokenizer's special tokens: the mean of the
    output states over all positions (float32, one row per id)."""
    forward = _minilm_forward if _check_teacher(teacher) == "minilm" else _smollm2_forward
    before, after = (np.array(side, dtype=np.int64) for side in wrapping(teacher_tokenizer(teacher)))
    ids = np.asarray(ids, dtype=np.int64)
    rows = torch.from_numpy(np.concatenate([np.tile(before, (len(ids), 1)), ids[:, None],
                                            np.tile(after, (len(ids), 1))], axis=1))
    chunks = []
    with torch.inference_mode():
        for start in config.progress_bar(range(0, len(rows), batch_size), desc=f"Distilling {LABELS[teacher]}",
                                         disable=not progress, leave=False):
            chunks.append(forward(rows[start : start + batch_size]).float().cpu().numpy())
    if not chunks:
        raise ValueError("No token ids to distil.")
    return np.concatenate(chunks)


def weights_fingerprint(teacher: str) -> str:
    """sha256 of the teacher's files as its pip package ships them (MiniLM: weights and tokenizer; SmolLM2: the
    GGUF file, which holds both): about 0.1 s, and no model has to be loaded."""
    if _check_teacher(teacher) == "minilm":
        folder = models.minilm_path()
        return cache.file_sha256(folder / "model.safetensors") + cache.file_sha256(folder / "tokenizer.json")
    return cache.file_sha256(models.smollm2_gguf_path())


def _states_code() -> str:
    """The code that decides the teacher's states: editing it makes cached states and tables stale."""
    from helpers.decoder import hidden_states
    from helpers.pooling import pool

    return cache.source_hash(teacher_tokenizer, plain_tokenizer, kept_token_ids, wrapping, teacher_states,
                             _minilm_forward, _smollm2_forward, hidden_states, pool)


def token_states(teacher: str, progress: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """``(ids, states)``: :func:`kept_token_ids` of the teacher's tokenizer and :func:`teacher_states` of each,
    cached under ``<cache>/static/`` (keyed by the teacher's files and this code), so the teacher reads its
    vocabulary once."""
    ids = kept_token_ids(teacher_tokenizer(teacher))
    key = {"teacher": TEACHERS[_check_teacher(teacher)], "weights": weights_fingerprint(teacher),
           "code": _states_code()}
    path = config.cache_dir() / "static" / f"{teacher}-states-{cache.key_digest(key)}.npy"
    states = cache.cached(path, lambda: teacher_states(teacher, ids, progress=progress), cache.save_array,
                          cache.load_array)
    return ids, states


def pca(states: np.ndarray, dims: int) -> np.ndarray:
    """The rows of ``states`` centred and projected on their ``dims`` principal directions (float32), with
    scikit-learn's sign convention (each direction's largest loading positive): ``PCA(dims, svd_solver="full")
    .fit_transform(states)``. ``dims`` above the states' width keeps them all (a rotation, as Model2Vec does)."""
    x = np.asarray(states, dtype=np.float64)
    x = x - x.mean(0)
    _, _, directions = np.linalg.svd(x, full_matrices=False)
    directions = directions[: min(dims, directions.shape[0])]
    signs = np.sign(directions[np.arange(len(directions)), np.abs(directions).argmax(1)])
    return (x @ (directions * signs[:, None]).T).astype(np.float32)


def sif_weights(n: int, coefficient: float = 1e-4) -> np.ndarray:
    """SIF weights of ``n`` tokens in vocabulary order, their frequencies estimated by Zipf's law: rank r = 2..n+1,
    p = (1/r) / sum(1/r), weight = coefficient / (coefficient + p)."""
    if n < 1 or not 0 < coefficient < 1:
        raise ValueError(f"Need n >= 1 and 0 < coefficient < 1, got n={n}, coefficient={coefficient}.")
    inverse_rank = 1 / np.arange(2, n + 2)
    probability = inverse_rank / inverse_rank.sum()
    return coefficient / (coefficient + probability)


def distil_table(states: np.ndarray, ids: np.ndarray, vocab_size: int, pca_dims: int | None = 256,
                 sif_coefficient: float | None = 1e-4) -> np.ndarray:
    """The static table (vocab_size, dim), float32: the kept tokens' states (rows in ``ids`` order, ids ascending)
    through :func:`pca` (``None``: none) and :func:`sif_weights` (``None``: none); every other row zero."""
    ids = np.asarray(ids)
    if len(ids) != len(states) or np.any(np.diff(ids) <= 0):
        raise ValueError("ids must be ascending and give one id per row of states.")
    rows = pca(states, pca_dims) if pca_dims else np.array(states, dtype=np.float32)
    if sif_coefficient:
        rows = rows * sif_weights(len(rows), sif_coefficient)[:, None].astype(np.float32)
    table = np.zeros((vocab_size, rows.shape[1]), dtype=np.float32)
    table[ids] = rows
    return table


def artifact_key(teacher: str, pca_dims: int | None = RECIPE["pca_dims"],
                 sif_coefficient: float | None = RECIPE["sif_coefficient"]) -> dict:
    """What decides a distilled table: the recipe (teacher, PCA, SIF), the teacher's files and the code."""
    return {"recipe": {"teacher": TEACHERS[_check_teacher(teacher)], "pca_dims": pca_dims,
                       "sif_coefficient": sif_coefficient},
            "base": weights_fingerprint(teacher),
            "code": _states_code() + cache.source_hash(pca, sif_weights, distil_table)}


def save_table(target: Path, table: np.ndarray) -> None:
    """A table as float32 safetensors (the cache; the committed artifact uses :func:`save_table_8bit`)."""
    cache.save_tensors(target / "table.safetensors", {"table": torch.from_numpy(np.ascontiguousarray(table))})


def save_table_8bit(target: Path, table: np.ndarray) -> None:
    """A table as int8 codes with one scale per row (:func:`helpers.artifacts.store_8bit`): a quarter of float32."""
    cache.save_tensors(target / "table.safetensors", artifacts.store_8bit({"table": torch.from_numpy(table)}))


def load_table(target: Path) -> np.ndarray:
    """The table :func:`save_table` or :func:`save_table_8bit` wrote, as float32."""
    tensors, _ = cache.load_tensors(target / "table.safetensors")
    return artifacts.read_8bit(tensors)["table"].numpy()


def distilled_table(teacher: str, pca_dims: int | None = RECIPE["pca_dims"],
                    sif_coefficient: float | None = RECIPE["sif_coefficient"], progress: bool = True) -> np.ndarray:
    """The teacher's distilled table: the committed artifact where there is one for this recipe (SmolLM2's,
    8-bit), else distilled here from :func:`token_states` and cached (float32) under ``<cache>/artifacts``."""
    name = ARTIFACTS.get(_check_teacher(teacher), f"static_{teacher}")

    def distil() -> np.ndarray:
        ids, states = token_states(teacher, progress=progress)
        return distil_table(states, ids, teacher_tokenizer(teacher).get_vocab_size(), pca_dims, sif_coefficient)

    return artifacts.load_or_train(name, artifact_key(teacher, pca_dims, sif_coefficient), distil, save_table,
                                   load_table)


class StaticEmbedder(Embedder):
    """A static model: a text's vector is the normalised mean of its tokens' rows in ``table``.

    ``tokenizer`` (a ``tokenizers.Tokenizer``) splits a text, without special tokens, into at most ``max_length``
    ids; ``table`` has one row per id. All-zero rows are tokens the distillation skipped ([UNK] among them): they
    are left out of the mean, which changes nothing once the mean is normalised. A text with no other token (only
    characters the vocabulary lacks) gets the mean of all non-zero rows, a generic vector, never a zero one.
    ``vectors`` is the table as :class:`~helpers.word_vectors.WordVectors` over the token strings (nearest tokens).
    """

    def __init__(self, tokenizer: Tokenizer, table: np.ndarray, name: str, max_length: int | None = MAX_LENGTH):
        table = np.ascontiguousarray(table, dtype=np.float32)
        if table.ndim != 2 or table.shape[0] != tokenizer.get_vocab_size():
            raise ValueError(f"The table needs one row per token id ({tokenizer.get_vocab_size():,}), "
                             f"got shape {table.shape}.")
        self.tokenizer = plain_tokenizer(tokenizer, max_length)
        self.table, self.name, self.dim, self.max_length = table, name, table.shape[1], max_length
        self.known = np.abs(table).max(1) > 0
        if not self.known.any():
            raise ValueError("Every row of the table is zero: there is nothing to embed with.")
        self.fallback = table[self.known].mean(0)
        tokens = [self.tokenizer.id_to_token(k) for k in range(len(table))]
        self.vectors = WordVectors(tokens, table)
        digest = hashlib.sha256(table.tobytes())
        digest.update(self.tokenizer.to_str().encode())
        self._digest = digest.hexdigest()

    def token_ids(self, text: str) -> list[int]:
        """The ids a text is read as (at most ``max_length``, no special tokens), skipped tokens included."""
        return self.tokenizer.encode(text, add_special_tokens=False).ids

    def embed_batch(self, texts):
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        for row, encoding in enumerate(self.tokenizer.encode_batch(texts, add_special_tokens=False)):
            ids = np.asarray(encoding.ids, dtype=np.int64)
            ids = ids[self.known[ids]]
            out[row] = self.table[ids].mean(0) if len(ids) else self.fallback
        return out

    def code(self):
        return (sys.modules[__name__],)

    def settings(self):
        return {"table_and_tokenizer": self._digest, "max_length": self.max_length}


def distilled_embedder(teacher: str = "minilm", pca_dims: int | None = RECIPE["pca_dims"],
                       sif_coefficient: float | None = RECIPE["sif_coefficient"], max_length: int | None = MAX_LENGTH,
                       progress: bool = True) -> StaticEmbedder:
    """The static model distilled from ``teacher`` (``"minilm"`` or ``"smollm2"``) as an Embedder; ``pca_dims`` and
    ``sif_coefficient`` ``None`` switch a step off (the ablations of notebook 12). The first call for MiniLM runs
    the teacher over its vocabulary (about half a minute on 2 cores); later calls read the cached table."""
    table = distilled_table(teacher, pca_dims, sif_coefficient, progress=progress)
    changes = [label for label, off in (("no PCA", not pca_dims), ("no SIF", not sif_coefficient)) if off]
    if pca_dims and pca_dims != RECIPE["pca_dims"]:
        changes.append(f"PCA {pca_dims}")
    name = f"{LABELS[teacher]} distilled to static" + (f" ({', '.join(changes)})" if changes else "")
    return StaticEmbedder(teacher_tokenizer(teacher), table, name, max_length=max_length)


def _sentence_transformer_modules():
    try:  # sentence-transformers 6 moved the modules; 5.x has them under .models
        from sentence_transformers.sentence_transformer.modules import Normalize, StaticEmbedding
    except ImportError:
        from sentence_transformers.models import Normalize, StaticEmbedding
    return StaticEmbedding, Normalize


def export_sentence_transformer(embedder: StaticEmbedder, path: Path | str) -> Path:
    """Save ``embedder`` as a sentence-transformers model (``StaticEmbedding`` then ``Normalize``) that
    ``SentenceTransformer(path)`` loads offline.

    ``StaticEmbedding`` tokenises with the tokenizer saved beside it (no special tokens; it switches padding off
    and keeps the saved truncation, here ``max_length``) and takes the ``EmbeddingBag`` mean of the rows of all
    ids. Zero rows only shrink that mean, so the normalised vectors are ours, except for a text with no non-zero
    row at all: ours gets the generic vector, theirs the zero vector.
    """
    from sentence_transformers import SentenceTransformer

    static_embedding, normalize = _sentence_transformer_modules()
    module = static_embedding(plain_tokenizer(embedder.tokenizer, embedder.max_length),
                              embedding_weights=torch.from_numpy(embedder.table.copy()))
    model = SentenceTransformer(modules=[module, normalize()], device="cpu")
    path = Path(path)
    model.save(str(path))
    return path
