import ipaddress

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


# IPv6 transition forms carry an IPv4 address a relay or translator may deliver to: judged
# by that address (public: accepted; private, loopback, link-local: refused).
TRANSITION_FORMS = [
    # (form, carries a private address, carries a public one)
    ("6to4 2002::/16", "2002:7f00:1::", "2002:5db8:d70e::"),
    ("6to4, link-local", "2002:a9fe:a9fe::1", "2002:5db8:d70e:1::1"),
    ("NAT64 64:ff9b::/96", "64:ff9b::7f00:1", "64:ff9b::5db8:d70e"),
    ("NAT64, private", "64:ff9b::a00:5", "64:ff9b::808:808"),
    # Teredo: server 65.54.227.120, client stored inverted (127.0.0.1 -> 80ff:fffe)
    (
        "Teredo client",
        "2001:0:4136:e378:8000:63bf:80ff:fffe",
        "2001:0:4136:e378:8000:63bf:a247:28f1",
    ),
    (
        "Teredo client, metadata",
        "2001:0:4136:e378:8000:63bf:5601:5601",
        "2001:0:4136:e378:8000:63bf:f7f7:f7f7",
    ),
    ("Teredo server", "2001:0:a00:1:8000:63bf:a247:28f1", "2001:0:808:808:8000:63bf:a247:28f1"),
    ("IPv4-mapped ::ffff:0:0/96", "::ffff:7f00:1", "::ffff:5db8:d70e"),
    ("IPv4-compatible ::/96", "::127.0.0.1", "::93.184.215.14"),
    ("IPv4-compatible, private", "::c0a8:101", "::808:808"),
]


@pytest.mark.parametrize(("form", "private", "public"), TRANSITION_FORMS)
def test_ipv6_transition_forms_are_judged_by_the_ipv4_address_they_carry(form, private, public):
    with pytest.raises(DomainError) as exc:
        urlguard.url_check(f"http://[{private}]/hook")
    assert exc.value.code == "validation_error", form
    checked = urlguard.url_check(f"http://[{public}]/hook")
    assert [ipaddress.ip_address(a) for a in checked] == [ipaddress.ip_address(public)]


@pytest.mark.parametrize("address", ["64:ff9b:1::7f00:1", "64:ff9b:1::5db8:d70e"])
def test_the_local_use_nat64_prefix_is_refused_whole(address):
    with pytest.raises(DomainError):
        urlguard.url_check(f"http://[{address}]/hook")


@pytest.mark.parametrize(("form", "private", "public"), TRANSITION_FORMS)
def test_a_name_resolving_to_a_transition_form_is_judged_by_the_ipv4_it_carries(
    monkeypatch, form, private, public
):
    monkeypatch.setattr(urlguard, "resolve", lambda host, port: [private])
    with pytest.raises(DomainError):
        urlguard.url_check("https://hooks.vendor.example/x")
    monkeypatch.setattr(urlguard, "resolve", lambda host, port: [public])
    assert urlguard.url_check("https://hooks.vendor.example/x") == [public]
