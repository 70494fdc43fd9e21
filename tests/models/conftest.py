import pytest


def pytest_configure(config: pytest.Config) -> None:
    # Registered here as well as in the suite's configuration so that these
    # tests also run on their own under --strict-markers.
    config.addinivalue_line('markers', 'slow: a test that takes > 5 s')
