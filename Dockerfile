FROM python:3.12-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 DJANGO_SETTINGS_MODULE=config.settings.production
WORKDIR /app
RUN useradd --create-home --uid 1000 ttelgo
COPY pyproject.toml ./
COPY . .
RUN pip install --no-cache-dir . \
 && SECRET_KEY=build-only-collectstatic-key-000000000000000000000000000000 \
    DJANGO_SETTINGS_MODULE=config.settings.local python manage.py collectstatic --noinput -v 0
USER ttelgo
EXPOSE 8000
CMD ["gunicorn", "config.wsgi", "-c", "config/gunicorn.conf.py"]
