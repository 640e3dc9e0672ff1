# One image for every tasklens service: `docker run tasklens collector`, `... api`, `... up`.
# Stage 1 builds the page, stage 2 the binary; the runtime stage holds only the binary and the
# built page.

FROM node:20-bookworm-slim AS ui
WORKDIR /src/ui
COPY ui/package.json ui/package-lock.json ./
# `npm install` keeps to package-lock.json; see scripts/test.sh for why not `npm ci`.
RUN npm install --no-audit --no-fund
COPY ui/ ./
COPY dashboard-api/openapi.json /src/dashboard-api/openapi.json
RUN npm run build

FROM rust:1.95-bookworm AS rust
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p tasklens && cp target/release/tasklens /usr/local/bin/tasklens

FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --home /var/lib/tasklens --create-home tasklens
COPY --from=rust /usr/local/bin/tasklens /usr/local/bin/tasklens
COPY --from=ui /src/ui/dist /usr/share/tasklens/ui
ENV TASKLENS_UI_DIR=/usr/share/tasklens/ui \
    TASKLENS_DATA_DIR=/var/lib/tasklens
USER tasklens
WORKDIR /var/lib/tasklens
ENTRYPOINT ["tasklens"]
CMD ["--help"]
