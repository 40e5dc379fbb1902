"""Run every benchmark in bench/ with --quick and print the JSON line each one prints (named by
its script under "bench").

    python bench/run_all.py [--full]

Each script runs in its own process (modules whose name starts with "_" are shared code, not
benchmarks); a script that fails prints {"bench": name, "error": ...}
and makes this script exit with status 1 once all have run.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> int:
    full = "--full" in sys.argv[1:]
    failed = False
    for script in sorted(HERE.glob("*.py")):
        if script.name == Path(__file__).name or script.name.startswith("_"):  # what they share
            continue
        args = [sys.executable, str(script)] + ([] if full else ["--quick"])
        done = subprocess.run(args, capture_output=True, text=True, cwd=HERE.parent)
        lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
        if done.returncode != 0 or not lines:
            failed = True
            tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
            print(json.dumps({"bench": script.stem, "error": f"exit {done.returncode}", "detail": tail}), flush=True)
            continue
        figures = json.loads(lines[-1])
        print(json.dumps({"bench": script.stem, **figures}), flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
