# courier: one image for every role; the command picks the role.
#   docker build -t courier .
#   docker run courier dist/cmd/worker/main.js --config configs/worker.yaml
# Multi-stage: the build stage has the compilers for native modules (better-sqlite3); the runtime stage
# has only production dependencies and the compiled output, and runs as the unprivileged `node` user.

FROM node:20-bookworm-slim AS build
WORKDIR /app
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY cmd cmd
COPY internal internal
COPY scripts scripts
COPY test test
COPY configs configs
COPY web web
RUN npm run build && npm prune --omit=dev

FROM node:20-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build --chown=node:node /app/node_modules node_modules
COPY --from=build --chown=node:node /app/dist dist
COPY --from=build --chown=node:node /app/configs configs
COPY --from=build --chown=node:node /app/package.json package.json
RUN mkdir -p /app/data && chown node:node /app/data
USER node
# 8080 business API, 8081 dispatcher API, 8090 worker WebSocket, 8092 worker gRPC
EXPOSE 8080 8081 8090 8092
ENTRYPOINT ["node", "--enable-source-maps"]
CMD ["dist/cmd/courier/main.js", "--config", "configs/courier.yaml"]
