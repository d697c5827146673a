"""The Jinja2 environment every server-rendered page uses (console, client app, checkout, the
devnet's explorer): templates from a package's folder, escaped, strict about missing values."""

from __future__ import annotations

from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined


def page_templates(folder: Path, *, i18n: bool = False) -> Environment:
    """`i18n` adds gettext to the templates: `{{ _("…") }}`, `{% trans %}…{% endtrans %}`."""
    return Environment(
        loader=FileSystemLoader(folder),
        autoescape=True,
        undefined=StrictUndefined,  # a misspelt name fails the page, never renders empty
        trim_blocks=True,
        lstrip_blocks=True,
        extensions=["jinja2.ext.i18n"] if i18n else [],
    )
