/**
 * MCIAS client for Node: gRPC over HTTP/2 with TLS (`@connectrpc/connect-node`).
 * Browsers use `@mcias/client/web` (gRPC-Web) with the same methods.
 */
import { readFileSync } from "node:fs";

import { createGrpcTransport } from "@connectrpc/connect-node";

import { BaseClient, type ClientOptions, baseUrl } from "./core.js";

export * from "./core.js";
export * from "./errors.js";

/** Options of the Node client. */
export interface NodeClientOptions extends ClientOptions {
  /** A PEM file to trust instead of the system roots (e.g. `mcias-dev/tls/ca.pem`). */
  caCert?: string;
}

/** An MCIAS client for Node over gRPC. `server` is `host:port` or `https://host:port`. */
export class Client extends BaseClient {
  constructor(server: string, opts: NodeClientOptions = {}) {
    const ca = opts.caCert !== undefined ? readFileSync(opts.caCert) : undefined;
    super(
      (interceptors) =>
        createGrpcTransport({
          baseUrl: baseUrl(server),
          interceptors,
          nodeOptions: ca !== undefined ? { ca } : {},
        }),
      opts,
    );
  }
}
