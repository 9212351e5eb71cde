#!/usr/bin/env python3
"""Write examples/github-actions/qfex-runner.yml from the template `qfex-runner init` uses.

The workflow a new playbook repository gets (`qfex-runner init`) and the one shown in examples/
are the same file, so the example is generated rather than kept by hand; a test fails when the
two differ.

    python scripts/gen_examples.py          # rewrite the example
    python scripts/gen_examples.py --check  # exit 1 if it is out of date
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from runner.init import render_template  # noqa: E402  (after the path set-up above)

REGENERATE = "python scripts/gen_examples.py"
#: example path (relative to the repository root) -> template name in runner/templates/
EXAMPLES = {"examples/github-actions/qfex-runner.yml": "github-workflow.yml"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if an example is stale, write nothing")
    args = parser.parse_args(argv)
    stale = []
    for relative, template in EXAMPLES.items():
        path = ROOT / relative
        wanted = render_template(template)
        current = path.read_text(encoding="utf-8") if path.exists() else None
        if current == wanted:
            continue
        stale.append(relative)
        if not args.check:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(wanted, encoding="utf-8")
            print(f"wrote {relative}")
    if args.check and stale:
        print(f"stale: {', '.join(stale)}: run `{REGENERATE}`", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
