"""Command line of nla.

  python -m nla tour [area ...]     every capability on synthetic data, timed beside its peer
  python -m nla compile [area ...]  compile and cache every Numba kernel now (minutes, once)
"""

import argparse
import sys

from ._tour import AREAS


def _area(name):
    # A type check rather than ``choices``: Python < 3.12 rejects an empty ``nargs="*"`` list
    # against choices.
    if name not in AREAS:
        raise argparse.ArgumentTypeError(f"unknown area {name!r}; choose from "
                                         f"{', '.join(AREAS)}")
    return name


def _parser():
    parser = argparse.ArgumentParser(
        prog="python -m nla", description=__doc__.split("\n", 2)[2],
        formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", metavar="{tour,compile}")
    areas = f"areas (default: all): {', '.join(AREAS)}"
    tour = sub.add_parser("tour", help="run every capability beside its peer and print a table",
                          description="Run every capability on built-in synthetic data beside "
                          "the library people would otherwise use; print accuracy, time and "
                          "the peer's time. Compilation is done first and reported apart.")
    tour.add_argument("areas", nargs="*", type=_area, metavar="area", help=areas)
    comp = sub.add_parser("compile", help="compile and cache every kernel (or an area's)",
                          description="Compile every Numba kernel of the chosen areas on tiny "
                          "inputs and store the machine code in Numba's cache, so first calls "
                          "afterwards take milliseconds.")
    comp.add_argument("areas", nargs="*", type=_area, metavar="area", help=areas)
    return parser


def main(argv=None):
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    if args.command == "compile":
        from ._compile import compile_areas

        seconds = compile_areas(args.areas or None, verbose=True)
        for area, s in seconds.items():
            print(f"{area:<18} {s:6.1f} s")
        print(f"{'total':<18} {sum(seconds.values()):6.1f} s")
        return 0
    import time

    from ._tour import format_table, run_tour

    start = time.perf_counter()
    rows = run_tour(args.areas or None, verbose=True)
    print(format_table(rows, total_seconds=time.perf_counter() - start))
    return 0


if __name__ == "__main__":
    sys.exit(main())
