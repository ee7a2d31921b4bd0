# syntax=docker/dockerfile:1
# Two stages: build the virtualenv and the static files, then a slim runtime that runs as
# a non-root user. tests/core/test_image_steps.py runs the same collectstatic and serves an
# admin page and the API docs under production settings.

FROM python:3.12-slim-bookworm AS build
ENV PYTHONDONTWRITEBYTECODE=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /app
RUN python -m venv /venv
# The locked runtime packages first (a layer that changes only with the lock), then the
# project without resolving anything again.
COPY requirements.lock ./
RUN /venv/bin/pip install --require-hashes -r requirements.lock
COPY . .
# Static files are collected under the production settings (whitenoise's manifest). The
# values below exist only for this step, which serves nothing; they are not in the image.
RUN /venv/bin/pip install --no-deps . \
 && DJANGO_SETTINGS_MODULE=config.settings.production \
    STATIC_ROOT=/app/staticfiles \
    SECRET_KEY=build-only-collectstatic-placeholder-not-a-secret-000000000000 \
    ESIM_PROVIDER=esimgo ESIMGO_API_KEY=build-only \
    PAYMENTS_BACKEND=stripe STRIPE_SECRET_KEY=build-only STRIPE_WEBHOOK_SECRET=build-only \
    /venv/bin/python manage.py collectstatic --noinput -v 0

FROM python:3.12-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PATH=/venv/bin:$PATH \
    DJANGO_SETTINGS_MODULE=config.settings.production STATIC_ROOT=/app/staticfiles
RUN useradd --create-home --uid 1000 ttelgo
WORKDIR /app
COPY --from=build /venv /venv
COPY --from=build /app /app
USER 1000:1000
EXPOSE 8000
CMD ["gunicorn", "config.wsgi", "-c", "config/gunicorn.conf.py"]
