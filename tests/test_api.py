"""The top-level notebook API: every advertised name resolves, nothing else does."""

import pytest

import pigmentmap


def test_every_advertised_name_resolves():
    for name in pigmentmap.__all__:
        assert getattr(pigmentmap, name) is not None, name
    assert pigmentmap.DEFAULT_MODEL == "universal"
    assert callable(pigmentmap.identify) and callable(pigmentmap.read_results)


def test_an_unknown_name_is_an_attribute_error():
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        pigmentmap.nothing  # noqa: B018
