"""``microgrid validate PATH``: check a site file and print its summary."""

from __future__ import annotations

import argparse

from microgrid.cli import tr
from microgrid.i18n import current_lang, t
from microgrid.site import load_site, site_summary
from microgrid.site.loader import SiteError


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "validate",
        description=tr("desc.validate"),
    )
    parser.add_argument("site", metavar="PATH", help=tr("help.site"))
    parser.set_defaults(func=run)


def check_device_ratings(site, source: str) -> None:
    """Raise :class:`SiteError` (exit 2) when an asset's rating does not fit its device's register map, or
    its device's map (option) cannot command it."""
    from drivers.ratings import site_rating_problems
    from drivers.readonly import site_control_problems

    problems = site_rating_problems(site) + site_control_problems(site)
    if problems:
        raise SiteError.of("uerr.site_problems", problems, source=source, n=len(problems))


def run(args: argparse.Namespace) -> int:
    site = load_site(args.site)
    check_device_ratings(site, str(args.site))
    lang = current_lang()
    print(site_summary(site, lang))
    print(t("cli.site_valid", lang))
    return 0
