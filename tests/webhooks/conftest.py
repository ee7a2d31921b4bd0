import pytest

from tests.vendors.factories import vendor_client


@pytest.fixture
def vendor_api(db):
    """Client of an active prepaid vendor."""
    return vendor_client()


@pytest.fixture
def other_vendor_api(db):
    return vendor_client()
