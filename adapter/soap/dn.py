"""Distinguished names (RFC 4514) compared the way an operator means them, for telling SBB's certificate apart.

A push is accepted only from the certificate subject configured as ``[pushes] sbb_subject``. Operators copy that
subject from wherever they find it (``openssl x509 -subject -nameopt RFC2253``, a proxy's log, SBB's e-mail), so
two spellings of one name must compare equal, and two different names never. What is compared, exactly:

- the set of attributes: each one as (attribute type, value); the type by its OID, so ``CN``, ``cn``,
  ``commonName`` and ``2.5.4.3`` are the same type;
- the order of the RDNs does not matter (``CN=x,O=y,C=NL`` equals ``C=NL,O=y,CN=x``, the order OpenSSL prints),
  nor does the grouping of multi-valued RDNs (``CN=x+OU=z`` is the same set as the RDNs ``CN=x`` and ``OU=z``),
  nor spaces around ``,``, ``+`` and ``=`` or at the ends of a value;
- values are compared character for character after RFC 4514 unescaping (``\\,`` is a comma): case and the spaces
  inside a value matter; an attribute that appears twice must appear twice in both.

The parsing itself is cryptography's (``x509.Name.from_rfc4514_string``); this module only removes the spacing and
the case of attribute types that it does not accept, and names a few types it does not know by name.
"""
from __future__ import annotations

from cryptography import x509
from cryptography.x509.oid import NameOID

from adapter.errors import InvalidSubject

# attribute type names (upper case) beyond cryptography's CN, L, ST, O, OU, C, STREET, DC, UID; these are the
# names OpenSSL prints, so a subject copied from `openssl x509 -subject -nameopt RFC2253` parses as it is
_TYPE_NAMES = {
    "COMMONNAME": NameOID.COMMON_NAME,
    "COUNTRYNAME": NameOID.COUNTRY_NAME,
    "LOCALITYNAME": NameOID.LOCALITY_NAME,
    "STATEORPROVINCENAME": NameOID.STATE_OR_PROVINCE_NAME,
    "STREETADDRESS": NameOID.STREET_ADDRESS,
    "ORGANIZATIONNAME": NameOID.ORGANIZATION_NAME,
    "ORGANIZATIONALUNITNAME": NameOID.ORGANIZATIONAL_UNIT_NAME,
    "ORGANIZATIONIDENTIFIER": NameOID.ORGANIZATION_IDENTIFIER,
    "SERIALNUMBER": NameOID.SERIAL_NUMBER,  # PKIoverheid certificates carry the OIN here
    "EMAILADDRESS": NameOID.EMAIL_ADDRESS,
    "E": NameOID.EMAIL_ADDRESS,
    "GIVENNAME": NameOID.GIVEN_NAME,
    "SN": NameOID.SURNAME,
    "SURNAME": NameOID.SURNAME,
    "TITLE": NameOID.TITLE,
    "POSTALCODE": NameOID.POSTAL_CODE,
    "DOMAINCOMPONENT": NameOID.DOMAIN_COMPONENT,
    "USERID": NameOID.USER_ID,
}

Key = tuple[tuple[str, str], ...]


def _split(text: str, separators: str, limit: int = -1) -> list[str]:
    """Split at unescaped separator characters (a backslash escapes the next character)."""
    parts, current, escaped = [], [], False
    for ch in text:
        if escaped:
            current.append(ch)
            escaped = False
        elif ch == "\\":
            current.append(ch)
            escaped = True
        elif ch in separators and limit != 0:
            parts.append("".join(current))
            current = []
            limit -= 1
        else:
            current.append(ch)
    parts.append("".join(current))
    return parts


def _strip_value(value: str) -> str:
    """Leading and trailing spaces are not part of an RFC 4514 value unless escaped (``\\ ``)."""
    value = value.lstrip(" ")
    stripped = value.rstrip(" ")
    backslashes = len(stripped) - len(stripped.rstrip("\\"))
    return stripped + " " if backslashes % 2 and len(stripped) < len(value) else stripped


def _canonical(text: str) -> str:
    """The same name written as cryptography's parser wants it: no spacing, upper-case attribute types."""
    rdns = []
    for rdn in _split(text, ","):
        attributes = []
        for attribute in _split(rdn, "+"):
            parts = _split(attribute, "=", limit=1)
            if len(parts) != 2 or not parts[0].strip():
                raise InvalidSubject(f"{attribute.strip()!r} is not TYPE=value")
            kind, value = parts[0].strip(), _strip_value(parts[1])
            attributes.append(f"{kind if kind[:1].isdigit() else kind.upper()}={value}")
        rdns.append("+".join(attributes))
    return ",".join(rdns)


def parse(text: str) -> x509.Name:
    """An RFC 4514 string as a Name; InvalidSubject (saying why) when it is not one."""
    if not text or not text.strip():
        raise InvalidSubject("empty")
    if text.lstrip().startswith("/"):
        raise InvalidSubject("this is OpenSSL's old /C=../O=.. form; write it as RFC 4514: CN=..,O=..,C=..")
    try:
        name = x509.Name.from_rfc4514_string(_canonical(text), attr_name_overrides=_TYPE_NAMES)
    except InvalidSubject:
        raise
    except ValueError as exc:
        raise InvalidSubject(str(exc) or "not an RFC 4514 distinguished name") from None
    if not len(name):
        raise InvalidSubject("no attributes")
    return name


def key(name: x509.Name) -> Key:
    """What is compared: the attributes as (OID, value) pairs, in a fixed order."""
    return tuple(sorted((attribute.oid.dotted_string, str(attribute.value)) for attribute in name))


def text(name: x509.Name) -> str:
    """For logs and faults: RFC 4514, as the certificate has it."""
    return name.rfc4514_string()
