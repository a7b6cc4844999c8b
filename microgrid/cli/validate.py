"""``microgrid validate PATH``: check a site file and print its summary."""

from __future__ import annotations

import argparse

from microgrid.site import load_site, site_summary


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "validate",
        description="Validate a site (a directory with site.yaml, or the YAML file). Exit 0 and a summary "
        "when it is usable; exit 2 with one line per problem (field path: what is wrong) when not.",
    )
    parser.add_argument("site", metavar="PATH", help="site directory or site.yaml")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    site = load_site(args.site)
    print(site_summary(site))
    print("OK: site is valid")
    return 0
