# breakglass container image.
#
#   docker build -t breakglass .
#   docker run --rm -p 8080:8080 -e BREAKGLASS_REDIS_URL=redis://<redis-host>:6379 breakglass
#
# The default command serves the demo config (public demo secrets): mount your own config and
# point `serve --config` at it for anything real. See docs/deployment/docker.md.

# --- build -----------------------------------------------------------------------------------
FROM rust:1-bookworm AS builder
WORKDIR /src

# Only what the build reads. Cargo checks every target named in Cargo.toml, so benches/ comes too.
COPY Cargo.toml Cargo.lock ./
COPY src ./src
COPY benches ./benches

# The cache mounts keep downloaded crates and compiled dependencies between builds (BuildKit).
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin breakglass \
 && install -D -m 0755 target/release/breakglass /out/breakglass

# --- run -------------------------------------------------------------------------------------
FROM debian:bookworm-slim

RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --user-group --no-create-home \
      --home-dir /nonexistent --shell /usr/sbin/nologin breakglass

COPY --from=builder /out/breakglass /usr/local/bin/breakglass
COPY config/ /etc/breakglass/

# The built-in default listens on 127.0.0.1 only, which nothing outside the container can reach.
ENV BREAKGLASS_LISTEN=0.0.0.0:8080

USER breakglass:breakglass
EXPOSE 8080
ENTRYPOINT ["breakglass"]
CMD ["serve", "--config", "/etc/breakglass/demo.toml"]
