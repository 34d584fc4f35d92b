"""Derive an account's domain from the website or e-mail address on a lead."""

from __future__ import annotations

import re

FREE_MAIL: frozenset[str] = frozenset(
    {
        # Google, Microsoft, Yahoo, Apple, AOL
        "gmail.com",
        "googlemail.com",
        "hotmail.com",
        "hotmail.co.uk",
        "hotmail.fr",
        "hotmail.de",
        "hotmail.it",
        "hotmail.es",
        "outlook.com",
        "outlook.fr",
        "outlook.de",
        "live.com",
        "live.co.uk",
        "live.fr",
        "msn.com",
        "passport.com",
        "yahoo.com",
        "yahoo.co.uk",
        "yahoo.fr",
        "yahoo.de",
        "yahoo.it",
        "yahoo.es",
        "yahoo.ca",
        "yahoo.com.au",
        "yahoo.co.in",
        "yahoo.co.jp",
        "yahoo.com.br",
        "ymail.com",
        "rocketmail.com",
        "icloud.com",
        "me.com",
        "mac.com",
        "aol.com",
        "aim.com",
        # Privacy-focused and independent providers
        "proton.me",
        "protonmail.com",
        "protonmail.ch",
        "pm.me",
        "tutanota.com",
        "tuta.io",
        "zoho.com",
        "zohomail.com",
        "fastmail.com",
        "fastmail.fm",
        "hey.com",
        "mail.com",
        "email.com",
        "gmx.com",
        "gmx.de",
        "gmx.net",
        "gmx.at",
        "gmx.ch",
        # Europe
        "web.de",
        "t-online.de",
        "freenet.de",
        "orange.fr",
        "wanadoo.fr",
        "free.fr",
        "sfr.fr",
        "laposte.net",
        "libero.it",
        "virgilio.it",
        "tiscali.it",
        "btinternet.com",
        "sky.com",
        "virginmedia.com",
        "talktalk.net",
        "ntlworld.com",
        "seznam.cz",
        "wp.pl",
        "o2.pl",
        "onet.pl",
        "interia.pl",
        # Russia and Asia
        "mail.ru",
        "bk.ru",
        "inbox.ru",
        "list.ru",
        "yandex.ru",
        "yandex.com",
        "qq.com",
        "163.com",
        "126.com",
        "sina.com",
        "naver.com",
        "daum.net",
        "hanmail.net",
        "rediffmail.com",
        # North American ISPs
        "comcast.net",
        "verizon.net",
        "att.net",
        "sbcglobal.net",
        "bellsouth.net",
        "charter.net",
        "cox.net",
        "earthlink.net",
        "optonline.net",
        "shaw.ca",
        "rogers.com",
        "sympatico.ca",
        # Australia and New Zealand ISPs
        "bigpond.com",
        "optusnet.com.au",
        "xtra.co.nz",
    }
)

_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*://|^//")
_PATH = re.compile(r"[/?#]")
_WWW = re.compile(r"^www\d*\.")
# Labels of letters (any script), digits, hyphens or underscores; the last one not all digits.
_HOSTNAME = re.compile(r"(?:[\w-]+\.)+(?!\d+$)[\w-]+")


def _hostname(text: str) -> str | None:
    """`text` without a trailing dot if it is a dotted hostname, else None."""
    host = text.rstrip(".")
    return host if _HOSTNAME.fullmatch(host) else None


def domain_from_website(value: str) -> str | None:
    """Host of a website address, lower-cased, without scheme, 'www.', user, port or path.

    'HTTPS://WWW.Acme.com/#1' -> 'acme.com'. None when there is no dotted hostname, such
    as 'n/a' or 'localhost'. Unicode hosts are kept as written, lower-cased.
    """
    address = _SCHEME.sub("", value.strip().lower(), count=1)
    authority = _PATH.split(address, maxsplit=1)[0]
    host = authority.rpartition("@")[2].partition(":")[0]
    hostname = _hostname(host)
    if hostname is None:
        return None
    without_www = _WWW.sub("", hostname, count=1)
    return without_www if "." in without_www else hostname


def domain_from_email(value: str) -> str | None:
    """Domain of an e-mail address, lower-cased; None without an '@' or a dotted domain.

    Free-mail domains are returned too: check them with is_free_mail.
    """
    _, at, domain = value.strip().lower().rpartition("@")
    if not at:
        return None
    return _hostname(domain.strip())


def is_free_mail(domain: str) -> bool:
    """Whether `domain` belongs to a free-mail or consumer ISP provider."""
    return domain.lower() in FREE_MAIL
