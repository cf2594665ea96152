# One image for every face of the service: web, worker, beat and the migration job.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

# Dependencies change less often than the code: a layer of their own keeps rebuilds
# after a code change quick.
COPY pyproject.toml ./
RUN python -c 'import tomllib; \
        project = tomllib.load(open("pyproject.toml", "rb"))["project"]; \
        print(*project["dependencies"], sep="\n")' > /tmp/requirements.txt \
    && pip install -r /tmp/requirements.txt \
    && rm /tmp/requirements.txt

COPY . .
RUN pip install .

# The code resolves alembic.ini, migrations/ and the add-in's static files from the
# project root, so the checkout under /app is the copy that gets imported.
ENV PYTHONPATH=/app

# The code stays owned by root and read-only to the service; only the instance folder
# (beat's schedule, the demo simulator's certificates, anything a process writes
# locally) is the service's own; a volume mounted there starts out owned by it too.
RUN groupadd --system --gid 10001 interactions \
    && useradd --system --uid 10001 --gid interactions --home-dir /app --no-create-home \
        --shell /usr/sbin/nologin interactions \
    && mkdir -p /app/instance/tls \
    && chown -R interactions:interactions /app/instance

USER interactions

EXPOSE 3000

# Settings and secrets come from the environment at run time, never from the image.
CMD ["gunicorn", "--bind", "0.0.0.0:3000", "--workers", "3", "web:create_app()"]
