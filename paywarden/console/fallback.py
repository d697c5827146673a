"""Any other path under `/admin`: the console's own 404 page (in its frame, with the menu when
signed in), never the API's JSON. Mounted after every area, so it matches only what none did."""

from __future__ import annotations

from paywarden.console import web
from paywarden.console.i18n import N_
from paywarden.console.web import MaybeSignedIn
from paywarden.kit.errors import NotFound

router = web.console_router()
METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]


class NoSuchPage(NotFound):
    message = N_("There is no such page in the console. Check the address, or start from the menu.")


@router.api_route("/{rest:path}", methods=METHODS)
async def not_found(rest: str, _: MaybeSignedIn) -> None:
    raise NoSuchPage()
