"""The README and the guides under docs/ say what the code does, and their links lead somewhere.

Each check reads the Markdown as it is: JSON examples parse, and those marked with the schema they
show (`<!-- schema: paywarden.pkg.schemas.Model -->` on the line before the fence) have exactly
that model's fields in its order; shell examples parse, call routes the app serves and commands
the CLI has; Python examples run; relative links resolve to a file and, with `#`, to a heading.
docs/merchants/webhooks.md's Python is run against real signatures by test_webhook_docs.py.
"""

from __future__ import annotations

import importlib
import json
import re
import shlex
import subprocess
import time
import uuid
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from pydantic import BaseModel
from starlette.routing import Match, Mount
from typer.testing import CliRunner

from paywarden.cli import app as cli
from paywarden.webhooks.signing import headers

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
PAGES = [README, *sorted((ROOT / "docs").rglob("*.md"))]
FRONT_PAGE_MAX_LINES = 250
FENCE = re.compile(r"^```(\w*)\n(.*?)^```$", re.MULTILINE | re.DOTALL)
SCHEMA_MARK = re.compile(
    r"<!-- schema: ([\w.]+) -->\n```json\n(.*?)^```$", re.MULTILINE | re.DOTALL
)
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)|<(https?://[^>\s]+)>")
HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*$", re.MULTILINE)
INLINE_CODE = re.compile(r"`[^`\n]*`")
SHELLS = {"sh", "bash", "shell"}
# What the examples call: the development server `make run` starts.
LOCAL = "http://127.0.0.1:8000"
PLACEHOLDER = re.compile(r"<[^>]*>")  # `<order-id>`: the reader fills it in
FILLED = "FILLED"
# test_webhook_docs.py and test_devnet_scripting.py run these.
RUN_ELSEWHERE = {ROOT / "docs" / "merchants" / "webhooks.md", ROOT / "docs" / "devnet-scripting.md"}


@dataclass(frozen=True)
class Block:
    page: Path
    language: str
    code: str

    def __str__(self) -> str:
        first = self.code.strip().splitlines()[0] if self.code.strip() else ""
        return f"{self.page.relative_to(ROOT)}: {first[:60]}"


def name(page: Path) -> str:
    return str(page.relative_to(ROOT))


@cache
def blocks() -> tuple[Block, ...]:
    return tuple(
        Block(page, lang, code) for page in PAGES for lang, code in FENCE.findall(page.read_text())
    )


def of(*languages: str) -> list[Block]:
    return [b for b in blocks() if b.language in languages]


def prose(page: Path) -> str:
    """The page without its code: headings and links inside code are not the page's."""
    return INLINE_CODE.sub("", FENCE.sub("", page.read_text()))


def slug(heading: str) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link's text stays
    text = re.sub(r"[^\w\- ]", "", text.strip().lower())
    return text.replace(" ", "-")


@cache
def anchors(page: Path) -> frozenset[str]:
    seen: dict[str, int] = {}
    found = set()
    for _, heading in HEADING.findall(FENCE.sub("", page.read_text())):
        base = slug(heading)
        count = seen.get(base, 0)
        seen[base] = count + 1
        found.add(base if count == 0 else f"{base}-{count}")
    return frozenset(found)


def links(page: Path) -> list[str]:
    return [relative or absolute for relative, absolute in LINK.findall(prose(page))]


def local_links() -> list[tuple[Path, str]]:
    return [
        (page, target)
        for page in PAGES
        for target in links(page)
        if not re.match(r"[a-z]+:", target)  # http:, https:, mailto:
    ]


def test_the_front_page_is_read_in_five_minutes() -> None:
    lines = README.read_text().splitlines()
    assert len(lines) < FRONT_PAGE_MAX_LINES
    # The two commands come first.
    first = "\n".join(lines[:6])
    assert "make run" in first
    assert "make test" in first


@pytest.mark.parametrize("page", PAGES, ids=name)
def test_no_link_leaves_the_repository(page: Path) -> None:
    outside = [
        target
        for target in links(page)
        if not re.match(r"https?:|mailto:|#", target)
        and not (page.parent / target.split("#")[0]).resolve().is_relative_to(ROOT)
    ]
    assert outside == []
    assert "../shared" not in page.read_text()


def test_every_relative_link_resolves() -> None:
    broken = []
    for page, target in local_links():
        path, _, anchor = target.partition("#")
        file = (page.parent / path).resolve() if path else page
        if not file.exists():
            broken.append(f"{name(page)}: {target} (no such file)")
        elif anchor and file.suffix == ".md" and anchor not in anchors(file):
            broken.append(f"{name(page)}: {target} (no such heading)")
    assert broken == []
    assert len(local_links()) > 50  # the guides link to each other; the parser found them


def test_json_examples_parse() -> None:
    examples = of("json")
    assert len(examples) >= 5
    for block in examples:
        json.loads(block.code)  # raises with the block's position


def model(path: str) -> type[BaseModel]:
    module, _, attr = path.rpartition(".")
    found = getattr(importlib.import_module(module), attr)
    assert issubclass(found, BaseModel)
    return found


def test_marked_json_examples_have_the_api_field_names() -> None:
    marked = [
        (page, schema, code)
        for page in PAGES
        for schema, code in SCHEMA_MARK.findall(page.read_text())
    ]
    assert len(marked) >= 4  # an order, a top-up, a web sign-in, a card
    for page, schema, code in marked:
        example = json.loads(code)
        fields = list(model(schema).model_json_schema(mode="serialization")["properties"])
        assert list(example) == fields, f"{name(page)}: {schema}"


def shell_commands(code: str) -> list[list[str]]:
    """Each command of a block, its continuation lines joined, split as the shell would."""
    joined = PLACEHOLDER.sub(FILLED, code).replace("\\\n", " ")
    return [shlex.split(line) for line in joined.splitlines() if line.strip()]


@pytest.mark.parametrize("block", of(*SHELLS), ids=str)
def test_shell_examples_parse(block: Block) -> None:
    # `<order-id>` is the reader's to fill in; as written bash reads it as a redirection.
    code = PLACEHOLDER.sub(FILLED, block.code)
    checked = subprocess.run(
        ["bash", "-n"], input=code, capture_output=True, text=True, check=False
    )
    assert checked.returncode == 0, checked.stderr


def curl_calls() -> list[tuple[Block, str, str]]:
    """(block, method, path) of every curl to the local server in the shell examples."""
    calls = []
    for block in of(*SHELLS):
        for words in shell_commands(block.code):
            if not words or words[0] != "curl":
                continue
            [url] = [w for w in words if w.startswith(LOCAL)]
            path = url[len(LOCAL) :].split("?")[0]
            method = words[words.index("-X") + 1] if "-X" in words else "GET"
            calls.append((block, method, path))
    return calls


def serves(routes: list[Any], method: str, path: str) -> bool:
    for route in routes:
        if isinstance(route, Mount) and path.startswith(route.path + "/"):
            if serves(route.routes, method, path[len(route.path) :]):
                return True
            continue
        scope = {"type": "http", "path": path, "method": method, "root_path": ""}
        if route.matches(scope)[0] == Match.FULL:
            return True
    return False


async def test_shell_examples_call_routes_the_app_serves(app: FastAPI) -> None:
    calls = curl_calls()
    assert len(calls) >= 15
    unserved = [
        f"{block.page.name}: {method} {path}"
        for block, method, path in calls
        if not serves(app.routes, method, path)
    ]
    assert unserved == []


def test_shell_examples_name_commands_the_cli_has() -> None:
    runner = CliRunner()
    used = set()
    for block in of(*SHELLS):
        for words in shell_commands(block.code):
            if words and words[0].endswith("paywarden"):
                # The subcommands: the words before the first argument or option.
                sub = []
                for word in words[1:]:
                    if word.startswith(("-", "<")) or not re.fullmatch(r"[a-z][a-z0-9-]*", word):
                        break
                    sub.append(word)
                used.add(tuple(sub))
    assert ("devnet", "pay") in used
    for sub in sorted(used):
        result = runner.invoke(cli, [*sub, "--help"])
        assert result.exit_code == 0, f"paywarden {' '.join(sub)}: {result.output}"


@pytest.mark.parametrize("block", [b for b in of("python") if b.page not in RUN_ELSEWHERE], ids=str)
def test_python_examples_run(block: Block) -> None:
    exec(compile(block.code, str(block.page), "exec"), {"__name__": "guide"})  # noqa: S102


def test_the_merchant_guide_verifies_what_paywarden_signs() -> None:
    [block] = [b for b in of("python") if b.page == ROOT / "docs" / "merchants" / "README.md"]
    secret = "shop-secret-42"
    namespace: dict[str, Any] = {"__name__": "guide", "WEBHOOK_SECRET": secret}
    exec(compile(block.code, str(block.page), "exec"), namespace)  # noqa: S102
    body = json.dumps({"id": str(uuid.uuid4()), "type": "order.confirmed"}).encode()
    signed = headers(secret, "msg_1", int(time.time()), body)
    assert namespace["verify"](body, signed) == json.loads(body)
    with pytest.raises(namespace["WebhookVerificationError"]):
        namespace["verify"](body, headers("another", "msg_1", int(time.time()), body))
