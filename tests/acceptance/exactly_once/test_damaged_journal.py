"""Issue 13, defect 1: a damaged journal line never reads as a known state.

"ACK" read back as "ACC" (an unknown status) or a flipped byte (the line's checksum fails) made an
order look rejected, and a rejected order was sent again without asking the exchange: placed
twice. Now such a line leaves its order unsure: looked up, adopted if the exchange shows it, and
if the exchange does not show it (placed, then cancelled unfilled) it is not sent again: the run
stops (exit 5) before sending anything and says how to resolve it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from runner.exit_codes import ExitCode
from runner.jsonnum import dumps, loads
from runner.report import Outcome
from tests.acceptance.exactly_once.test_status import status
from tests.acceptance.exactly_once_kit import Harness, coid, journal_file, run_in_process_at

RESTING = "  - {id: r, symbol: AAPL-USD, side: BUY, type: LIMIT, quantity: 1, price: 220.00}\n"
#: an IOC bid far below the market: accepted, then cancelled unfilled (leaves no trace at the exchange)
GONE = "  - {id: g, symbol: AAPL-USD, side: BUY, type: LIMIT, quantity: 1, price: 200.00, " \
       "time_in_force: IOC}\n"


@pytest.fixture
def make(tmp_path: Path, dialect: str) -> Iterator[object]:
    made: list[Harness] = []

    def factory(orders: str) -> Harness:
        harness = Harness(tmp_path, dialect=dialect, orders=orders)
        made.append(harness)
        return harness

    yield factory
    for harness in made:
        harness.stop()


def answer_lines(path: Path, status: str) -> list[int]:
    """Indexes of the journal lines that record an order_response with `status`."""
    return [i for i, line in enumerate(path.read_bytes().split(b"\n"))
            if b'"kind": "answer"' in line and re.search(f'"status": ?"{status}"'.encode(), line)]


def edit_lines(path: Path, indexes: list[int], edit) -> None:
    lines = path.read_bytes().split(b"\n")
    for index in indexes:
        lines[index] = edit(lines[index])
    path.write_bytes(b"\n".join(lines))


def acc(line: bytes) -> bytes:
    return re.sub(rb'("status": ?)"ACK"', rb'\1"ACC"', line)  # an answer is written as it came


def flip_a_byte(line: bytes) -> bytes:
    """One bit flipped inside the order id's digits: still JSON, only the checksum can tell."""
    found = re.search(rb'"order_id": ?"', line)
    assert found is not None
    at = found.end() + 1
    return line[:at] + bytes([line[at] ^ 0x01]) + line[at + 1:]


def unsealed(line: bytes) -> bytes:
    """The line as a runner before checksums wrote it."""
    record = loads(line)
    record.pop("sum", None)
    return dumps(record).encode()


@pytest.mark.parametrize("damage", [acc, flip_a_byte, lambda line: acc(unsealed(line))],
                         ids=["ACC", "flipped-byte", "ACC-in-a-journal-without-checksums"])
def test_a_damaged_ack_of_a_resting_order_is_looked_up_not_sent_again(make, damage) -> None:
    harness = make(RESTING)
    first = run_in_process_at(harness)
    assert first.exit_code is ExitCode.OK, first.report.summary.message
    path = journal_file(harness)
    edit_lines(path, answer_lines(path, "ACK"), damage)

    again = run_in_process_at(harness)
    assert harness.counts() == {coid("r"): 1}, "placed more than once"
    assert again.exit_code is ExitCode.OK, again.report.summary.message
    assert again.report.orders[0].outcome is Outcome.ALREADY_PLACED


@pytest.mark.parametrize("damage", [acc, flip_a_byte], ids=["ACC", "flipped-byte"])
def test_an_order_the_exchange_no_longer_shows_is_not_sent_again_on_a_damaged_line(make, damage) -> None:
    harness = make(GONE)
    first = run_in_process_at(harness)
    assert first.exit_code is ExitCode.OK, first.report.summary.message
    path = journal_file(harness)
    lines = answer_lines(path, "ACK") + answer_lines(path, "CANCELLED")
    assert lines
    edit_lines(path, lines, lambda line: damage(line) if b'"ACK"' in line else flip_status(line))

    again = run_in_process_at(harness)
    assert harness.counts() == {coid("g"): 1}, "placed more than once"
    assert again.exit_code is ExitCode.ABORTED
    message = again.report.summary.message
    assert "'g'" in message and "damaged" in message and "move the journal aside" in message
    assert "unknown: g" in message and again.report.orders[0].outcome is Outcome.UNKNOWN
    shown = status(harness, "--format", "json")
    assert shown.returncode == 0, shown.stderr  # `status` shows it, and that a run would send nothing
    assert [o["state"] for o in json.loads(shown.stdout)["orders"]] == ["unproven"]
    again_twice = run_in_process_at(harness)  # still refused: nothing proves it unplaced
    assert again_twice.exit_code is ExitCode.ABORTED and harness.counts() == {coid("g"): 1}

    path.rename(path.with_suffix(".damaged"))  # the documented resolution: the user checked
    resolved = run_in_process_at(harness)
    assert resolved.exit_code is ExitCode.OK, resolved.report.summary.message
    assert harness.counts() == {coid("g"): 2}  # sent again only once the user said so


def flip_status(line: bytes) -> bytes:
    return re.sub(rb'("status": ?)"CANCELLED"', rb'\1"CANCELLEB"', line)


def test_a_journal_rejected_order_is_looked_up_before_it_is_sent_again(make) -> None:
    """A journal from before the fix can say "rejected" (a bare err pinned on the order) although the
    order rests at the exchange: it is looked up and adopted, never placed twice."""
    harness = make(RESTING)
    assert run_in_process_at(harness).exit_code is ExitCode.OK
    path = journal_file(harness)

    def rejected(line: bytes) -> bytes:
        record = loads(line)
        record.pop("sum", None)
        record["answer"] = {"err": {"error_code": "InvalidOrder", "message": "x"}}
        return dumps(record).encode()

    edit_lines(path, answer_lines(path, "ACK"), rejected)
    again = run_in_process_at(harness)
    assert harness.counts() == {coid("r"): 1}, "placed more than once"
    assert again.exit_code is ExitCode.OK, again.report.summary.message
    assert again.report.orders[0].outcome is Outcome.ALREADY_PLACED
