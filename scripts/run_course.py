"""Execute the course notebooks in order, headless, and print each one's wall time and peak memory.

    python scripts/run_course.py             # executed copies go to build/notebooks/
    python scripts/run_course.py --inplace   # maintainers: refresh the committed notebooks
    python scripts/run_course.py 00 05       # only the notebooks whose names start with these

Each notebook runs in a fresh child process, so the peak memory reported is that notebook's kernel alone.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
TIMEOUT_S = 900


def run_one(source: Path, target: Path) -> None:
    """Execute one notebook (the child process); the kernel is this process's child."""
    import nbformat
    from nbclient import NotebookClient

    notebook = nbformat.read(source, as_version=4)
    NotebookClient(notebook, timeout=TIMEOUT_S, kernel_name="python3",
                   resources={"metadata": {"path": str(NOTEBOOKS)}}).execute()
    target.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, target)
    peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    print(json.dumps({"peak_mib": peak_kib / 1024}))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("only", nargs="*", help="run only notebooks whose names start with these")
    parser.add_argument("--inplace", action="store_true", help="write outputs into the committed notebooks")
    parser.add_argument("--one", nargs=2, metavar=("SOURCE", "TARGET"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        run_one(Path(args.one[0]), Path(args.one[1]))
        return 0

    paths = sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
    if args.only:
        paths = [p for p in paths if p.name.startswith(tuple(args.only))]
    rows, failed = [], []
    for path in paths:
        target = path if args.inplace else ROOT / "build" / "notebooks" / path.name
        print(f"running {path.name} ...", flush=True)
        start = time.perf_counter()
        # No progress bars in headless runs: their fragments would end up in the committed outputs.
        child = subprocess.run([sys.executable, __file__, "--one", str(path), str(target)],
                               capture_output=True, text=True, env={**os.environ, "COURSE_PROGRESS": "0"})
        seconds = time.perf_counter() - start
        if child.returncode != 0:
            failed.append(path.name)
            print(child.stderr[-3000:], file=sys.stderr)
            rows.append((path.name, seconds, float("nan"), "FAILED"))
            continue
        peak = json.loads(child.stdout.strip().splitlines()[-1])["peak_mib"]
        rows.append((path.name, seconds, peak, "ok"))

    print(f"\n{'notebook':40s} {'wall time':>10s} {'peak memory':>12s}  status")
    for name, seconds, peak, status in rows:
        print(f"{name:40s} {seconds / 60:7.1f} min {peak:8.0f} MiB  {status}")
    print(f"{'total':40s} {sum(r[1] for r in rows) / 60:7.1f} min")
    if failed:
        print(f"\nFailed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
