"""Settings refuse placeholder secrets outside development and never print secrets."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from shared.auth import Role, issue_dev_token
from shared.settings import DEV_JWT_SECRET, CommonSettings, Environment

pytestmark = pytest.mark.unit

STRONG = "k" * 40


@pytest.mark.parametrize(
    "secret", ["", "changeme", "secret", "development-secret", "Password", DEV_JWT_SECRET]
)
def test_production_refuses_a_placeholder_jwt_secret(secret: str) -> None:
    with pytest.raises(ValidationError, match="placeholder"):
        CommonSettings(environment=Environment.PRODUCTION, jwt_secret=secret)  # type: ignore[arg-type]


def test_production_refuses_a_short_jwt_secret() -> None:
    with pytest.raises(ValidationError, match="at least 32"):
        CommonSettings(environment=Environment.PRODUCTION, jwt_secret="short-but-not-a-placeholder")  # type: ignore[arg-type]


def test_production_with_rs256_needs_a_public_key_or_jwks() -> None:
    with pytest.raises(ValidationError, match="RS256 needs"):
        CommonSettings(environment=Environment.PRODUCTION, jwt_algorithm="RS256")


def test_production_refuses_a_placeholder_nats_password() -> None:
    with pytest.raises(ValidationError, match="placeholder"):
        CommonSettings(
            environment=Environment.PRODUCTION,
            jwt_secret=STRONG,  # type: ignore[arg-type]
            nats_password="changeme",  # type: ignore[arg-type]
        )


def test_development_accepts_the_default_secret() -> None:
    settings = CommonSettings(environment=Environment.DEVELOPMENT)
    assert settings.dev_tokens_allowed


def test_production_accepts_a_real_secret_but_refuses_development_tokens() -> None:
    settings = CommonSettings(environment=Environment.PRODUCTION, jwt_secret=STRONG)  # type: ignore[arg-type]
    assert not settings.dev_tokens_allowed
    with pytest.raises(PermissionError):
        issue_dev_token(settings, role=Role.AGENT, sub="a1")


def test_secrets_do_not_appear_in_repr_or_dump() -> None:
    settings = CommonSettings(jwt_secret=STRONG, nats_password="hunter2-nats")  # type: ignore[arg-type]
    assert STRONG not in repr(settings)
    assert "hunter2-nats" not in settings.model_dump_json()


def test_settings_come_from_prefixed_environment_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HELPDESK_NATS_URL", "nats://10.0.0.1:4222")
    monkeypatch.setenv("HELPDESK_ENVIRONMENT", "production")
    monkeypatch.setenv("HELPDESK_JWT_SECRET", STRONG)
    settings = CommonSettings()
    assert settings.nats_url == "nats://10.0.0.1:4222"
    assert settings.is_production


def test_production_from_environment_with_placeholder_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HELPDESK_ENVIRONMENT", "production")
    monkeypatch.setenv("HELPDESK_JWT_SECRET", "changeme")
    with pytest.raises(ValidationError):
        CommonSettings()
