import io
import pickle

import numpy as np
import pytest

from helpers import data
from helpers.models import OfflineError


def test_word_similarity_sets():
    wordsim, simlex = data.load_wordsim353(), data.load_simlex999()
    assert len(wordsim) == 353 and len(simlex) == 999
    assert list(wordsim.columns) == ["word1", "word2", "score"]
    assert wordsim["score"].between(0, 10).all() and simlex["score"].between(0, 10).all()


def test_google_analogies():
    analogies = data.load_google_analogies()
    assert len(analogies) == 19544 and analogies["section"].nunique() == 14
    assert tuple(analogies.iloc[0][["a", "b", "c", "d"]]) == ("athens", "greece", "baghdad", "iraq")


def test_lee_corpus():
    lee = data.load_lee()
    assert len(lee.documents) == 50 and all(lee.documents)
    assert np.allclose(lee.similarity, lee.similarity.T) and np.allclose(np.diag(lee.similarity), 1)
    i, j, gold = lee.pairs()
    assert len(gold) == 50 * 49 // 2 and (i < j).all()
    assert len(data.load_lee_background()) == 300


def test_sentiment_sample_is_balanced():
    frame = data.load_sentiment()
    assert len(frame) == 200 and frame["label"].sum() == 100
    assert not frame["text"].str.startswith("__label__").any()


def test_newsgroups_hide_their_label():
    frame = data.load_newsgroups()
    assert len(frame) == 200 and frame["label"].value_counts().to_dict() == {"alt.atheism": 100, "sci.space": 100}
    assert not frame["text"].str.contains("Newsgroups:|Path:|From:").any()
    short = data.load_newsgroups(max_words=10)
    assert (short["text"].str.split().str.len() <= 10 + 30).all()  # 10 body words + a subject line


@pytest.mark.parametrize("payload", [pickle.dumps(print), b"cos\nsystem\n(S'echo hi'\ntR."])
def test_the_newsgroup_unpickler_refuses_every_other_class(payload):
    with pytest.raises(pickle.UnpicklingError, match="Refusing"):
        data._BunchAsDict(io.BytesIO(payload)).load()


def test_sentence_splitter():
    assert data.split_sentences('He left. "Why?" she asked. The U.S. team won 3.5 points.') == [
        "He left.", '"Why?" she asked.', "The U.S. team won 3.5 points."]


def test_inverse_cloze_task_is_deterministic_and_well_formed():
    task = data.inverse_cloze_task()
    assert len(task.queries) == len(task.corpus) == 120 and task.relevant == list(range(120))
    for query, document in zip(task.queries, task.corpus, strict=True):
        assert query not in document and len(query.split()) >= 6
    assert data.inverse_cloze_task.__wrapped__() == task  # same passages and queries on a fresh build


def test_online_loaders_refuse_offline(monkeypatch):
    monkeypatch.delenv("COURSE_ONLINE", raising=False)
    for loader in (data.load_online_stsb, data.load_online_beir, data.load_online_classification):
        with pytest.raises(OfflineError, match="COURSE_ONLINE=1"):
            loader()
