"""Command line: ``python -m nla tour [area ...]``."""

import argparse
import sys

from ._tour import AREAS, format_table, run_tour


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m nla", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    tour = sub.add_parser("tour", help="run every capability on synthetic data beside its peer")
    tour.add_argument("areas", nargs="*", metavar="area",
                      help=f"restrict to these areas ({', '.join(AREAS)})")
    args = parser.parse_args(argv)
    unknown = sorted(set(args.areas) - set(AREAS))
    if unknown:
        parser.error(f"unknown area(s) {', '.join(unknown)}; choose from {', '.join(AREAS)}")
    rows = run_tour(args.areas or None, verbose=True)
    print(format_table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
