"""Tests for deriving account domains from websites and e-mail addresses."""

from __future__ import annotations

import pytest

from router.domains import FREE_MAIL, domain_from_email, domain_from_website, is_free_mail


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("HTTPS://WWW.ALBERTSONS.COM/#1", "albertsons.com"),
        ("www.acme.co.uk/about?x=1", "acme.co.uk"),
        ("acme.com:8080", "acme.com"),
        ("http://user@Shop.Acme.io/", "shop.acme.io"),
        ("https://user:secret@acme.com:443/login", "acme.com"),
        ("www2.acme.com", "acme.com"),
        ("WWW3.Acme.com.", "acme.com"),
        ("acme.com.", "acme.com"),
        ("  acme.com  ", "acme.com"),
        ("//acme.com/x", "acme.com"),
        ("acme.com?ref=a.b", "acme.com"),
        ("www.com", "www.com"),
        ("https://Bücher.de/", "bücher.de"),
    ],
)
def test_websites_become_lower_case_hostnames(value: str, expected: str) -> None:
    assert domain_from_website(value) == expected


@pytest.mark.parametrize(
    "value", ["", "n/a", "N/A", "localhost", "http://localhost:8000/", "see acme.com", "1.2.3.4"]
)
def test_websites_without_a_dotted_hostname_give_none(value: str) -> None:
    assert domain_from_website(value) is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("jane@Acme.COM", "acme.com"),
        (" jane@acme.co.uk ", "acme.co.uk"),
        ('"odd@name"@acme.io', "acme.io"),
        ("jane@gmail.com", "gmail.com"),
    ],
)
def test_email_domain_is_the_lower_case_part_after_the_last_at(value: str, expected: str) -> None:
    assert domain_from_email(value) == expected


@pytest.mark.parametrize("value", ["", "jane", "jane@localhost", "jane@", "jane@acme com"])
def test_email_without_at_or_dotted_domain_gives_none(value: str) -> None:
    assert domain_from_email(value) is None


@pytest.mark.parametrize(
    "domain",
    [
        "gmail.com",
        "googlemail.com",
        "yahoo.com",
        "yahoo.co.uk",
        "yahoo.fr",
        "ymail.com",
        "hotmail.com",
        "hotmail.co.uk",
        "outlook.com",
        "live.com",
        "msn.com",
        "aol.com",
        "icloud.com",
        "me.com",
        "mac.com",
        "proton.me",
        "protonmail.com",
        "gmx.de",
        "gmx.net",
        "web.de",
        "mail.ru",
        "yandex.ru",
        "qq.com",
        "163.com",
        "126.com",
        "zoho.com",
        "fastmail.com",
        "hey.com",
        "comcast.net",
        "verizon.net",
        "att.net",
        "orange.fr",
        "free.fr",
        "wanadoo.fr",
        "libero.it",
        "btinternet.com",
        "naver.com",
        "GMAIL.COM",
    ],
)
def test_well_known_free_mail_domains_are_free_mail(domain: str) -> None:
    assert is_free_mail(domain)


@pytest.mark.parametrize("domain", ["acme.com", "google.com", "mail.acme.com", "gmail.co"])
def test_company_domains_are_not_free_mail(domain: str) -> None:
    assert not is_free_mail(domain)


def test_free_mail_list_is_large_and_canonical() -> None:
    assert len(FREE_MAIL) >= 60
    assert all(domain == domain_from_website(domain) for domain in FREE_MAIL)
