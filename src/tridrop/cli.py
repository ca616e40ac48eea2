"""Command line: ``tridrop <family> <verb> --spec JSON --<path> ...`` runs one pipeline job.

Each job is a function ``verb(spec, *, paths)`` in :mod:`tridrop.jobs`; its options are made
from its signature (one per path) and its spec's dataclass (``--spec``, listed by ``--help``;
``--print-defaults`` prints them). Errors print one line naming the file or key, exit 1.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import json
import logging
import os
import sys
import types
import typing
from pathlib import Path

from tridrop.registry import FAMILIES as REGISTRY

# The shared job modules, then one per experiment family (tridrop.families: its wing's jobs).
FAMILIES = {
    "data": ("tridrop.jobs.data", "datasets: download raw files, store a split"),
    "results": ("tridrop.jobs.results", "sweeps, claims, environment, README across families"),
    "plot": ("tridrop.jobs.plot", "the figure of the method itself (the triangular mask)"),
    "model": ("tridrop.jobs.model", "your own model: select a width, export it"),
    **{f.cli: (f"{f.package}.jobs", f.doc) for f in REGISTRY.values()},
}
log = logging.getLogger("tridrop")


def build_parser(family: str | None = None) -> argparse.ArgumentParser:
    """The parser; only ``family``'s module is imported (each job module imports torch)."""
    parser = argparse.ArgumentParser(prog="tridrop", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging, tracebacks")
    families = parser.add_subparsers(dest="family", required=True, metavar="FAMILY")
    for name, (module, text) in FAMILIES.items():
        fp = families.add_parser(name, help=text, description=text)
        if name != family:
            continue
        verbs = fp.add_subparsers(dest="verb", required=True, metavar="VERB")
        jobs = importlib.import_module(module)
        for verb in jobs.VERBS:
            _add_job(verbs, verb, getattr(jobs, verb))
    return parser


def _add_job(verbs, verb: str, job) -> None:
    from tridrop.specs import describe

    hints = typing.get_type_hints(job)
    doc = inspect.getdoc(job) or ""
    p = verbs.add_parser(
        verb,
        help=doc.splitlines()[0] if doc else None,
        description=doc,
        epilog="spec fields (--spec JSON):\n" + describe(hints["spec"]),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--spec", default="{}", help="the job's settings as JSON (fields below)")
    p.add_argument("--print-defaults", action="store_true", help="print the spec's defaults")
    required = []
    for name, param in inspect.signature(job).parameters.items():
        if name == "spec":
            continue
        tp, flag = hints[name], "--" + name.replace("_", "-")
        if tp is bool:
            p.add_argument(flag, action="store_true")
            continue
        many = typing.get_origin(tp) is list
        optional = typing.get_origin(tp) in (typing.Union, types.UnionType)
        kind = str if tp is str else Path
        p.add_argument(flag, dest=name, type=kind, nargs="+" if many else None, metavar="PATH")
        if not optional and param.default is inspect.Parameter.empty:
            required.append(flag)
    p.set_defaults(job=job, spec_type=hints["spec"], required=required)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    family = next((a for a in argv if not a.startswith("-")), None)
    parser = build_parser(family if family in FAMILIES else None)
    args = parser.parse_args(argv)
    if not hasattr(args, "job"):  # a family without a verb
        parser.parse_args([*argv, "--help"])
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    from tridrop.specs import defaults, load

    if args.print_defaults:
        print(json.dumps(defaults(args.spec_type), indent=2))
        return 0
    missing = [f for f in args.required if getattr(args, f[2:].replace("-", "_")) is None]
    if missing:
        parser.error(f"tridrop {args.family} {args.verb}: missing {', '.join(missing)}")
    params = inspect.signature(args.job).parameters
    paths = {k: v for k, v in vars(args).items() if k in params and k != "spec"}
    try:
        _check_spec_text(args.spec)
        spec = load(args.spec_type, args.spec)
        _check_aliases(paths)
        args.job(spec, **paths)
    except KeyboardInterrupt as err:  # Ctrl-C: say what is kept (training names its checkpoint)
        if args.verbose:
            log.exception("tridrop %s %s interrupted", args.family, args.verb)
        log.error("%s", str(err) or "interrupted; outputs are written whole or not at all")
        return 130
    except Exception as err:  # one line for the user; --verbose shows where
        if args.verbose:
            log.exception("tridrop %s %s failed", args.family, args.verb)
        log.error("%s", _message(err))
        return 1
    return 0


def _check_spec_text(text: str) -> None:
    """A file name given to ``--spec`` (which takes JSON text) gets a hint, not a bare
    JSON syntax error."""
    try:
        json.loads(text)
    except json.JSONDecodeError:
        if text.strip().endswith(".json") or os.path.isfile(text):  # never raises
            raise ValueError(
                f"spec: not valid JSON: {text!r} looks like a file name, but --spec takes the "
                f'JSON text itself; to pass a file use --spec "$(cat {text})"'
            ) from None


# Files a job writes beside a path option's file: a model's metadata, a figure's PDF.
SIBLINGS = {".pt": ".json", ".pt2": ".json", ".png": ".pdf"}


def _check_aliases(paths: dict[str, object]) -> None:
    """Refuse two path options that name one file (links followed): an output there would
    replace an input or another output, or a checkpoint deleted at the end take the model."""
    seen: dict[object, tuple[str, str]] = {}  # file -> (option, how the message names it)
    for name, value in paths.items():
        if not isinstance(value, Path | list):  # flags and templates (--plots) name no file
            continue
        flag = "--" + name.replace("_", "-")
        for path in value if isinstance(value, list) else [value]:
            files = [(path, f"{flag} ({path})")]
            if (suffix := SIBLINGS.get(path.suffix)) is not None:
                files.append(
                    (path.with_suffix(suffix), f"the {suffix} file beside {flag} ({path})")
                )
            for f, text in files:
                key = _identity(f)
                if key in seen and seen[key][0] != flag:  # a list may repeat its own files
                    raise ValueError(
                        f"{seen[key][1]} and {text} are the same file; each path option needs "
                        "its own (an output written there would replace or delete the other)"
                    )
                seen.setdefault(key, (flag, text))


def _identity(path: Path) -> object:
    """What makes two paths one file: device and inode when it exists (hard links, other
    spellings), else the path with its links resolved."""
    try:
        st = path.stat()
    except OSError:
        return path.resolve()
    return (st.st_dev, st.st_ino)


def _message(err: Exception) -> str:
    """The error's message, with its type where the message alone is unclear."""
    text = str(err)
    known = isinstance(err, ValueError | OSError | RuntimeError)
    text = text if known and text else f"{type(err).__name__}: {text or 'no message'}"
    # One line (a log line per error): some messages, ours or a library's, span several.
    return " ".join(line.strip() for line in text.splitlines() if line.strip())


if __name__ == "__main__":
    sys.exit(main())
