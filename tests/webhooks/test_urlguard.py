import pytest
from django.test import override_settings

from ttelgo.errors import DomainError
from webhooks import urlguard


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/hook",
        "http://localhost:8000/hook",
        "http://[::1]/hook",
        "http://10.0.0.5/hook",
        "http://192.168.1.1/hook",
        "http://172.16.0.1/hook",
        "http://169.254.169.254/latest/meta-data",  # cloud metadata (link-local)
        "http://0.0.0.0/hook",
        "http://224.0.0.1/hook",  # multicast
        "http://240.0.0.1/hook",  # reserved
        "http://[::ffff:127.0.0.1]/hook",  # IPv4-mapped loopback
        "http://100.64.0.1/hook",  # carrier-grade NAT
        "ftp://93.184.215.14/hook",
        "https://user:pw@93.184.215.14/hook",
    ],
)
def test_private_loopback_link_local_and_odd_urls_are_refused(url):
    with pytest.raises(DomainError) as exc:
        urlguard.url_check(url)
    assert exc.value.code == "validation_error"


def test_a_public_address_is_accepted():
    urlguard.url_check("https://93.184.215.14/hooks")


def test_a_hostname_is_judged_by_every_address_it_resolves_to(monkeypatch):
    monkeypatch.setattr(urlguard, "resolve", lambda host, port: ["93.184.215.14", "10.1.2.3"])
    with pytest.raises(DomainError):
        urlguard.url_check("https://hooks.vendor.example/x")
    monkeypatch.setattr(urlguard, "resolve", lambda host, port: ["93.184.215.14"])
    urlguard.url_check("https://hooks.vendor.example/x")


def test_an_unresolvable_host_is_refused(monkeypatch):
    def fail(host, port):
        raise OSError("no such host")

    monkeypatch.setattr(urlguard, "resolve", fail)
    with pytest.raises(DomainError):
        urlguard.url_check("https://nowhere.invalid/x")


@override_settings(WEBHOOKS_ALLOW_PRIVATE_URLS=True)
def test_the_development_setting_allows_private_addresses():
    urlguard.url_check("http://127.0.0.1:9000/hook")
