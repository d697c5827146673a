"""`python -m paywarden`: the `paywarden` command (how `serve` starts its worker child)."""

from paywarden.cli import app

app(prog_name="paywarden")
