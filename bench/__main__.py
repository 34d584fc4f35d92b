"""`python -m bench [decisions|batch|http|compile|profile|generate]`: run and print tables.

Without a sub-command every part runs in turn (15 to 40 minutes on two cores, by the machine).
Results go to bench/out/<part>.json as well; see bench/README.md.
"""

from __future__ import annotations

import argparse
import time

from bench import synthetic
from bench.report import machine, say, table

PARTS = ("decisions", "batch", "http", "compile", "profile")


def calibration() -> float:
    """Microseconds for sum(range(1000)): how fast this machine runs plain Python now."""
    best = float("inf")
    for _ in range(7):
        started = time.perf_counter()
        for _ in range(1000):
            sum(range(1000))
        best = min(best, (time.perf_counter() - started) * 1000)
    return best


def header() -> None:
    info = machine()
    rows = [[k, str(v)] for k, v in info.items()]
    rows.append(["sum(range(1000)) us, best of 7", f"{calibration():.1f}"])
    say(table("Machine", ["what", "value"], rows))


def generate() -> None:
    rows = []
    for size in synthetic.SIZES:
        directory, info = synthetic.ensure_rules(size)
        rows.append(
            [size.key, info["territories"], info["postal_rules"], info["reps"], str(directory)]
        )
    for count in (20_000, 100_000, 1_000_000):
        synthetic.leads_file(count)
    say(
        table(
            "Synthetic rule sets",
            ["size", "territories", "postal rules", "reps", "directory"],
            rows,
        )
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("part", nargs="?", choices=(*PARTS, "generate", "all"), default="all")
    parser.add_argument(
        "--sizes", default="10,1k,10k", help="rule-set sizes for decisions and compile"
    )
    parser.add_argument("--quick", action="store_true", help="shorter runs, fewer repeats")
    args = parser.parse_args(argv)
    sizes = [s for s in args.sizes.split(",") if s]
    header()
    chosen = PARTS if args.part == "all" else (args.part,)
    if args.part == "generate":
        generate()
        return
    for part in chosen:
        started = time.perf_counter()
        run_part(part, sizes, args.quick)
        say(f"[{part}: {time.perf_counter() - started:.0f} s]\n")


def run_part(part: str, sizes: list[str], quick: bool) -> None:
    if part == "decisions":
        from bench import decisions

        if quick:
            decisions.ROUNDS, decisions.SLOW_ROUNDS = 2, 1
        decisions.run(sizes, leads=5_000 if quick else decisions.LEADS)
    elif part == "batch":
        from bench import batch

        batch.run("1k", (1, 100_000) if quick else batch.COUNTS)
    elif part == "http":
        from bench import serving

        if quick:
            serving.run(saturation_runs=1, duration=4.0)
        else:
            serving.run()
    elif part == "compile":
        from bench import compiling

        compiling.run(sizes, reload_sizes=("1k",) if quick else ("1k", "10k"))
    elif part == "profile":
        from bench import profiles

        profiles.run(sizes[-1])


if __name__ == "__main__":
    main()
