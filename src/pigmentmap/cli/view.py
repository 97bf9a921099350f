"""``pigmentmap view``: the local viewer of a results folder."""

from __future__ import annotations

import argparse
from typing import Any

from pigmentmap.cli._common import number


def _cmd_view(args: argparse.Namespace) -> int:
    from pigmentmap.viewer.server import HOST, serve

    server = serve(args.results, port=args.port)
    port = server.server_address[1]
    print(f"viewing {args.results} at http://{HOST}:{port}/ (this machine only; Ctrl-C stops)")
    if args.open:
        import webbrowser

        webbrowser.open(f"http://{HOST}:{port}/")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        print("stopped")
    finally:
        server.server_close()
    return 0


def register(sub: Any) -> None:
    """Add ``view`` to ``sub``."""
    vw = sub.add_parser(
        "view",
        help="look at a results folder in the browser, pixel by pixel (127.0.0.1 only)",
        epilog="Example: pigmentmap view results/ --port 8765 --open",
    )
    vw.add_argument("results", help="a results folder from pigmentmap map")
    vw.add_argument(
        "--port", type=number(int, lo=0, hi=65535), default=8765, help="port (0: any free one)"
    )
    vw.add_argument("--open", action="store_true", help="open the page in the default browser")
    vw.set_defaults(func=_cmd_view)
