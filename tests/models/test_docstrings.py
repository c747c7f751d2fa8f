"""Every preset's class docstring documents its constructor, numpydoc style: a ``Parameters`` section naming
every parameter of ``__init__`` in signature order, each with a description, and an ``Attributes`` section
(what ``help(featvec.MatrixFactorization)`` shows). No fitting."""
from __future__ import annotations

import inspect
import re

import pytest

import featvec

PRESETS = [featvec.MatrixFactorization, featvec.DeepRecommender, featvec.ImplicitRecommender, featvec.Feat2Vec,
           featvec.TabularModel, featvec.UserModel]
ENTRY = re.compile(r"^(\w+) : \S")  # "name : type, default X" at the section's indentation


def _sections(doc: str) -> dict[str, list[str]]:
    """Section title -> its lines (without the title and its underline), for a cleaned docstring."""
    lines = doc.splitlines()
    starts = [i for i in range(len(lines) - 1)
              if lines[i].strip() and re.fullmatch(r"-{3,}", lines[i + 1].strip())
              and len(lines[i + 1].strip()) == len(lines[i].strip())]
    out = {}
    for k, i in enumerate(starts):
        end = starts[k + 1] if k + 1 < len(starts) else len(lines)
        out[lines[i].strip()] = lines[i + 2:end]
    return out


def _parameters(doc: str) -> dict[str, str]:
    """Documented name -> its description (the indented lines under the entry, joined)."""
    lines = _sections(doc)["Parameters"]
    indent = min(len(ln) - len(ln.lstrip()) for ln in lines if ln.strip())
    out: dict[str, list[str]] = {}
    current = None
    for ln in lines:
        if not ln.strip():
            continue
        depth = len(ln) - len(ln.lstrip())
        m = ENTRY.match(ln[indent:]) if depth == indent else None
        if m:
            assert m.group(1) not in out, f"{m.group(1)} documented twice"
            current = m.group(1)
            out[current] = []
        else:
            assert current is not None and depth > indent, f"stray line in Parameters: {ln!r}"
            out[current].append(ln.strip())
    return {k: " ".join(v) for k, v in out.items()}


def _signature_names(cls) -> list[str]:
    return [p for p in inspect.signature(cls.__init__).parameters if p != "self"]


@pytest.mark.parametrize("cls", PRESETS, ids=lambda c: c.__name__)
def test_parameters_section_documents_the_constructor_in_order(cls):
    documented = _parameters(inspect.getdoc(cls))
    assert list(documented) == _signature_names(cls)
    empty = [k for k, v in documented.items() if not v]
    assert empty == []


@pytest.mark.parametrize("cls", PRESETS, ids=lambda c: c.__name__)
def test_attributes_section_lists_fitted_attributes(cls):
    sections = _sections(inspect.getdoc(cls))
    assert "Attributes" in sections
    names = [m.group(1) for ln in sections["Attributes"] if (m := re.match(r"^(\w+_)[ ,]", ln))]
    assert "history_" in names and "net_" in names


@pytest.mark.parametrize("cls", PRESETS, ids=lambda c: c.__name__)
def test_docstring_lines_fit_the_line_length(cls):
    """At most 120 characters as written in the source (the raw docstring keeps the source's indentation; its
    first line follows the 4-space indent and the opening quotes)."""
    lines = cls.__doc__.splitlines()
    widths = [len(ln) + (7 if i == 0 else 0) for i, ln in enumerate(lines)]
    assert [ln for ln, w in zip(lines, widths) if w > 120] == []


def test_the_parser_reads_a_numpydoc_parameters_section():
    doc = inspect.cleandoc("""Summary.

    Parameters
    ----------
    a : int, default 1
        First.
    b : str
        Second, on
        two lines.

    Attributes
    ----------
    x_ : float
        Fitted.
    """)
    assert _parameters(doc) == {"a": "First.", "b": "Second, on two lines."}
    assert list(_sections(doc)) == ["Parameters", "Attributes"]
