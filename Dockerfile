# syntax=docker/dockerfile:1
# guidd: one compiled executable (SPEC §1) in a glibc-only runtime image.
#   docker build -t guidd .
#   docker run -p 8888:8888 -v guidd-data:/data guidd

# ---- build: install dependencies and compile src/main.ts to one executable ----------
# Pinned to the Bun that package.json's devDependency "bun" brings (1.4.5), so the image
# compiles with the same Bun the tests ran. The image is Debian-based (glibc).
FROM oven/bun:1.4.5 AS build
WORKDIR /app

# The lockfile is npm's package-lock.json (there is no bun.lock). `bun install` migrates
# it on the fly and, with --frozen-lockfile, installs exactly the versions it pins and
# fails if package.json disagrees with it (checked with bun 1.4.5). npm is not in this
# image, so `npm ci` is not an option. --production: compiling needs only the runtime
# dependencies; the dev ones (typescript, type definitions, and the `bun` npm package,
# a second ~100 MB Bun) are for typechecking and tests.
COPY package.json package-lock.json ./
RUN bun install --frozen-lockfile --production

COPY tsconfig.json ./
COPY src ./src
# package.json's "build" script: the same flags the binary smoke test (test/e2e/binary.test.ts) uses.
# The source map is embedded in the executable, so dist/guidd.map is not shipped.
RUN bun run build \
 && mkdir -p /out/data \
 && cp dist/guidd /out/guidd

# ---- runtime: glibc and nothing else (no shell, no package manager, no node_modules) ----
# The executable links only libc, libm, libpthread, libdl (ldd); bun:sqlite is built in.
FROM gcr.io/distroless/base-debian12:nonroot
WORKDIR /app
COPY --from=build /out/guidd /app/guidd
# The SQLite file (and its -wal/-shm companions) live in /data, which must be writable by
# the non-root user (65532, "nonroot"). COPY --chown creates /data owned by that user, and
# a new named volume mounted there starts as a copy of it, ownership included.
COPY --from=build --chown=65532:65532 /out/data /data

ENV SQLITE_PATH=/data/guidd.sqlite \
    HOST=0.0.0.0 \
    PORT=8888
VOLUME ["/data"]
EXPOSE 8888
USER 65532:65532

# The runtime image has no curl or shell: the binary checks its own /healthz
# (src/main.ts, --healthcheck: exit 0 when it answers 200, else 1) on $PORT.
HEALTHCHECK --interval=10s --timeout=5s --start-period=5s --retries=3 CMD ["/app/guidd", "--healthcheck"]

# SIGTERM (docker stop) drains in-flight requests and exits 0 within SHUTDOWN_TIMEOUT_MS (10 s).
STOPSIGNAL SIGTERM
ENTRYPOINT ["/app/guidd"]
