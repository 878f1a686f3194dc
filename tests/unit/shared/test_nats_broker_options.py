"""faststream's NatsBroker takes no `user`, `password`, `token` or `tls` argument: `broker_options`
hands the same credentials and TLS as `connection_options` over as its `security` object."""

from __future__ import annotations

import ssl

import pytest
from faststream.nats import NatsBroker
from faststream.nats.security import NatsSecurity, NatsToken, NatsUserPassword
from pydantic import SecretStr

from shared.nats import broker_options, connection_options
from shared.settings import CommonSettings

pytestmark = pytest.mark.unit


def test_user_and_password_become_the_brokers_security_and_the_broker_accepts_them() -> None:
    settings = CommonSettings(nats_user="notifications", nats_password=SecretStr("pw-0123456789"))
    options = broker_options(settings, name="notifications-consumer")
    assert not {"user", "password", "token", "tls"} & set(options)
    security = options["security"]
    assert isinstance(security, NatsUserPassword)
    assert (security.username, security.password) == ("notifications", "pw-0123456789")
    assert options["servers"] == connection_options(settings, name="x")["servers"]
    NatsBroker(**options)


def test_a_token_and_tls_without_credentials_are_kept_too() -> None:
    token = broker_options(CommonSettings(nats_token=SecretStr("t-0123456789")), name="n")["security"]
    assert isinstance(token, NatsToken)
    assert "security" not in broker_options(CommonSettings(), name="n")


def test_tls_alone_is_a_security_object_with_the_context() -> None:
    ca = ssl.get_default_verify_paths().cafile
    if not ca:
        pytest.skip("no system CA bundle to stand in for the cluster's CA")
    options = broker_options(CommonSettings(nats_tls_ca_file=ca), name="n")  # type: ignore[arg-type]
    security = options["security"]
    assert type(security) is NatsSecurity
    assert security.ssl_context is not None
