"""The ``glassnet`` command.

Usage errors exit with status 2 and failures with 1, each as one clear line
on stderr; ``--debug`` shows the full traceback instead.
"""

from __future__ import annotations

import argparse
import sys

from .errors import GlassnetError


def _demo(args) -> int:
    from . import demos

    if args.list:
        for name in demos.DEMOS:
            print(f"{name:16s} {demos.load(name).DESCRIPTION}")
        return 0
    name = args.name or demos.DEFAULT
    if name not in demos.DEMOS:
        known = ", ".join(demos.DEMOS)
        raise _UsageError(f"unknown demo {name!r}; choose one of: {known}")
    return demos.load(name).run(args)


class _UsageError(Exception):
    pass


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="glassnet", description="Neural networks you can see inside."
    )
    parser.add_argument("--debug", action="store_true", help="show full tracebacks")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    demo = sub.add_parser("demo", help="run a seed story (default: the main demo)")
    demo.add_argument("name", nargs="?", help="which demo; see --list")
    demo.add_argument("--list", action="store_true", help="list the demos")
    demo.set_defaults(func=_demo)
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except _UsageError as e:
        if args.debug:
            raise
        print(f"glassnet: error: {e}", file=sys.stderr)
        return 2
    except (GlassnetError, OSError) as e:
        if args.debug:
            raise
        print(f"glassnet: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("glassnet: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
