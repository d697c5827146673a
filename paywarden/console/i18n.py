"""The console's languages: gettext catalogs (Babel), English and Russian.

Python code marks a string it hands to a template with `N_` (kept as written, found by the
extractor); the template translates it with `_()` in the request's language."""

from __future__ import annotations


def N_(message: str) -> str:  # gettext's name for "mark, translate later"
    return message
