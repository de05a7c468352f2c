"""Image URLs in a generation request: https only, and the whole value must be the URL."""

import pytest

from generation.domain import errors
from generation.domain.model import validate_inspiration


def test_https_urls_pass():
    assert validate_inspiration(["https://images.example/a.png"]) == ("https://images.example/a.png",)


@pytest.mark.parametrize(
    "url",
    [
        "http://images.example/a.png",
        "https://images.example/a.png\n",  # `$` alone would let a trailing newline through
        "https://images.example/a b.png",
    ],
)
def test_other_urls_are_refused(url):
    with pytest.raises(errors.InvalidArgument):
        validate_inspiration([url])
