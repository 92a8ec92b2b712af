"""The examples in the package's docstrings run (doctest)."""

from __future__ import annotations

import doctest

import pytest

import itsclassified
import itsclassified.revocation


@pytest.mark.parametrize("module", [itsclassified, itsclassified.revocation], ids=lambda m: m.__name__)
def test_docstring_examples_run(module):
    result = doctest.testmod(module, verbose=False)
    assert result.attempted > 0 and result.failed == 0
