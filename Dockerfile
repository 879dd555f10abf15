# The call-center app: web console + dialer (`callcenter serve`), also used for `callcenter migrate`.
# docker-compose.yml builds it; alone: docker build -t callcenter . && docker run -p 8080:8080 callcenter
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# ffmpeg: pydub converts call recordings with it.
RUN apt-get update \
    && apt-get install -y --no-install-recommends ffmpeg \
    && rm -rf /var/lib/apt/lists/*

# uid/gid 1000 = the asterisk user of the andrius/asterisk image, so the app can read the recordings Asterisk
# writes into the shared volume (/var/spool/asterisk/monitor, mode 0750).
ARG APP_UID=1000
ARG APP_GID=1000
RUN groupadd --gid "${APP_GID}" callcenter \
    && useradd --uid "${APP_UID}" --gid "${APP_GID}" --create-home --shell /usr/sbin/nologin callcenter

WORKDIR /app
COPY . .
RUN pip install .

USER callcenter

# 8080: web console and API (web.port). 4573: FastAGI server for Asterisk IVR flows (agi.port).
EXPOSE 8080 4573

CMD ["callcenter", "serve"]
