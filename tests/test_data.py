import io
import pickle
import re

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
    for split, size in (("test", 150), ("dev", 80)):
        task = data.inverse_cloze_task(split)
        assert len(task.queries) == len(task.corpus) == size and task.relevant == list(range(size))
        for query, document in zip(task.queries, task.corpus, strict=True):
            assert query not in document and len(query.split()) >= 6 and len(document.split()) <= data.CLOZE_WORDS
        assert data.inverse_cloze_task.__wrapped__(split) == task  # same passages and queries on a fresh build


def test_news_articles_lose_their_datelines_and_repeats():
    articles = data.load_news_articles()
    assert set(articles["outlet"]) == set(data.NEWS_OUTLETS.values())
    assert not articles["text"].str.contains("/TASS/").any()
    assert not articles["lead"].duplicated().any()
    assert articles["lead"].str.split().str.len().max() <= 40


def test_news_tasks_use_disjoint_articles_and_the_rest_is_training_text():
    roles = data.news_roles()
    used = [k for indices in roles.values() for k in indices]
    assert len(used) == len(set(used))
    sizes = {name: len(indices) for name, indices in roles.items()}
    assert sizes == {"outlet/train": 9 * 24, "outlet/dev": 9 * 16, "outlet/test": 9 * 40, "region/dev": 5 * 20,
                     "region/test": 5 * 50, "headline/dev": 100, "headline/test": 200, "cloze/dev": 80,
                     "cloze/test": 150}
    training = set(data.training_news()["lead"])
    assert not training & set(data.load_news_articles().loc[used, "lead"])


def test_health_tweets_are_cleaned_of_what_names_the_account():
    tweets = data.load_health_tweets()
    assert tweets["label"].nunique() == 16
    assert not tweets["text"].str.contains(r"http|@\w|RT @|&amp;").any()
    task = data.health_tweet_classification("test")
    assert len(task.test_texts) == 16 * 30 and len(task.train_texts) == 16 * 16
    clusters = data.health_tweet_clustering("test")
    assert not set(clusters.texts) & set(task.test_texts + task.train_texts)


def test_dictionary_definitions_never_name_their_word():
    task = data.dictionary_retrieval("test")
    assert len(task.queries) == 250 and len(set(task.corpus)) == 250
    for definition, word in zip(task.queries, task.corpus, strict=True):
        assert not re.search(rf"\b{re.escape(word[:5])}", definition.lower())


def test_splits_have_the_documented_sizes_and_bad_names_fail_clearly():
    assert len(data.lee_sts("test").documents) == 42 and len(data.lee_sts("dev").documents) == 8
    assert len(data.simlex_sts("test")) == 699 and len(data.simlex_sts("dev")) == 300
    with pytest.raises(ValueError, match="'dev'.*'test'"):
        data.lee_sts("validation")


def test_evaluation_texts_cover_both_splits_and_training_text_avoids_them():
    texts = data.evaluation_texts()
    assert set(data.task_texts("dev")) <= texts and set(data.task_texts("test")) <= texts
    assert not any(data.shares_evaluation_text(document) for document in data.training_background())
    assert data.shares_evaluation_text("An unrelated opening. " + data.inverse_cloze_task("dev").queries[0])


def test_online_loaders_refuse_offline(monkeypatch):
    monkeypatch.delenv("COURSE_ONLINE", raising=False)
    for loader in (data.load_online_stsb, data.load_online_beir, data.load_online_classification):
        with pytest.raises(OfflineError, match="COURSE_ONLINE=1"):
            loader()
