"""Generated sections of hand-written Markdown files, between ``<!-- name:start -->`` / ``<!-- name:end -->`` lines."""

from __future__ import annotations

import re


def replace_section(text: str, start: str, end: str, section: str) -> str:
    """``text`` with the part from ``start`` to ``end`` (markers included) replaced by ``section``, which
    carries the markers itself; appended when ``text`` has no such part. Everything else is kept as is."""
    pattern = re.compile(re.escape(start) + ".*?" + re.escape(end), re.S)
    if pattern.search(text):
        return pattern.sub(lambda _: section, text)
    return text.rstrip() + "\n\n" + section + "\n"
