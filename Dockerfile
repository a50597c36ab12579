# reactbin: the API + UI image. Build: `docker build -t reactbin .`; run it the way compose.yaml or
# deploy/kubernetes/ do (`reactbin migrate` once, then `reactbin serve`; `reactbin worker` for jobs).

# 1. The web UI (Vite build).
FROM node:20-slim AS ui
WORKDIR /src/ui
COPY ui/package.json ui/package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY ui/ ./
RUN npm run build

# 2. The wheel, with the built UI inside (the hatch hook finds ui/dist up to date and packs it).
FROM python:3.11-slim AS wheel
WORKDIR /src
COPY pyproject.toml README.md hatch_build.py ./
COPY src/ src/
COPY migrations/ migrations/
COPY ui/ ui/
COPY --from=ui /src/ui/dist ui/dist
RUN touch ui/dist/index.html && pip wheel --no-cache-dir --no-deps -w /wheels .

# 3. The runtime: slim Python, the wheel and its dependencies, a non-root user.
FROM python:3.11-slim
RUN useradd --system --uid 10001 --home-dir /app --create-home reactbin
COPY --from=wheel /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels
USER 10001
WORKDIR /app
ENV PYTHONUNBUFFERED=1 LOG_FORMAT=json
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD ["python", "-c", "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2).status != 200)"]
CMD ["reactbin", "serve", "--host", "0.0.0.0", "--port", "8000"]
