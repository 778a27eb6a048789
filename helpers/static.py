"""Static embeddings distilled from a transformer, Model2Vec-style (taught in notebook 12): static -> contextual ->
static again.

A transformer's tokens start as static vectors (one row per token id), become contextual inside the model, and
here become static again: every token of the teacher's vocabulary is read on its own by the teacher, its output
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
2. **Teacher states** (:func:`teacher_states`): each kept token through the teacher, fed by id. MiniLM reads it
   as Model2Vec does: wrapped in the special tokens its tokenizer adds around any text, ``[CLS] token [SEP]``, the
   token's vector the mean of the three output states (Model2Vec's ``create_embeddings``: the attention-mask mean
   of ``last_hidden_state``), which is the sentence transformer's own mean pooling before its ``Normalize``.
   SmolLM2's tokenizer adds nothing, so Model2Vec as it runs would read each token alone at position 0, a causal
   decoder's attention sink (Xiao et al. 2023; Sun et al. 2024), whose state is nearly the same for every token.
   Here a SmolLM2 token is read through a template of :data:`READINGS` (alone; after ``<|endoftext|>``, Model2Vec's
   wrapping where a tokenizer adds a BOS; inside notebook 06's echo template) at a layer (the final RMSNorm
   applied), its state taken at the token's last copy; :func:`reading_sweep` chose :data:`SMOLLM2_RECIPE` on the
   dev split. Model2Vec would also average the BOS's state in: the same for every token under the causal mask, a
   constant that PCA's centring removes. Float32 throughout (a distillation is a one-off computation, kept off
   the bfloat16 fast path as training is).
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
made by ``scripts/distil_static_embeddings.py``: 49,135 tokens through 30 layers is more than a notebook's budget),
and :func:`reading_sweep` the committed dev and test scores of every reading and layer
(``data/artifacts/static_smollm2_readings``). :func:`export_sentence_transformer` saves a table as a
sentence-transformers ``StaticEmbedding`` model.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import re
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from tokenizers import Tokenizer
from tokenizers.models import WordPiece

from helpers import artifacts, cache, config, models
from helpers.embed import Embedder
from helpers.word_vectors import WordVectors

TEACHERS = {"minilm": "all-MiniLM-L6-v2 (token embeddings, mean over [CLS] token [SEP])",
            "smollm2": "SmolLM2-135M-Instruct, float32, one token through a reading template"}
LABELS = {"minilm": "MiniLM", "smollm2": "SmolLM2"}
RECIPE = {"pca_dims": 256, "sif_coefficient": 1e-4}  # Model2Vec's defaults
MAX_LENGTH = 512  # tokens of a text that are read (Model2Vec's StaticModel.encode default)
UNUSED = re.compile(r"\[unused\d+\]")  # Model2Vec's default token_remove_pattern
BATCH_SIZE = 512
ARTIFACTS = {"smollm2": "static_smollm2"}  # committed; MiniLM's table is distilled where it is used
READINGS_ARTIFACT = "static_smollm2_readings"  # the dev sweep that chose SmolLM2's reading (scores, no weights)
SCRIPT = "python scripts/distil_static_embeddings.py"

# How SmolLM2 reads one vocabulary token: a template with the token (by id) in every {text}, its state read at the
# last one, as helpers.decoder's embedders pool a text's last copy. SmolLM2's tokenizer adds no special token, so
# Model2Vec as it runs reads the token alone, at position 0: a causal decoder's attention sink.
READINGS = {
    "alone": "{text}",  # Model2Vec as it runs on SmolLM2
    "bos": "<|endoftext|>{text}",  # Model2Vec's wrapping where a tokenizer adds a BOS, with SmolLM2's separator
    "echo": "Rewrite the sentence: {text}, rewritten sentence: {text}",  # the course's best SmolLM2 embedder
}
SWEEP_LAYERS = (0, 6, 12, 18, 24, 30)  # compared on dev: 0 is the input embedding table, 30 the last layer
SMOLLM2_RECIPE = {"reading": "bos", "layer": 6}  # chosen on dev (scripts/distil_static_embeddings.py checks it)


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


def _smollm2_prefix(prefix: np.ndarray):
    """SmolLM2's key-value cache after ``prefix`` (ids every row starts with), or ``None`` for no prefix: under the
    causal mask the prefix's states are the same in every row, so they are computed once."""
    if not len(prefix):
        return None
    model = models.load_smollm2()[1]
    base = getattr(model, "model", model)
    ids = torch.from_numpy(np.asarray(prefix, dtype=np.int64))[None]
    with torch.inference_mode():
        return base(input_ids=ids, attention_mask=torch.ones_like(ids), use_cache=True).cache


def _smollm2_forward(batch: torch.Tensor, position: int, layers, prefix=None) -> list[torch.Tensor]:
    """The states at ``position`` after each of ``layers`` of ``batch`` (rows that continue ``prefix``'s cache)."""
    from helpers.decoder import hidden_states, normed_layer

    model = models.load_smollm2()[1]
    if prefix is None:
        states = hidden_states(model, batch, torch.ones_like(batch), all_layers=True)  # float32: no fast path here
    else:
        past = copy.deepcopy(prefix)
        past.batch_repeat_interleave(len(batch))
        done = past.get_seq_length()
        mask = torch.ones(len(batch), done + batch.shape[1], dtype=torch.long)
        states = getattr(model, "model", model)(input_ids=batch, attention_mask=mask, cache=past,
                                                use_cache=True, output_hidden_states=True).hidden_states
        position -= done
    return [normed_layer(model, states, layer)[:, position] for layer in layers]


def reading_rows(tokenizer: Tokenizer, template: str, ids) -> tuple[np.ndarray, int, int]:
    """``(rows, first, last)``: each id put into ``template`` (one row per id, every ``{text}`` that id, the literal
    pieces tokenised as :func:`helpers.decoder.tokenize_with_span` does, a trailing space dropped), and the
    positions of the first copy (the columns before it are the same in every row) and of the last, the one read."""
    from helpers.decoder import TEXT, template_pieces

    ids = np.asarray(ids, dtype=np.int64)
    columns, slots = [], []
    for piece in template_pieces(template):
        if piece == TEXT:
            slots.append(sum(column.shape[1] for column in columns))
            columns.append(ids[:, None])
        else:
            literal = np.array(tokenizer.encode(piece.rstrip(" "), add_special_tokens=False).ids, dtype=np.int64)
            columns.append(np.tile(literal, (len(ids), 1)))
    return np.concatenate(columns, axis=1), slots[0], slots[-1]


def _check_reading(teacher: str, reading: str | None, layer: int | None) -> tuple[str | None, int | None]:
    if _check_teacher(teacher) == "minilm":
        if reading is not None or layer is not None:
            raise ValueError("MiniLM reads [CLS] token [SEP] at its last layer: leave reading and layer None.")
        return None, None
    reading = SMOLLM2_RECIPE["reading"] if reading is None else reading
    layer = SMOLLM2_RECIPE["layer"] if layer is None else layer
    if reading not in READINGS:
        raise ValueError(f"Unknown reading {reading!r}: choose one of {sorted(READINGS)}.")
    if not 0 <= layer <= 30:
        raise ValueError(f"SmolLM2 has layers 0 (embeddings) to 30, got {layer}.")
    return reading, layer


def teacher_states(teacher: str, ids, batch_size: int = BATCH_SIZE, progress: bool = True,
                   reading: str | None = None, layers=None) -> dict[int | None, np.ndarray]:
    """The teacher's vector of each token id (float32, one row per id), by layer: ``{None: states}`` for MiniLM
    (``[CLS] token [SEP]``, the mean of the three output states), ``{layer: states}`` for SmolLM2, the token put
    into the template ``READINGS[reading]`` and its state read at the last copy after each of ``layers`` (the
    final RMSNorm applied, :func:`helpers.decoder.normed_layer`), all from one forward pass."""
    ids = np.asarray(ids, dtype=np.int64)
    if _check_teacher(teacher) == "minilm":
        before, after = (np.array(side, dtype=np.int64) for side in wrapping(teacher_tokenizer(teacher)))
        rows = np.concatenate([np.tile(before, (len(ids), 1)), ids[:, None], np.tile(after, (len(ids), 1))], axis=1)
        layers = [None]
        forward = lambda batch: [_minilm_forward(batch)]  # noqa: E731
    else:
        reading, _ = _check_reading(teacher, reading, None)
        layers = list(SWEEP_LAYERS if layers is None else layers)
        rows, first, position = reading_rows(teacher_tokenizer(teacher), READINGS[reading], ids)
        prefix = _smollm2_prefix(rows[0, :first])  # the template's words before the token: read once
        rows = rows[:, first:]
        forward = lambda batch: _smollm2_forward(batch, position, layers, prefix)  # noqa: E731
    rows = torch.from_numpy(rows)
    chunks: list[list[np.ndarray]] = []
    with torch.inference_mode():
        for start in config.progress_bar(range(0, len(rows), batch_size), desc=f"Distilling {LABELS[teacher]}",
                                         disable=not progress, leave=False):
            chunks.append([out.float().cpu().numpy() for out in forward(rows[start : start + batch_size])])
    if not chunks:
        raise ValueError("No token ids to distil.")
    return {layer: np.concatenate([chunk[k] for chunk in chunks]) for k, layer in enumerate(layers)}


def weights_fingerprint(teacher: str) -> str:
    """sha256 of the teacher's files as its pip package ships them (MiniLM: weights and tokenizer; SmolLM2: the
    GGUF file, which holds both): about 0.1 s, and no model has to be loaded."""
    if _check_teacher(teacher) == "minilm":
        folder = models.minilm_path()
        return cache.file_sha256(folder / "model.safetensors") + cache.file_sha256(folder / "tokenizer.json")
    return cache.file_sha256(models.smollm2_gguf_path())


def _states_code() -> str:
    """The code that decides the teacher's states: editing it makes cached states and tables stale."""
    from helpers.decoder import hidden_states, normed_layer, template_pieces

    return cache.source_hash(teacher_tokenizer, plain_tokenizer, kept_token_ids, wrapping, teacher_states,
                             reading_rows, _check_reading, _minilm_forward, _smollm2_prefix, _smollm2_forward,
                             hidden_states, normed_layer, template_pieces)


def _states_path(teacher: str, reading: str | None, layer: int | None) -> Path:
    key = {"teacher": TEACHERS[teacher], "weights": weights_fingerprint(teacher), "code": _states_code(),
           "reading": None if reading is None else READINGS[reading], "layer": layer}
    return config.cache_dir() / "static" / f"{teacher}-states-{cache.key_digest(key)}.npy"


def token_states(teacher: str, reading: str | None = None, layer: int | None = None,
                 progress: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """``(ids, states)``: :func:`kept_token_ids` of the teacher's tokenizer and :func:`teacher_states` of each
    (SmolLM2: through ``reading`` at ``layer``, default :data:`SMOLLM2_RECIPE`'s), cached under
    ``<cache>/static/`` (keyed by the teacher's files, the reading, the layer and this code), so the teacher reads
    its vocabulary once."""
    reading, layer = _check_reading(teacher, reading, layer)
    ids = kept_token_ids(teacher_tokenizer(teacher))

    def compute() -> np.ndarray:
        layers = None if teacher == "minilm" else [layer]
        return teacher_states(teacher, ids, progress=progress, reading=reading, layers=layers)[layer]

    return ids, cache.cached(_states_path(teacher, reading, layer), compute, cache.save_array, cache.load_array)


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
                 sif_coefficient: float | None = RECIPE["sif_coefficient"], reading: str | None = None,
                 layer: int | None = None) -> dict:
    """What decides a distilled table: the recipe (teacher, SmolLM2's reading and layer, PCA, SIF), the teacher's
    files and the code."""
    reading, layer = _check_reading(teacher, reading, layer)
    recipe = {"teacher": TEACHERS[teacher], "pca_dims": pca_dims, "sif_coefficient": sif_coefficient}
    if teacher == "smollm2":
        recipe.update(reading=READINGS[reading], layer=layer)
    return {"recipe": recipe, "base": weights_fingerprint(teacher),
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
                    sif_coefficient: float | None = RECIPE["sif_coefficient"], reading: str | None = None,
                    layer: int | None = None, progress: bool = True) -> np.ndarray:
    """The teacher's distilled table: the committed artifact where there is one for this recipe (SmolLM2's,
    8-bit), else distilled here from :func:`token_states` and cached (float32) under ``<cache>/artifacts``."""
    reading, layer = _check_reading(teacher, reading, layer)
    name = ARTIFACTS.get(teacher, f"static_{teacher}")

    def distil() -> np.ndarray:
        ids, states = token_states(teacher, reading, layer, progress=progress)
        return distil_table(states, ids, teacher_tokenizer(teacher).get_vocab_size(), pca_dims, sif_coefficient)

    return artifacts.load_or_train(name, artifact_key(teacher, pca_dims, sif_coefficient, reading, layer), distil,
                                   save_table, load_table)


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
                       reading: str | None = None, layer: int | None = None, progress: bool = True) -> StaticEmbedder:
    """The static model distilled from ``teacher`` (``"minilm"`` or ``"smollm2"``) as an Embedder; ``pca_dims`` and
    ``sif_coefficient`` ``None`` switch a step off (the ablations of notebook 12); for SmolLM2, ``reading`` (a key
    of :data:`READINGS`) and ``layer`` default to :data:`SMOLLM2_RECIPE`, the committed table. The first call for
    MiniLM runs the teacher over its vocabulary (about half a minute on 2 cores); later calls read the cache."""
    reading, layer = _check_reading(teacher, reading, layer)
    table = distilled_table(teacher, pca_dims, sif_coefficient, reading, layer, progress=progress)
    changes = [label for label, off in (("no PCA", not pca_dims), ("no SIF", not sif_coefficient)) if off]
    if pca_dims and pca_dims != RECIPE["pca_dims"]:
        changes.append(f"PCA {pca_dims}")
    if teacher == "smollm2" and (reading, layer) != (SMOLLM2_RECIPE["reading"], SMOLLM2_RECIPE["layer"]):
        changes.append(f"{reading}, layer {layer}")
    name = f"{LABELS[teacher]} distilled to static" + (f" ({', '.join(changes)})" if changes else "")
    return StaticEmbedder(teacher_tokenizer(teacher), table, name, max_length=max_length)


def teacher_embedder(reading: str | None = None, layer: int | None = None):
    """The SmolLM2 embedder that reads a whole text the way ``reading`` reads a token, mean-pooling the text's
    (last copy's) states after ``layer`` (defaults: :data:`SMOLLM2_RECIPE`), on the course's fast path: what
    the static table is distilled from. ``"alone"`` is ``smollm2_embedder("mean")``, ``"echo"`` notebook 06's echo
    embedder."""
    from helpers.decoder import smollm2_embedder

    reading, layer = _check_reading("smollm2", reading, layer)
    at = None if layer == 30 else layer
    if reading == "echo":
        embedder = smollm2_embedder("mean", echo=True)
        embedder.layer = at  # EchoEmbedder reads the last layer unless told otherwise
    else:
        embedder = smollm2_embedder("mean", template=READINGS[reading], layer=at)
    embedder.name = f"SmolLM2 {reading} mean, layer {layer}"
    return embedder


def readings_key() -> dict:
    """What decides the readings sweep: the readings, layers and recipe, SmolLM2's files, the code (distillation
    and scoring) and the dev and test texts."""
    from helpers import data, evaluate

    return {"recipe": {"readings": READINGS, "layers": list(SWEEP_LAYERS), **RECIPE},
            "base": weights_fingerprint("smollm2"),
            "code": _states_code() + cache.source_hash(pca, sif_weights, distil_table, StaticEmbedder, _run_sweep,
                                                       sys.modules[evaluate.__name__]),
            "text": cache.texts_fingerprint(data.task_texts("dev") + data.task_texts("test"))}


def sweep_label(reading: str, layer: int) -> str:
    return f"SmolLM2 static, {reading}, layer {layer}"


def _run_sweep(progress: bool = True) -> dict:
    from helpers import evaluate

    start = time.perf_counter()
    tokenizer = teacher_tokenizer("smollm2")
    ids = kept_token_ids(tokenizer)
    dev, tables = {}, {}
    for reading in READINGS:  # one forward pass a reading gives every layer
        states = teacher_states("smollm2", ids, progress=progress, reading=reading, layers=SWEEP_LAYERS)
        if reading == SMOLLM2_RECIPE["reading"] and SMOLLM2_RECIPE["layer"] in states:  # spare the table a pass
            cache.save_array(_states_path("smollm2", reading, SMOLLM2_RECIPE["layer"]), states[SMOLLM2_RECIPE["layer"]])
        for layer in SWEEP_LAYERS:
            tables[reading, layer] = distil_table(states[layer], ids, tokenizer.get_vocab_size(), **RECIPE)
            embedder = StaticEmbedder(tokenizer, tables[reading, layer], sweep_label(reading, layer))
            dev[reading, layer] = evaluate.mini_mteb(embedder, split="dev")["score"]
        del states
    dev = pd.DataFrame(dev).T.rename_axis(["reading", "layer"])
    test = {}
    for reading in READINGS:
        best = int(dev.loc[reading, "average"].idxmax())
        for layer in dict.fromkeys([SWEEP_LAYERS[-1], best]):
            embedder = StaticEmbedder(tokenizer, tables[reading, layer], sweep_label(reading, layer))
            test[sweep_label(reading, layer)] = evaluate.mini_mteb(embedder, split="test")
    return {"dev": dev, "test": test, "seconds": round(time.perf_counter() - start, 1)}


def save_sweep(target: Path, sweep: dict) -> None:
    index = {"dev": [{"reading": reading, "layer": int(layer), **row.round(6).to_dict()}
                     for (reading, layer), row in sweep["dev"].iterrows()], "test": {}, "seconds": sweep["seconds"]}
    for number, (name, frame) in enumerate(sweep["test"].items()):
        draws = frame.attrs["replicates"]
        cache.save_array(target / f"test-{number}.npy", np.stack([draws[task] for task in frame.index]))
        index["test"][name] = {"file": f"test-{number}.npy",
                               "rows": frame[["type", "metric", "score", "ci_low", "ci_high"]].to_dict(orient="index")}
    cache.save_json(target / "sweep.json", index)


def load_sweep(target: Path) -> dict:
    stored = cache.load_json(target / "sweep.json")
    dev = pd.DataFrame(stored["dev"]).set_index(["reading", "layer"])
    test = {}
    for name, entry in stored["test"].items():
        frame = pd.DataFrame.from_dict(entry["rows"], orient="index").rename_axis("task")
        draws = cache.load_array(target / entry["file"])
        frame.attrs.update(model=name, split="test", replicates=dict(zip(frame.index, draws, strict=True)))
        test[name] = frame
    return {"dev": dev, "test": test, "seconds": stored["seconds"]}


def reading_sweep(progress: bool = True) -> dict:
    """How SmolLM2 should read a token, measured (notebook 12): every reading of :data:`READINGS` at every layer of
    :data:`SWEEP_LAYERS`, distilled with :data:`RECIPE` in float32. ``{"dev": DataFrame}`` of dev scores (rows
    ``(reading, layer)``, a column per task and ``average``) and ``{"test": {label: mini_mteb frame}}``, with
    bootstrap values, of each reading at the last layer and at its best dev layer (:func:`sweep_label`). The
    committed ``data/artifacts/static_smollm2_readings`` when it matches today's :func:`readings_key`, else run
    here (three passes of SmolLM2 over its vocabulary and 24 scorings: 40 minutes on 2 shared cores)."""
    return artifacts.load_or_train(READINGS_ARTIFACT, readings_key(), lambda: _run_sweep(progress), save_sweep,
                                   load_sweep)


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
