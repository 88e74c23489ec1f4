"""labkit.tutorial: solutions keyed by notebook and cell, applied to a copy; no lab needed."""

from __future__ import annotations

import nbformat
import pytest

from labkit import exercises
from labkit.exercises import Check
from labkit.tutorial import SOLUTIONS, details, solved
from labkit.tutorial.solutions import CHECK_TAG, EXERCISE_TAG


def _nb(*cells: nbformat.NotebookNode) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.cells = list(cells)
    return nb


def _cell(cid: str, source: str, tags: list[str] | None = None) -> nbformat.NotebookNode:
    c = nbformat.v4.new_code_cell(source)
    c["id"] = cid
    if tags:
        c.metadata["tags"] = tags
    return c


def test_solved_fills_in_the_exercise_and_leaves_the_original_alone() -> None:
    nb = _nb(
        _cell("c13", "c3 = ...", [EXERCISE_TAG]),
        _cell("c14", "check_c3()", [CHECK_TAG]),
    )
    out = solved(nb, "00-start-here")
    assert out.cells[0].source == SOLUTIONS["00-start-here"]["c13"]
    assert out.cells[1].source == "check_c3()"
    assert nb.cells[0].source == "c3 = ..."


def test_an_exercise_without_a_solution_is_an_error() -> None:
    nb = _nb(_cell("new", "x = ...", [EXERCISE_TAG]))
    with pytest.raises(KeyError, match="new"):
        solved(nb, "00-start-here")


def test_details_is_a_collapsed_block_with_the_code() -> None:
    text = details("x = 1", "Show a solution", "Why: because.")
    assert text.startswith("<details><summary>Show a solution</summary>")
    assert "Why: because.\n\n```python\nx = 1\n```" in text and text.endswith("</details>")


def test_a_check_names_the_fault_only_once_it_passes() -> None:
    facts = (("traffic", "c1 → 203.0.113.10: 0/1 answered"), ("host net.ipv4.ip_forward", "0"))
    title = "forwarding is off"
    broken = Check("forwarding", False, "c1 still cannot reach it", "look", facts, title)
    fixed = Check("forwarding", True, "c1 reaches it again", "", facts, title)
    assert "forwarding is off" not in str(broken) + broken._repr_html_()
    assert "ip_forward" not in str(broken) + broken._repr_html_()
    assert str(broken).startswith("✘ not yet: ")
    assert str(fixed).startswith("✔ fixed (forwarding is off): ")
    assert "ip_forward" in str(fixed)


def test_faults_are_numbered_in_order() -> None:
    assert [exercises.fault(n) for n in range(1, 6)] == list(exercises.EXERCISES.values())
    with pytest.raises(KeyError, match="1 to 5"):
        exercises.fault(6)


def test_check_sentences_are_translated_whole_with_their_values() -> None:
    from labkit.i18n import tr_message
    from labkit.tools.notebook import verdict

    sentence = "c1 still cannot reach 203.0.113.10"
    assert tr_message(sentence, "ja") == "c1 はまだ 203.0.113.10 に届きません"
    assert tr_message(sentence, "en") == sentence
    # a sentence without a template stays as written, rather than half translated
    assert tr_message("c1 reaches nothing at all", "ja") == "c1 reaches nothing at all"
    from labkit import i18n

    with i18n.using("ja"):
        v = verdict(False, "", "replace the ... above, run that cell, then this check")
    assert v.message.startswith("✘ まだです — ヒント: 上の ... を置き換えて")
    with i18n.using("en"):
        assert verdict(True, "right for x", "").message == "✔ right for x"
