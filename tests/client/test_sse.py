"""The event-stream decoder, against the HTML standard's rules and any chunking."""

from __future__ import annotations

import pytest

from session_runtime.client.sse import Comment, EventStreamDecoder, ServerSentEvent

STREAM = (
    b": hello\n\n"
    b'id: 1\nevent: snapshot\ndata: {"a": 1}\n\n'
    b": keep-alive\n\n"
    b'id: 2\r\nevent: snapshot\r\ndata: {"a":\r\ndata:  2}\r\n\r\n'
    b'event: end\rdata: {"status": "completed", "version": 2}\r\r'
)
EXPECTED = [
    Comment("hello"),
    ServerSentEvent("snapshot", '{"a": 1}', "1"),
    Comment("keep-alive"),
    ServerSentEvent("snapshot", '{"a":\n 2}', "2"),
    ServerSentEvent("end", '{"status": "completed", "version": 2}', "2"),
]


def decode(*chunks: bytes) -> list[ServerSentEvent | Comment]:
    decoder = EventStreamDecoder()
    items = [item for chunk in chunks for item in decoder.feed(chunk)]
    return items + decoder.close()


def test_a_whole_stream() -> None:
    assert decode(STREAM) == EXPECTED


@pytest.mark.parametrize("size", [1, 2, 3, 7, 64])
def test_any_chunking_gives_the_same_events(size: int) -> None:
    chunks = [STREAM[i : i + size] for i in range(0, len(STREAM), size)]
    assert decode(*chunks) == EXPECTED


def test_a_crlf_split_between_chunks_is_one_line_end() -> None:
    assert decode(b"data: a\r", b"\ndata: b\r", b"\n\r", b"\n") == [ServerSentEvent(data="a\nb")]


def test_a_final_lone_cr_ends_the_line() -> None:
    assert decode(b"data: a\n\r") == [ServerSentEvent(data="a")]


def test_other_unicode_line_breaks_stay_in_the_data() -> None:
    text = 'data: {"note": "a\u2028b\u0085c\x0bd\x1ce"}\n\n'
    assert decode(text.encode()) == [ServerSentEvent(data=text[6:-2])]


def test_utf8_split_inside_a_character() -> None:
    encoded = "data: café ☕\n\n".encode()
    cut = encoded.index("☕".encode()) + 1
    assert decode(encoded[:cut], encoded[cut:]) == [ServerSentEvent(data="café ☕")]


def test_a_leading_bom_is_skipped_once() -> None:
    assert decode(b"\xef\xbb\xbfdata: x\n\n") == [ServerSentEvent(data="x")]
    assert decode(b"\xef\xbb", b"\xbfdata: x\n\n") == [ServerSentEvent(data="x")]


def test_the_event_id_persists_and_a_nul_id_is_ignored() -> None:
    items = decode(b"id: 7\ndata: a\n\ndata: b\n\nid: 8\x00\ndata: c\n\nid\ndata: d\n\n")
    assert [(item.data, item.id) for item in items if isinstance(item, ServerSentEvent)] == [
        ("a", "7"),
        ("b", "7"),
        ("c", "7"),
        ("d", ""),
    ]


def test_fields_without_data_dispatch_nothing() -> None:
    assert decode(b"event: snapshot\nid: 3\n\n") == []
    decoder = EventStreamDecoder()
    decoder.feed(b"id: 3\n\n")
    assert decoder.last_event_id == "3"


def test_field_forms_and_unknown_fields() -> None:
    items = decode(b"data\ndata:x\ndata:  y\nfoo: bar\n:\n\n")
    assert items == [Comment(""), ServerSentEvent(data="\nx\n y")]


def test_retry_sets_the_reconnection_time() -> None:
    decoder = EventStreamDecoder()
    decoder.feed(b"retry: 1500\n\nretry: soon\n\n")
    assert decoder.retry == 1500


def test_an_unfinished_event_is_dropped_at_the_end() -> None:
    assert decode(b"data: a\n\ndata: b\n") == [ServerSentEvent(data="a")]
    assert decode(b"data: a\n\ndata: b") == [ServerSentEvent(data="a")]
