"""The [console] keys: off by default, never on without credentials, hashes in the documented shapes; and the
Authorization header check on its own."""
from __future__ import annotations

import base64

import pytest

from adapter.config import ConfigError, ConsoleConfig, load_config
from adapter.console.auth import authorised, challenges, sha256_hex

HASH = sha256_hex("geheim")


def load(tmp_path, text: str):
    path = tmp_path / "adapter.toml"
    path.write_text(text)
    return load_config(path, environ={})


def test_off_by_default(tmp_path):
    assert load(tmp_path, "").console == ConsoleConfig()
    assert not ConsoleConfig().enabled


def test_token_and_users(tmp_path):
    c = load(tmp_path, f'[console]\nenabled = true\ntoken_sha256 = "{HASH}"\n'
                       f'users = {{ anna = "sha256:{HASH.upper()}" }}\n').console
    assert c.enabled and c.token_sha256 == HASH and c.users == (("anna", HASH),)


@pytest.mark.parametrize("text, key", [
    ("[console]\nenabled = true\n", "console.enabled"),
    ('[console]\ntoken_sha256 = "abc"\n', "console.token_sha256"),
    (f'[console]\nusers = {{ anna = "{HASH}" }}\n', "console.users.anna"),
    (f'[console]\nusers = {{ anna = "md5:{HASH}" }}\n', "console.users.anna"),
    ('[console]\nusers = "anna"\n', "console.users"),
    ("[console]\nwachtwoord = 1\n", "console.wachtwoord"),
])
def test_bad_console_keys_are_named(tmp_path, text, key):
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        load(tmp_path, text)


def test_authorization_header():
    cfg = ConsoleConfig(enabled=True, token_sha256=HASH, users=(("anna", sha256_hex("pw")),))
    basic = lambda user, pw: "Basic " + base64.b64encode(f"{user}:{pw}".encode()).decode()  # noqa: E731
    assert authorised("Bearer geheim", cfg) and authorised("bearer  geheim ", cfg)
    assert authorised(basic("anna", "pw"), cfg)
    for header in (None, "", "Bearer", "Bearer geheim2", basic("anna", "PW"), basic("bob", "pw"), "Basic ***",
                   "geheim", f"Bearer {HASH}"):
        assert not authorised(header, cfg), header
    assert not authorised("Bearer geheim", ConsoleConfig(enabled=True, users=(("anna", HASH),)))
    assert len(challenges(cfg)) == 2
