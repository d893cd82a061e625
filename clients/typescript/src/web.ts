/**
 * MCIAS client for browsers: gRPC-Web (`@connectrpc/connect-web`) through
 * the browser's fetch, which does TLS with the browser's trust store.
 */
import { createGrpcWebTransport } from "@connectrpc/connect-web";

import { BaseClient, type ClientOptions, baseUrl } from "./core.js";

export * from "./core.js";
export * from "./errors.js";

/** An MCIAS client for browsers over gRPC-Web. `server` is `host:port` or a URL. */
export class Client extends BaseClient {
  constructor(server: string, opts: ClientOptions = {}) {
    super((interceptors) => createGrpcWebTransport({ baseUrl: baseUrl(server), interceptors }), opts);
  }
}
