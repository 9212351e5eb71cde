"""scripts/crash_campaign.py stays runnable: a short campaign of random-instant SIGKILLs, zero duplicates."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_a_short_crash_campaign_finds_no_duplicate_and_no_loss():
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / "crash_campaign.py"), "--campaigns", "3",
                           "--seed", "7"], capture_output=True, text=True, timeout=240, cwd=ROOT)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.rstrip().splitlines()[-1].startswith("3 campaigns,")
    assert "duplicates 0, lost 0" in done.stdout.rstrip().splitlines()[-1]
