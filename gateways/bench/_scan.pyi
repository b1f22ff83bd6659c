from collections.abc import Callable

def scan(
    chunk: bytes,
    start: int,
    keys: tuple[bytes, tuple[bytes, ...], bytes, tuple[bytes, ...], bytes, tuple[bytes, ...]],
    cases: dict[str, list[tuple[float, int, str | None]]],
    texts: dict[bytes, str],
    held: int,
    seconds: Callable[[bytes], float | None],
    text: Callable[[bytes], str],
    odd: type[Exception],
    counts: tuple[int, int, int],
    /,
) -> tuple[int, int, int]: ...
def plain_instant(raw: bytes, /) -> float | None: ...
