"""The listing fast path's ``Link`` header (``listing_fastpath.next_link``) is what the route writes: the query's
parameters in ``MultiDict`` order with the cursor replaced, url-encoded, whether its prefix was kept or not."""

from __future__ import annotations

from urllib.parse import urlencode

from hypothesis import given
from hypothesis import strategies as st
from litestar.datastructures import MultiDict

from receiptcore.entrypoints.http import listing_fastpath
from receiptcore.entrypoints.http.listing_fastpath import LIST_PATH, next_link

KEYS = ["q", "status", "sort", "limit", "cursor", "tag", "date_from", "merchant"]
values = st.text(max_size=12)
queries = st.lists(st.tuples(st.sampled_from(KEYS), values), max_size=8, unique_by=lambda pair: pair[0])
cursors = st.text(alphabet="ABCxyz019-_", min_size=1, max_size=40) | st.text(min_size=1, max_size=20)


def routed_link(pairs: list[tuple[str, str]], cursor: str) -> bytes:
    """What the route (and this fast path before it kept prefixes) writes."""
    following = [(key, value) for key, value in MultiDict(pairs).multi_items() if key != "cursor"]
    following.append(("cursor", cursor))
    return f'<{LIST_PATH}?{urlencode(following)}>; rel="next"'.encode("latin-1")


@given(queries, cursors, cursors)
def test_the_link_is_the_routes_with_a_kept_prefix_or_without(
    pairs: list[tuple[str, str]], first: str, second: str
) -> None:
    cache: dict[tuple[tuple[str, str], ...], bytes] = {}
    assert next_link(cache, pairs, first) == routed_link(pairs, first)
    assert len(cache) == 1
    assert next_link(cache, pairs, second) == routed_link(pairs, second)  # from the kept prefix
    # another cursor in the query (a later page) keeps the same order of parameters
    later = [(key, second if key == "cursor" else value) for key, value in pairs]
    assert next_link(cache, later, first) == routed_link(later, first)


def test_the_kept_prefixes_are_bounded() -> None:
    cache: dict[tuple[tuple[str, str], ...], bytes] = {}
    for n in range(listing_fastpath.LINK_CACHE_SIZE + 5):
        next_link(cache, [("q", str(n))], "c")
    assert len(cache) <= listing_fastpath.LINK_CACHE_SIZE
