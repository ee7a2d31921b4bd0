"""Production settings refuse unsafe configurations and pass `check --deploy`."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SAFE = {
    "DJANGO_SETTINGS_MODULE": "config.settings.production",
    "SECRET_KEY": "p" * 20 + "-production-secret-key-that-is-long-enough-4x9!",
    "DEBUG": "false",
    "ALLOWED_HOSTS": "api.ttelgo.example",
    "ESIM_PROVIDER": "esimgo",
    "ESIMGO_API_KEY": "test-esimgo-key",
    "PAYMENTS_BACKEND": "stripe",
    "STRIPE_SECRET_KEY": "sk_test_dummy",
    "STRIPE_WEBHOOK_SECRET": "whsec_dummyproductionsecret",
    "DATABASE_URL": "sqlite:////tmp/ttelgo-settings-test.sqlite3",
}


def run_manage(*args, **overrides):
    env = {k: v for k, v in os.environ.items() if k not in SAFE and k != "REDIS_URL"}
    env.update(SAFE)
    env.update(overrides)
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_safe_production_configuration_passes_check_deploy():
    result = run_manage("check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    ("override", "complaint"),
    [
        ({"DEBUG": "true"}, "DEBUG must be off"),
        ({"SECRET_KEY": "django-insecure-ttelgo-local-development-only"}, "SECRET_KEY"),
        ({"SECRET_KEY": "short"}, "SECRET_KEY"),
        ({"ESIM_PROVIDER": "sandbox"}, "ESIM_PROVIDER=sandbox"),
        ({"PAYMENTS_BACKEND": "sandbox"}, "PAYMENTS_BACKEND=sandbox"),
        ({"STRIPE_SECRET_KEY": ""}, "STRIPE_SECRET_KEY"),
        ({"WEBHOOKS_ALLOW_PRIVATE_URLS": "true"}, "WEBHOOKS_ALLOW_PRIVATE_URLS"),
        ({"CONSOLE_REQUIRE_MFA": "false"}, "CONSOLE_REQUIRE_MFA must be on"),
    ],
)
def test_production_refuses_unsafe_configuration(override, complaint):
    result = run_manage("check", **override)
    assert result.returncode != 0
    assert "Unsafe production configuration" in result.stderr
    assert complaint in result.stderr


def test_bad_provider_value_fails_loudly():
    result = run_manage("check", ESIM_PROVIDER="carrier-pigeon")
    assert result.returncode != 0
    assert "ESIM_PROVIDER" in result.stderr


def _setting(module: str, name: str) -> str:
    env = {k: v for k, v in os.environ.items() if k not in SAFE and k != name}
    env["DJANGO_SETTINGS_MODULE"] = module
    code = (
        f"import django; django.setup(); from django.conf import settings; print(settings.{name})"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()[-1]


def test_the_worker_and_the_web_process_default_to_the_same_settings():
    """A Celery worker started without DJANGO_SETTINGS_MODULE must not fall back to the
    local settings, which let webhooks reach private addresses."""
    for first in ("config.celery", "config.wsgi"):
        env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
        env.update(SAFE)
        del env["DJANGO_SETTINGS_MODULE"]
        result = subprocess.run(
            [
                sys.executable,
                "-c",
                f"import os, {first}; print(os.environ['DJANGO_SETTINGS_MODULE'])",
            ],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip().splitlines()[-1] == "config.settings.production"


def test_private_webhook_urls_are_allowed_under_make_run_only():
    assert _setting("config.settings.local", "WEBHOOKS_ALLOW_PRIVATE_URLS") == "True"
    assert _setting("config.settings.test", "WEBHOOKS_ALLOW_PRIVATE_URLS") == "False"
