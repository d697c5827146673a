"""The console's languages: gettext catalogs (Babel), English and Russian.

Python code marks a string it hands to a template with `N_` (kept as written, found by the
extractor); the template translates it with `{{ notice | t }}` (or `_()` for a constant) in the
request's language. A string Python formats itself is translated there with `_()`:
`_("Remove %(email)s?", email=o.email)` (the template shows it escaped, as data).

The language is a context variable the console's route class sets for each request (the
operator's saved choice, else the `console_lang` cookie, else `Accept-Language`, else English),
so concurrent requests never share it. The catalogs: `paywarden/console/locale/messages.pot`
and `locale/<lang>/LC_MESSAGES/messages.po`, extracted and updated by `make i18n`
(`python -m paywarden.console.i18n update`); the `.mo` files are compiled from the `.po` at
install and at start when missing or older.
"""

from __future__ import annotations

import gettext as _gettext
import io
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar, Token
from datetime import date, datetime
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

LANGUAGES = ("en", "ru")
DEFAULT_LANGUAGE = "en"
LANGUAGE_NAMES = {"en": "English", "ru": "Русский"}
LANGUAGE_COOKIE = "console_lang"
DOMAIN = "messages"

CONSOLE_DIR = Path(__file__).parent
# One set of catalogs for the user interfaces: the console, the clients' app and the bot.
SOURCE_DIRS = (CONSOLE_DIR, CONSOLE_DIR.parent / "clientapp", CONSOLE_DIR.parent / "bot")
LOCALE_DIR = CONSOLE_DIR / "locale"
POT_FILE = LOCALE_DIR / f"{DOMAIN}.pot"

# Babel's extraction: Python with these keywords, the console's Jinja2 templates.
KEYWORDS = {"_": None, "N_": None, "gettext": None, "ngettext": (1, 2), "pgettext": ((1, "c"), 2)}
METHOD_MAP = [
    ("**.py", "python"),
    ("**/templates/**.html", "jinja2"),
]
TEMPLATE_OPTIONS = {"extensions": "jinja2.ext.i18n", "trim_blocks": "true", "lstrip_blocks": "true"}

_language: ContextVar[str] = ContextVar("console_language", default=DEFAULT_LANGUAGE)


def N_(message: str) -> str:  # gettext's name for "mark, translate later"
    return message


# The request's language


def pick_language(*choices: str | None, accept: str | None = None) -> str:
    """The first supported language of `choices` (e.g. the saved choice, the cookie), else the
    best `Accept-Language` match of en/ru, else English."""
    for choice in choices:
        if choice in LANGUAGES:
            return choice
    return best_accept(accept or "") or DEFAULT_LANGUAGE


def best_accept(header: str) -> str | None:
    """The best of LANGUAGES by an `Accept-Language` header (`ru-RU,ru;q=0.9,en;q=0.8`)."""
    best: tuple[float, int] | None = None
    chosen: str | None = None
    for index, part in enumerate(header.split(",")):
        tag, _sep, params = part.strip().partition(";")
        primary = tag.strip().lower().split("-", 1)[0]
        q = 1.0
        for param in params.split(";"):
            key, _eq, value = param.strip().partition("=")
            if key == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        if q <= 0:
            continue
        if primary == "*":
            primary = DEFAULT_LANGUAGE
        if primary in LANGUAGES and (best is None or (q, -index) > best):
            best, chosen = (q, -index), primary
    return chosen


def current_language() -> str:
    return _language.get()


def activate(language: str) -> Token[str]:
    """Make `language` the current one (for this request's context); `deactivate(token)` undoes."""
    return _language.set(language if language in LANGUAGES else DEFAULT_LANGUAGE)


def deactivate(token: Token[str]) -> None:
    _language.reset(token)


@contextmanager
def language(lang: str) -> Iterator[None]:
    token = activate(lang)
    try:
        yield
    finally:
        deactivate(token)


# Catalogs


def po_path(lang: str) -> Path:
    return LOCALE_DIR / lang / "LC_MESSAGES" / f"{DOMAIN}.po"


def mo_path(lang: str) -> Path:
    return po_path(lang).with_suffix(".mo")


def _mo_bytes(lang: str) -> bytes:
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    with po_path(lang).open("rb") as f:
        catalog = read_po(f, locale=lang, domain=DOMAIN)
    out = io.BytesIO()
    write_mo(out, catalog)
    return out.getvalue()


def compile_catalogs(*, force: bool = False) -> list[Path]:
    """Write each language's `.mo` from its `.po` when missing or older (pure Python, Babel).
    Returns the files written; a read-only install is left as it is (loaded from the .po)."""
    written: list[Path] = []
    for lang in LANGUAGES:
        po, mo = po_path(lang), mo_path(lang)
        if not po.exists():
            continue
        if force or not mo.exists() or mo.stat().st_mtime < po.stat().st_mtime:
            # Written aside, then renamed: a process starting at the same time never reads half.
            tmp = mo.with_name(f".{mo.name}.{os.getpid()}.tmp")
            try:
                tmp.write_bytes(_mo_bytes(lang))
                os.replace(tmp, mo)
            except OSError:
                tmp.unlink(missing_ok=True)
                continue
            written.append(mo)
    return written


@cache
def translations(lang: str) -> _gettext.NullTranslations:
    """The compiled catalog of `lang` (English: the msgids as written)."""
    po, mo = po_path(lang), mo_path(lang)
    if not po.exists():
        return _gettext.NullTranslations()
    if mo.exists() and mo.stat().st_mtime >= po.stat().st_mtime:
        with mo.open("rb") as f:
            return _gettext.GNUTranslations(f)
    return _gettext.GNUTranslations(io.BytesIO(_mo_bytes(lang)))


def gettext(message: str) -> str:
    return translations(_language.get()).gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    return translations(_language.get()).ngettext(singular, plural, n)


def pgettext(context: str, message: str) -> str:
    """`message` as meant in `context`: one English word, two Russian genders (a card is
    "Активна", a plan "Активен")."""
    return translations(_language.get()).pgettext(context, message)


def _(message: str, **variables: Any) -> str:
    """`message` in the current language, its `%(name)s` placeholders filled (plain text)."""
    text = gettext(message)
    return text % variables if variables else text


def t(message: Any) -> Any:
    """The template filter `{{ notice | t }}`: a string handed over by Python (marked `N_`) in
    the current language, shown escaped like any value (None and non-strings pass through)."""
    return gettext(message) if isinstance(message, str) and message else message


# Numbers and dates for the language


def format_amount(amount: Decimal, decimals: int) -> str:
    """`amount` with its `decimals` and the language's separators (ru: `3 820,500000`)."""
    from babel.numbers import format_decimal

    pattern = "#,##0" + ("." + "0" * decimals if decimals else "")
    return format_decimal(amount, format=pattern, locale=current_language(), group_separator=True)


def format_day(day: date) -> str:
    """A chart's day label: `Sun 29 Nov` in English, `вс 29 нояб.` in Russian."""
    if current_language() == "en":
        return day.strftime("%a %d %b")
    from babel.dates import format_date

    return format_date(day, "EEE d MMM", locale=current_language())


def format_when(moment: datetime) -> str:
    from babel.dates import format_datetime

    return format_datetime(moment, "d MMM y, HH:mm:ss", locale=current_language())


# Extraction (make i18n; tests/console/test_i18n.py)


def extract() -> Any:
    """A Babel Catalog of every string of the console and the client app: the Python and
    templates under paywarden/console and paywarden/clientapp, plus the menu's groups and
    labels (declared in each area's NAV)."""
    from babel.messages.catalog import Catalog
    from babel.messages.extract import extract_from_dir

    catalog = Catalog(project="PayWarden console", domain=DOMAIN, fuzzy=False)
    for source in SOURCE_DIRS:
        for filename, lineno, message, comments, context in extract_from_dir(
            str(source),
            METHOD_MAP,
            options_map={"**/templates/**.html": TEMPLATE_OPTIONS},
            keywords=KEYWORDS,
            comment_tags=("Translators:",),
            strip_comment_tags=True,
        ):
            if message in ("", ()):
                continue
            catalog.add(
                message,
                None,
                [(f"paywarden/{source.name}/{filename}", lineno)],
                auto_comments=comments,
                context=context,
            )
    from paywarden.console import GROUPS, nav_entries

    for group in GROUPS:
        if group not in catalog:
            catalog.add(group, None, [("paywarden/console/__init__.py", 0)])
    for entry in nav_entries():
        if entry.label not in catalog:
            catalog.add(entry.label, None, [("paywarden/console/__init__.py", 0)])
    return catalog


def update() -> None:
    """Write messages.pot and merge it into each language's .po (new strings empty, old kept
    as obsolete), then compile the .mo files."""
    from babel.messages.pofile import read_po, write_po

    template = extract()
    LOCALE_DIR.mkdir(parents=True, exist_ok=True)
    with POT_FILE.open("wb") as f:
        write_po(f, template, width=100, omit_header=False, sort_output=True)
    for lang in LANGUAGES:
        po = po_path(lang)
        po.parent.mkdir(parents=True, exist_ok=True)
        if po.exists():
            with po.open("rb") as f:
                catalog = read_po(f, locale=lang, domain=DOMAIN)
        else:
            from babel.messages.catalog import Catalog

            catalog = Catalog(locale=lang, domain=DOMAIN, project="PayWarden console")
        catalog.update(template, no_fuzzy_matching=True)
        with po.open("wb") as f:
            write_po(f, catalog, width=100, sort_output=True, ignore_obsolete=True)
    compile_catalogs(force=True)
    translations.cache_clear()


def missing(lang: str = "ru") -> list[str]:
    """The msgids the sources use that `lang`'s .po leaves untranslated (or fuzzy)."""
    from babel.messages.pofile import read_po

    with po_path(lang).open("rb") as f:
        catalog = read_po(f, locale=lang, domain=DOMAIN)
    out = []
    for message in extract():
        if not message.id:
            continue
        have = catalog.get(message.id, context=message.context)
        if (
            have is None
            or have.fuzzy
            or not (all(have.string) if isinstance(have.string, tuple) else have.string)
        ):
            out.append(message.id if isinstance(message.id, str) else message.id[0])
    return out


def main(argv: list[str]) -> int:
    command = argv[0] if argv else "update"
    if command == "update":
        update()
        left = missing("ru")
        print(f"{POT_FILE}: {len(extract())} strings; {len(left)} without a Russian translation")
        for msgid in left:
            print("  " + msgid)
        return 0
    if command == "compile":
        for path in compile_catalogs(force="--force" in argv):
            print(path)
        return 0
    if command == "missing":
        left = missing(argv[1] if len(argv) > 1 else "ru")
        for msgid in left:
            print(msgid)
        return 1 if left else 0
    print("usage: python -m paywarden.console.i18n [update|compile [--force]|missing [lang]]")
    return 2


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
