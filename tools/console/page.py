"""The operator's web page: static files (tools/console/web/) and the chart library
that `make setup` installs beside them (npm, git-ignored), served by the console.

No build step: the browser loads the files as they are.  The page is public HTML;
everything it shows comes from the API with the operator's token.  When the chart
library is missing the page still works and says so where the charts would be.
"""
import os

from starlette.responses import FileResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

WEB = os.path.join(os.path.dirname(os.path.abspath(__file__)), "web")
UPLOT = os.path.join(WEB, "node_modules", "uplot", "dist")
# The page's own headers: no inline script, nothing from other origins, never framed.
_HEADERS = {"Content-Security-Policy": "default-src 'self'; img-src 'self' data:; "
                                       "style-src 'self' 'unsafe-inline'; frame-ancestors 'none'",
            "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer",
            "Cache-Control": "no-cache"}


async def index(request):
    return FileResponse(os.path.join(WEB, "index.html"), headers=_HEADERS)


class _Static(StaticFiles):
    async def check_config(self):
        # A missing folder (the chart library before `make setup`) answers 404s;
        # Starlette's own check would raise on every request (a 500 and a traceback).
        if os.path.isdir(self.directory):
            await super().check_config()

    async def get_response(self, path, scope):
        response = await super().get_response(path, scope)
        response.headers.update(_HEADERS)
        return response


def routes():
    return [Route("/", index),
            Mount("/static", _Static(directory=os.path.join(WEB, "static"))),
            # check_dir=False: without `make setup` the console still starts; the page
            # gets a 404 for the library and says that charts are unavailable.
            Mount("/vendor/uplot", _Static(directory=UPLOT, check_dir=False))]
