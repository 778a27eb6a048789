"""Echo embeddings (Springer et al. 2024): read the text twice, pool only the second copy (notebook 06).

Under a causal mask, token i of a text never sees the tokens after it, so a mean over the text's tokens
mixes states that saw only a prefix. Writing the text twice lets every token of the second copy attend to
the whole first copy. The reader itself is one of the decoder embedders, in :mod:`helpers.decoder` beside
PromptEOL: :data:`helpers.decoder.ECHO_TEMPLATES` holds the paper's zero-shot template and the ablations, and
:class:`helpers.decoder.EchoEmbedder` reads a text through one of them (:func:`helpers.decoder.tokenize_with_span`
builds the token ids and the *span mask*, 1 on the pooled copy only); ``smollm2_embedder(echo=True)`` builds it.
This module holds what notebook 06 measures it with.

:func:`shared_prefix_triples` is this course's own small controlled test (hand-written sentences): in each
triple the negative shares the query's first half word for word and differs in meaning later, the positive
paraphrases the first half and keeps the meaning.
"""

from __future__ import annotations

import numpy as np

# The controlled test: (first half, its paraphrase, the ending, a different ending). Written for this course.
_HALVES = [
    ("After the long meeting on Friday,", "When Friday's lengthy meeting ended,",
     "the manager approved the new budget.", "the manager rejected the new budget."),
    ("Because the roads were icy this morning,", "Since the streets were frozen early today,",
     "the school stayed closed.", "the school opened as usual."),
    ("My grandmother, who lives by the sea,", "My grandma, whose house is on the coast,",
     "loves swimming every day.", "is terrified of the water."),
    ("During the final minutes of the game,", "In the closing moments of the match,",
     "the home team scored the winning goal.", "the home team lost the lead and the game."),
    ("When the doctor read the test results,", "As the physician looked at the lab report,",
     "she told him he was perfectly healthy.", "she told him he needed surgery at once."),
    ("Although the restaurant looked expensive,", "Even though the restaurant seemed pricey,",
     "the meal was cheap and delicious.", "the food was awful and overpriced."),
    ("On the first day of the trip,", "At the start of the journey,",
     "we lost our passports at the airport.", "we found a wonderful hotel by the beach."),
    ("The old bridge across the river", "The ancient bridge over the river",
     "collapsed during the storm last night.", "was repainted for the town festival."),
    ("After months of negotiation with the union,", "Following long talks with the union,",
     "the company agreed to raise wages.", "the company announced it would close the factory."),
    ("When the little boy opened the box,", "As the young child unwrapped the package,",
     "he found a puppy inside.", "he found it completely empty."),
    ("In the latest quarterly report,", "According to the newest quarterly figures,",
     "profits rose sharply.", "the firm recorded heavy losses."),
    ("Every morning before work,", "Each day before going to the office,",
     "she runs five kilometres in the park.", "she sleeps in as long as she can."),
    ("Once the election results were announced,", "As soon as the vote count was published,",
     "the president conceded defeat.", "the president celebrated a landslide victory."),
    ("Because the flight was delayed by fog,", "Since fog held up the plane,",
     "we missed our connection in Paris.", "we had time for a relaxed dinner."),
    ("The scientists studying the glacier", "The researchers who monitor the ice sheet",
     "found that it is melting faster than expected.", "found that it has grown for the first time."),
    ("At the end of the concert,", "When the concert was over,",
     "the audience gave a standing ovation.", "the audience left in silence, disappointed."),
    ("After reading the contract carefully,", "Having studied the agreement in detail,",
     "the lawyer advised her client to sign.", "the lawyer told her client to walk away."),
    ("When the storm reached the coast,", "As the hurricane hit the shore,",
     "thousands of homes lost power.", "it had weakened into a light rain."),
    ("In his first speech to parliament,", "In his opening address to the legislature,",
     "the minister promised lower taxes.", "the minister announced a large tax increase."),
    ("The new phone, released last week,", "The latest handset, launched a few days ago,",
     "has sold out in every store.", "has been recalled for overheating batteries."),
    ("After the heavy rain in the valley,", "Following the downpour across the valley,",
     "the river burst its banks and flooded the town.", "the farmers were pleased with their crops."),
    ("When the teacher handed back the exams,", "As the instructor returned the tests,",
     "most students had passed easily.", "almost the whole class had failed."),
    ("Late on Saturday night,", "In the late hours of Saturday,",
     "the police arrested two suspects.", "the police released the two suspects."),
    ("Since the company moved its headquarters,", "Ever since the firm relocated its main office,",
     "staff morale has improved.", "many employees have quit."),
    ("At the annual village fair,", "At the yearly town fete,",
     "my cake won first prize.", "my cake was the only one nobody ate."),
    ("Despite the warnings from experts,", "In spite of what the specialists cautioned,",
     "the dam held firm through the flood.", "the dam gave way and the valley flooded."),
    ("After testing the vaccine on volunteers,", "Having trialled the vaccine on volunteers,",
     "researchers reported strong protection.", "researchers reported that it did not work."),
    ("When the museum reopened in spring,", "As the gallery opened its doors again in spring,",
     "visitors queued for hours to get in.", "hardly anyone came to see it."),
    ("The cat that lives next door", "Our neighbours' cat",
     "sleeps on our sofa every afternoon.", "hisses at us whenever we walk by."),
    ("By the time the firefighters arrived,", "When the fire crew got there,",
     "the blaze had already been put out.", "the whole building was in flames."),
    ("In a surprising move on Monday,", "Unexpectedly, on Monday,",
     "the central bank cut interest rates.", "the central bank raised interest rates."),
    ("After ten years of marriage,", "Following a decade as husband and wife,",
     "they renewed their vows in Rome.", "they filed for divorce."),
]


def shared_prefix_triples() -> list[tuple[str, str, str]]:
    """(query, positive, negative) triples: query = A + B, positive = A' + B (A' paraphrases A),
    negative = A + C (the same first half word for word, a different meaning)."""
    return [(f"{a} {b}", f"{a2} {b}", f"{a} {c}") for a, a2, b, c in _HALVES]


def triple_hits(embedder, triples: list[tuple[str, str, str]]) -> np.ndarray:
    """1 where the query is closer (cosine) to its positive than to its negative, per triple."""
    texts = sorted({text for triple in triples for text in triple})
    vectors = dict(zip(texts, embedder.encode(texts), strict=True))
    return np.array([float(vectors[q] @ vectors[p] > vectors[q] @ vectors[n]) for q, p, n in triples])


def bootstrap_ci(values: np.ndarray, n_resamples: int = 2000, level: float = 0.95, seed: int = 42):
    """Mean of ``values`` and its percentile bootstrap confidence interval (resampling the items)."""
    values = np.asarray(values, dtype=float)
    if values.ndim != 1 or len(values) < 2:
        raise ValueError("bootstrap_ci needs a 1-D array of at least two per-item values.")
    rng = np.random.default_rng(seed)
    means = values[rng.integers(0, len(values), size=(n_resamples, len(values)))].mean(axis=1)
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(means, [tail, 100 - tail])
    return float(values.mean()), float(low), float(high)
