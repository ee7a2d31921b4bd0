"""What the Docker image does, run here (CI has no Docker engine): collect static files
under the production settings into a fresh directory, then serve an admin page, the API
docs and their static files under those settings (whitenoise, manifest storage)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# The placeholders the Dockerfile's collectstatic step uses (it serves nothing).
BUILD_ENV = {
    "DJANGO_SETTINGS_MODULE": "config.settings.production",
    "SECRET_KEY": "build-only-collectstatic-placeholder-not-a-secret-000000000000",
    "ESIM_PROVIDER": "esimgo",
    "ESIMGO_API_KEY": "build-only",
    "PAYMENTS_BACKEND": "stripe",
    "STRIPE_SECRET_KEY": "build-only",
    "STRIPE_WEBHOOK_SECRET": "build-only",
    "SECURE_SSL_REDIRECT": "false",
}

SERVE = textwrap.dedent(
    """
    import re
    import django
    django.setup()
    from django.test import Client

    client = Client()
    for path in ("/admin/login/", "/api/docs/", "/api/schema/"):
        response = client.get(path)
        assert response.status_code == 200, (path, response.status_code)
    page = client.get("/admin/login/").content.decode()
    assets = re.findall(r'(?:href|src)="(/static/[^"]+)"', page)
    assert assets, "no static files on the admin page"
    for asset in assets:
        assert re.search(r"\\.[0-9a-f]{12}\\.", asset), f"not a manifest name: {asset}"
        response = client.get(asset)
        assert response.status_code == 200, (asset, response.status_code)
    docs = client.get("/api/docs/").content.decode()
    for asset in re.findall(r'"(/static/drf_spectacular_sidecar/[^"]+)"', docs):
        assert client.get(asset).status_code == 200, asset
    print("served", len(assets), "admin assets")
    """
)


def test_the_image_steps_serve_the_admin_and_docs_under_production_settings(tmp_path):
    env = {**os.environ, **BUILD_ENV, "STATIC_ROOT": str(tmp_path / "static")}
    env.pop("DEBUG", None)
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "-v", "0"],
        cwd=ROOT,
        env=env,
        check=True,
        timeout=240,
    )
    assert (tmp_path / "static" / "staticfiles.json").exists()  # the manifest production reads
    served = subprocess.run(
        [sys.executable, "-c", SERVE],
        cwd=ROOT,
        env={**env, "ALLOWED_HOSTS": "testserver"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert served.returncode == 0, served.stderr[-3000:]
    assert "served" in served.stdout
