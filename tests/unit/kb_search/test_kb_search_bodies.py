"""Article bodies in the replica's scratch file: written once, read back by entry, holes reused and
compacted away, the file without a name in the folder it is given, gone with the process."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from kb_search.bootstrap import build_index, load_settings
from kb_search.domain.article import Article
from kb_search.search import bodies
from kb_search.search.analysis import Analyzer
from kb_search.search.bodies import BodyFile
from kb_search.search.index import SearchIndex
from tests.unit.kb_search.conftest import ARTICLES

pytestmark = pytest.mark.unit


def test_a_body_is_read_back_as_it_was_put(tmp_path: Path) -> None:
    file = BodyFile(tmp_path)
    texts = ["", "короткий", "**Markdown** with ünïcödé ✓\n" * 500, "x"]
    entries = [file.put(text) for text in texts]
    assert [file.get(e) for e in entries] == texts
    assert len(file) == 4


def test_the_file_has_no_name_in_its_folder(tmp_path: Path) -> None:
    folder = tmp_path / "made-on-first-body"
    file = BodyFile(folder)
    assert not folder.exists()
    file.put("some body")
    assert folder.is_dir() and list(folder.iterdir()) == []


def test_a_dropped_entry_is_given_to_the_next_body_and_the_old_one_cannot_be_read(tmp_path: Path) -> None:
    file = BodyFile(tmp_path)
    first, second = file.put("first"), file.put("second")
    file.drop(first)
    with pytest.raises(LookupError):
        file.get(first)
    assert file.put("third") == first
    assert file.get(first) == "third" and file.get(second) == "second"


def test_the_file_is_rewritten_without_its_holes_once_they_outgrow_the_live_bodies(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bodies, "COMPACT_AFTER", 1_000)
    file = BodyFile(tmp_path)
    live = {file.put(f"kept {i} " + os.urandom(50).hex()): i for i in range(20)}
    for round_ in range(30):  # an article edited again and again
        entry = file.put(f"draft {round_} " + os.urandom(50).hex())
        file.drop(entry)
    assert file.size < 2 * sum(len(file.get(e)) for e in live) + 1_000
    assert {e: int(file.get(e).split()[1]) for e in live} == live


def test_a_replaced_or_retired_article_gives_its_place_back_and_the_others_keep_their_bodies(
    make_index: Callable[..., SearchIndex],
) -> None:
    index = make_index()
    articles = {raw["id"]: Article.from_mapping(raw) for raw in ARTICLES}
    count = len(index.bodies)
    updated = Article.from_mapping({**ARTICLES[0], "body": "A new body for the first article."})
    index.upsert(updated, version=2)
    assert len(index.bodies) == count
    index.remove(ARTICLES[1]["id"])
    assert len(index.bodies) == count - 1
    articles[updated.id] = updated
    del articles[ARTICLES[1]["id"]]
    for article_id, article in articles.items():
        doc = index.get(article_id)
        assert doc is not None and doc.article == article


def test_an_index_built_again_from_the_same_articles_gives_the_same_bodies(
    make_index: Callable[..., SearchIndex],
) -> None:
    first, again = make_index(), make_index()
    assert first.bodies is not again.bodies
    for raw in ARTICLES:
        one, other = first.get(raw["id"]), again.get(raw["id"])
        assert one is not None and other is not None and one.body == other.body == raw["body"]


def test_the_file_is_gone_when_the_process_ends_however_it_ends(tmp_path: Path) -> None:
    code = (
        "import os, signal, sys; from pathlib import Path; from kb_search.search.bodies import BodyFile; "
        "f = BodyFile(Path(sys.argv[1])); f.put('a body'); "
        "print(os.readlink(f'/proc/self/fd/{f._file.fileno()}'), flush=True); "
        "os.kill(os.getpid(), signal.SIGKILL)"
    )
    done = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True)
    assert done.returncode == -9
    assert done.stdout.strip().startswith(str(tmp_path)) and done.stdout.strip().endswith("(deleted)")
    assert list(tmp_path.iterdir()) == []


def test_the_service_keeps_its_bodies_in_the_folder_its_settings_name(
    tmp_path: Path, analyzer: Analyzer
) -> None:
    index = build_index(load_settings(bodies_dir=tmp_path / "bodies"), analyzer)
    index.upsert(Article.from_mapping(ARTICLES[0]), version=1)
    assert index.bodies.directory == tmp_path / "bodies"
    assert (tmp_path / "bodies").is_dir()
    doc = index.get(ARTICLES[0]["id"])
    assert doc is not None and doc.body == ARTICLES[0]["body"]
