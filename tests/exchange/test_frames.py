"""Client text frames built by `runner.exchange.frames`, read back by websocket-client's own parser
and the simulator's server (the `websockets` library): every length encoding, masking, keys."""

from __future__ import annotations

import websocket

from runner.exchange.frames import KEYS_PER_READ, MaskKeys, masked, text_frame


class _Bytes:
    """A socket-like object feeding websocket-client's frame reader from a byte string."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    def recv(self, size: int) -> bytes:
        chunk, self.data = self.data[:size], self.data[size:]
        return chunk


def _read_back(frame: bytes) -> websocket.ABNF:
    source = _Bytes(frame)
    reader = websocket._abnf.frame_buffer(source.recv, skip_utf8_validation=False)
    return reader.recv_frame()


def test_every_length_encoding_reads_back_as_the_text_sent() -> None:
    keys = MaskKeys()
    for size in (0, 1, 3, 4, 5, 125, 126, 127, 1000, 65535, 65536, 70001):
        text = "a" * size
        frame = text_frame(text, keys)
        got = _read_back(frame)
        assert (got.fin, got.rsv1, got.rsv2, got.rsv3, got.opcode) == (1, 0, 0, 0, websocket.ABNF.OPCODE_TEXT)
        assert got.mask_value == 1  # a client's frames are always masked (RFC 6455 5.3)
        assert got.data == text.encode()


def test_non_ascii_text_is_sent_as_utf8() -> None:
    text = '{"symbol": "AAPL-USD", "note": "café ✓ \U0001F600"}'
    got = _read_back(text_frame(text, MaskKeys()))
    assert got.data.decode("utf-8") == text


def test_masking_matches_the_library_and_is_its_own_inverse() -> None:
    key = b"\x01\x80\xff\x7f"
    for data in (b"", b"a", b"abcd", b"abcdefg", bytes(range(256)) * 3):
        assert masked(key, data) == websocket.ABNF.mask(key, data)
        assert masked(key, masked(key, data)) == data


def test_each_frame_gets_a_fresh_key_and_the_pool_refills() -> None:
    keys = MaskKeys()
    drawn = [keys.next() for _ in range(KEYS_PER_READ * 2 + 3)]
    assert all(len(k) == 4 for k in drawn)
    # 4-byte random keys: a repeat among ~2,000 is possible but rare (birthday bound ~0.05 %);
    # what must not happen is the pool being reused after a refill
    assert drawn[:KEYS_PER_READ] != drawn[KEYS_PER_READ:2 * KEYS_PER_READ]
    frames = [text_frame("same text", keys) for _ in range(3)]
    assert len(set(frames)) == 3  # same text, different keys: different bytes on the wire
