# Build: docker build -t toolregistry .
# Run:   docker run -p 8080:8080 -v toolregistry-data:/data toolregistry
FROM debian:12 AS build
RUN apt-get update && apt-get install -y --no-install-recommends \
      g++ cmake make libboost-json1.81-dev libboost-url1.81-dev libssl-dev libsqlite3-dev \
      libpq-dev libcurl4-openssl-dev libspdlog-dev libfmt-dev libcli11-dev libvalijson-dev libyaml-cpp-dev \
      ca-certificates \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DTOOLREGISTRY_TESTS=OFF \
    && cmake --build build -j"$(nproc)"

FROM debian:12-slim
RUN apt-get update && apt-get install -y --no-install-recommends \
      libboost-json1.81.0 libboost-url1.81.0 libssl3 libsqlite3-0 libpq5 libcurl4 libspdlog1.10 \
      libfmt9 libyaml-cpp0.7 ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --home /data toolregistry && mkdir /data && chown toolregistry /data
COPY --from=build /src/build/toolregistry /usr/bin/toolregistry
USER toolregistry
WORKDIR /data
ENV TOOLREGISTRY_LISTEN=0.0.0.0:8080 TOOLREGISTRY_DATABASE=sqlite:/data/toolregistry.db
EXPOSE 8080
VOLUME ["/data"]
ENTRYPOINT ["/usr/bin/toolregistry"]
CMD ["serve"]
