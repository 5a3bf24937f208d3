# Copyright (c) 2026, scimkit.atlassian contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Error bodies are cut before any parsing; the markup stripping is linear."""

from __future__ import annotations

import re

from ansible_collections.scimkit.atlassian.plugins.module_utils import _errors
from ansible_collections.scimkit.atlassian.plugins.module_utils._errors import MAX_EXCERPT_SOURCE, summarize_body


class RecordingPattern:
    """Wraps a compiled pattern and records the length of every text it is run on."""

    def __init__(self, pattern):
        self.pattern = pattern
        self.lengths = []

    def sub(self, replacement, text):
        self.lengths.append(len(text))
        return self.pattern.sub(replacement, text)


def test_a_huge_error_body_is_cut_before_the_markup_is_stripped(monkeypatch):
    tag, space = RecordingPattern(_errors._TAG), RecordingPattern(_errors._SPACE)
    monkeypatch.setattr(_errors, "_TAG", tag)
    monkeypatch.setattr(_errors, "_SPACE", space)
    described = summarize_body("<" * 160_000, "text/html")
    assert described == "a non-JSON body (text/html): '" + "<" * 160 + "...'"
    assert tag.lengths and max(tag.lengths + space.lengths) <= MAX_EXCERPT_SOURCE


def test_a_tag_match_never_spans_another_opening_bracket():
    """Each match attempt stops at the next '<': the scan of '<<<<...' cannot restart from every position."""
    assert _errors._TAG.findall("<<a><b>") == ["<a>", "<b>"]
    assert not re.search(r"\[\^>\]", _errors._TAG.pattern)


def test_the_excerpt_of_an_error_page_is_unchanged():
    page = "<html><head><title>502 Bad Gateway</title></head><body><h1>502 Bad Gateway</h1></body></html>"
    assert summarize_body(page, "text/html; charset=utf-8") == "a non-JSON body (text/html): '502 Bad Gateway 502 Bad Gateway'"
