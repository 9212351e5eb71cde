"""The target's reference data (its `/refdata` and mark prices), asked for while the run's own
modules load.

`run` reads the target's `/refdata` and its mark prices before validating (runner.run.setup
`reference_data`): two network round trips in which the process only waits. Loading the code of a
run (validation, journal, session, the send loop) is the other large part of the time before the
first order leaves, and needs no network. So `qfex-runner run` starts the reading on a thread as
soon as its command line is read, and the run takes the result where it would have read it itself:
the same requests, the same warnings in the same place, the same errors, nothing sent and nothing
asked earlier than a run asks it today — only the waiting overlaps the loading.

Started only for a target reached over the network that `run` would read (`--url`, `--target uat|prod`
without `--refdata FILE`), and only for a URL the run would accept (`check_url`: no plain ws://
to a remote host); anything else (the embedded exchange, a file, a refused URL, a bad option) is
left to the run as before. This module imports nothing heavy: it is imported before the run's code.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from runner.exchange.targets import Target
    from runner.playbook.refdata import RefData

#: longest wait for the market data's first mark prices before a run's checks (they are not blocking)
MARK_WAIT_S = 3.0


def fetch_reference_data(target: Target, timeout: float, warnings: list[str]) -> RefData | None:
    """The target's `/refdata` with its live mark prices; unavailable, a warning and None.

    The market-data socket is dialled as the `/refdata` request leaves (each costs a few round trips
    to QFEX: dialling it afterwards added them up), and its mark prices are kept for the symbols the
    reference data lists (stop-side checks use them: QFEX triggers on the mark). Never fatal and
    never in the way: a socket that cannot be reached is not waited for, and the checks then use
    the reference data's underlier price, as they say ("market price" rather than "mark price")."""
    from runner.exchange.marketdata import MarkPrices, marks_within
    from runner.playbook import refdata as rd

    assert target.refdata_url is not None
    wait = min(timeout, MARK_WAIT_S)
    feed = MarkPrices(target.mds_url, ["*"], timeout=wait).start() if target.mds_url else None
    try:
        fetched = rd.fetch_refdata(target.refdata_url, timeout=min(timeout, 10.0))
        fetched.live = True  # the target's prices now: a stop on the wrong side is an error
        if feed is not None:
            fetched.marks.update(marks_within(feed, list(fetched), wait))
        return fetched
    except Exception as exc:  # any failure only means fewer pre-checks, never a crash
        reason = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        warnings.append("exchange rules (tick/lot sizes, quantity limits, price bands) were not "
                        "pre-checked: "
                        f"reference data unavailable from {target.refdata_url} ({reason}); "
                        f"pass --refdata FILE to check them")
        return None
    finally:
        if feed is not None:
            feed.close()


class ReferencePrefetch:
    """One reading of a target's reference data on a daemon thread; `result` waits for it."""

    def __init__(self, target: str | None, url: str | None, mds_url: str | None, timeout: float) -> None:
        self._asked = (target, url, mds_url)
        self._timeout = timeout
        #: the target it read (None: it found nothing to read; the run reads as usual)
        self.target: Target | None = None
        self._refdata: RefData | None = None
        self._warnings: list[str] = []
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._read, name="qfex-refdata", daemon=True)

    def start(self) -> ReferencePrefetch:
        self._thread.start()
        return self

    def _read(self) -> None:
        try:
            from runner.exchange.client import check_url
            from runner.exchange.targets import SIM, resolve_target
            try:
                target = resolve_target(*self._asked)
                if target.name == SIM or not target.refdata_url:
                    return
                check_url(target.url or "")  # the run refuses it before any network use: so do we
            except Exception:  # the run reports it, at its place
                return
            self._refdata = fetch_reference_data(target, self._timeout, self._warnings)
            self.target = target
        except BaseException as exc:  # handed to the run's thread, raised where it would have been
            self._error = exc

    def result(self, target: Target, warnings: list[str]) -> tuple[bool, RefData | None]:
        """(True, the reference data) if this read is the one `target` needs (its warnings added to
        `warnings`); (False, None) when the run must read it itself."""
        self._thread.join()
        if self._error is not None:
            raise self._error
        if self.target is None or self.target != target:
            return False, None
        warnings.extend(self._warnings)
        return True, self._refdata


def prefetch_reference_data(target: str | None, url: str | None, mds_url: str | None,
                            refdata_file: str | None, timeout: float) -> ReferencePrefetch | None:
    """Start reading the reference data `run` will need, or None when it reads a file or nothing."""
    if refdata_file or timeout <= 0 or not (url or target not in (None, "sim")):
        return None
    return ReferencePrefetch(target, url, mds_url, timeout).start()
